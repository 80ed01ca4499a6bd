"""The docs match the code: every setting, endpoint and CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from deconfliction.cli import app as cli_app
from deconfliction.config import SETTINGS
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.name}`" in text, f"setting {setting.name} missing from docs/configuration.md"
        assert f"`{setting.env}`" in text, f"{setting.env} missing from docs/configuration.md"


def test_every_endpoint_is_documented(api: Api) -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    spec = api.client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method in operations:
            needle = f"{method.upper()} {path}"
            assert needle in text, f"{needle} is not documented in docs/api.md"


def _commands() -> list[str]:
    root = get_command(cli_app)
    names = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            names.extend(f"{name} {s}" for s in sub)
        else:
            names.append(name)
    return names


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_is_documented(command: str) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert re.search(rf"`deconf {re.escape(command)}\b", text), f"`deconf {command}` missing from docs/cli.md"


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
