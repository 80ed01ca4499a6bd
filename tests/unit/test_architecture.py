"""Imports go one way: domain ← index ← services ← api/cli; only bootstrap names a concrete store; no I/O in domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "deconfliction"
IO_MODULES = {"sqlite3", "socket", "http", "urllib", "httpx", "fastapi", "starlette", "uvicorn", "psycopg",
              "subprocess", "requests", "asyncio", "typer", "rich"}  # fmt: skip
FORBIDDEN = {
    "domain": {"deconfliction.index", "deconfliction.services", "deconfliction.storage", "deconfliction.api",
               "deconfliction.cli", "deconfliction.bootstrap", "deconfliction.config"},
    "ledger": {"deconfliction.index", "deconfliction.services", "deconfliction.storage", "deconfliction.api",
               "deconfliction.cli", "deconfliction.bootstrap", "deconfliction.config"},
    "adapters": {"deconfliction.api", "deconfliction.cli", "deconfliction.bootstrap", "deconfliction.storage.sqlite"},
    "index": {"deconfliction.services", "deconfliction.storage", "deconfliction.api", "deconfliction.cli",
              "deconfliction.bootstrap"},
    "storage": {"deconfliction.services", "deconfliction.api", "deconfliction.cli", "deconfliction.bootstrap"},
    "services": {"deconfliction.api", "deconfliction.cli", "deconfliction.bootstrap",
                 "deconfliction.storage.sqlite"},
    "api": {"deconfliction.cli", "deconfliction.bootstrap", "deconfliction.storage.sqlite"},
}  # fmt: skip


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_one_way(layer: str) -> None:
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in imports_of(path):
            for banned in FORBIDDEN[layer]:
                assert not (name == banned or name.startswith(banned + ".")), f"{path.name} imports {name}"


PURE_IO_SUBMODULES = {"urllib.parse"}  # parses strings; opens nothing


@pytest.mark.parametrize("layer", ["domain", "ledger"])
def test_pure_layers_do_no_io(layer: str) -> None:
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in imports_of(path):
            if name in PURE_IO_SUBMODULES:
                continue
            assert name.split(".")[0] not in IO_MODULES, f"{layer}/{path.name} imports {name}"


def test_only_bootstrap_names_the_concrete_store() -> None:
    users = [p.name for p in PACKAGE.rglob("*.py") if "deconfliction.storage.sqlite" in imports_of(p)]
    assert users == ["bootstrap.py"]
