"""docs/ledger.md is exact: its table of entry types and its independent verifier's RULES are the code's rules, row
for row, and that verifier — built from the page alone — refuses every entry the project's verifier refuses."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from deconfliction.ledger.entry import Change
from deconfliction.ledger.rules import PARTY, RULES
from deconfliction.ledger.verify import verify_bytes
from tests.unit import test_ledger_rules as cases
from tests.unit.ledger_chain import build_chain

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text(encoding="utf-8")


def sample_code() -> str:
    """The independent verifier printed in docs/ledger.md."""
    section = DOC.split("## An independent verifier", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def sample_module() -> types.ModuleType:
    module = types.ModuleType("verify_ledger")
    exec(compile(sample_code(), "docs/ledger.md", "exec"), module.__dict__)
    return module


def code_rules() -> dict[str, tuple[Any, ...]]:
    """The code's rules in the form the sample verifier writes them."""
    return {
        type_: (
            rule.actor,
            rule.subject,
            {name: list(allowed) for name, allowed in rule.detail.items()},
            None if rule.purpose is None else rule.purpose.value,
            rule.required_when_keyed,
        )
        for type_, rule in RULES.items()
    }


def doc_table() -> dict[str, tuple[Any, ...]]:
    """The table of entry types, read as (actor, subject ids, detail members, purpose, required when keyed)."""
    section = DOC.split("### Entry types", 1)[1].split("\n\n| type |", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, tuple[Any, ...]] = {}
    for row in section.splitlines()[2:]:
        type_cell, actor, subject, detail, _digest, signature = (c.strip() for c in row.strip("|").split("|"))
        actor = actor.strip("`") if actor in ("`admin`", "`server`") else PARTY
        ids = 0 if "one or more" in subject else len(subject.strip("[]").split(","))
        members = set(re.findall(r"`([a-z_]+)`:", detail))
        purpose = re.match(r"`([a-z]+)`", signature)
        for type_ in re.findall(r"`([a-z_.]+)`", type_cell):
            rows[type_] = (actor, ids, members, purpose and purpose[1], "required when keyed" in signature)
    return rows


def test_the_docs_table_of_types_is_the_codes() -> None:
    table = doc_table()
    assert set(table) == set(RULES)
    for type_, (actor, ids, members, purpose, required) in code_rules().items():
        assert table[type_] == (actor, ids, set(members), purpose, required), type_


def test_the_docs_verifier_has_the_codes_rules() -> None:
    assert code_rules() == sample_module().RULES


def run_sample(tmp_path: Path, data: bytes, key: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "verify_ledger.py"
    script.write_text(sample_code(), encoding="utf-8")
    export = tmp_path / "export.jsonl"
    export.write_bytes(data)
    return subprocess.run([sys.executable, script, export, key], capture_output=True, text=True, check=False)


BAD = [bad for bad, _ in cases.BAD_ENTRIES] + [
    cases.ack("saa", signed=False),
    cases.ack("saa", signed=False, type_="notification.acknowledged"),
    cases.ack("russia", signed=False),
]


@pytest.mark.parametrize("bad", BAD, ids=lambda c: f"{c.type}-{c.actor}")
def test_the_docs_verifier_refuses_what_the_code_refuses(tmp_path: Path, bad: Change) -> None:
    chain = build_chain()
    chain.add(bad)
    key = chain.server.public_key_b64
    report = verify_bytes(chain.data(), key)
    assert report.failure is not None and report.failure.seq == 23
    done = run_sample(tmp_path, chain.data(), key)
    assert done.returncode == 1 and done.stderr.startswith("line 23: "), (done.stdout, done.stderr)


def test_the_docs_verifier_accepts_what_the_code_accepts(tmp_path: Path) -> None:
    chain = build_chain()
    for good in (cases.ack("saa", signed=True), cases.ack("coalition", signed=False)):
        chain.add(good)
    key = chain.server.public_key_b64
    assert verify_bytes(chain.data(), key).ok
    done = run_sample(tmp_path, chain.data(), key)
    assert done.returncode == 0 and "OK: 24 entries" in done.stdout, done.stderr
