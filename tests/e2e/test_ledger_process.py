"""The record of a real server (`deconf serve`, the demo's Deir ez-Zor scenario and more, exported with
`deconf ledger export`), checked by the verifier printed in docs/ledger.md — built from the page alone — and by
`deconf ledger verify`: both accept it, and both refuse each copy that a dishonest server re-hashed and re-signed
with its own key after breaking one rule the API enforces.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconfliction import demo
from deconfliction.domain.signing import Purpose, SigningKey
from deconfliction.ledger.entry import entry_hash, line
from tests.e2e.conftest import E2E_ADMIN, run_cli, start_server
from tests.unit.test_ledger_docs import sample_code

pytestmark = pytest.mark.slow
Entry = dict[str, Any]


@dataclass
class Record:
    entries: list[Entry]
    key: str  # the server's public key, as `deconf ledger export` printed it
    server_key: SigningKey  # its private key, read from its data directory: to play a dishonest server
    tmp: Path


def _more(url: str, loaded: demo.Loaded) -> None:
    """Beyond the demo: every notification acknowledged (signed where the party has a key), conflicts acknowledged
    signed and unsigned, reads of others' declarations, a revision and a cancellation, a key rotation, a link
    changed, removed and made again."""

    def as_(party: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {loaded.tokens[party]}"}, timeout=10)

    def signature(party: str, purpose: Purpose, digest: str) -> dict[str, str]:
        return {"signature": loaded.keys[party].sign(purpose, digest)} if party in loaded.keys else {}

    for party in loaded.tokens:
        with as_(party) as c:
            for n in c.get("/v1/notifications").json():
                body = signature(party, Purpose.ACK, n["digest"])
                assert c.post(f"/v1/notifications/{n['id']}/ack", json=body).status_code == 200
            conflicts = c.get("/v1/conflicts", params={"status": "open"}).json()
            if conflicts:
                body = signature(party, Purpose.ACK, conflicts[0]["digest"])
                assert c.post(f"/v1/conflicts/{conflicts[0]['id']}/ack", json=body).status_code == 200
            assert c.get("/v1/declarations").status_code == 200  # reads others' declarations: recorded
    sdf_first = next(d for d in loaded.declarations if d["declaration"]["properties"]["party"] == "sdf")
    with as_("sdf") as c:
        feature = c.get(f"/v1/declarations/{sdf_first['id']}").json()
        feature["properties"]["name"] = "revised"
        r = c.put(
            f"/v1/declarations/{sdf_first['id']}", json=feature, headers={"If-Match": f'"{sdf_first["version"]}"'}
        )
        assert r.status_code == 200, r.text
    saa_first = next(d for d in loaded.declarations if d["declaration"]["properties"]["party"] == "saa")
    with as_("saa") as c:
        assert c.delete(f"/v1/declarations/{saa_first['id']}").status_code == 204
    rotated = SigningKey.generate()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {E2E_ADMIN}"}, timeout=10) as admin:
        assert admin.patch("/v1/parties/coalition", json={"public_key": rotated.public_key_b64}).status_code == 200
        assert admin.patch("/v1/links/coalition/russia", json={"relay": "auto"}).status_code == 200
        assert admin.delete("/v1/links/russia/saa").status_code == 204
        assert admin.post("/v1/links", json={"a": "saa", "b": "russia", "relay": "review"}).status_code == 201
    loaded.keys["coalition"] = rotated
    with as_("coalition") as c:  # acknowledgements by coalition must now be signed with its new key
        for n in c.get("/v1/notifications", params={"status": "pending"}).json():
            body = signature("coalition", Purpose.ACK, n["digest"])
            assert c.post(f"/v1/notifications/{n['id']}/ack", json=body).status_code == 200


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Record]:
    tmp = tmp_path_factory.mktemp("ledger")
    server = start_server(tmp)
    try:
        loaded = demo.load(server.url, E2E_ADMIN)
        demo.agree_line(server.url, loaded)
        demo.relay_message(server.url, loaded)
        _more(server.url, loaded)
        export = tmp / "record.jsonl"
        done = run_cli("ledger", "export", "-o", str(export), "--url", server.url, "--token", loaded.tokens["sdf"])
        assert done.code == 0, done.output
        key = re.search(r"server key: (\S+)", done.stdout)
        assert key is not None, done.stdout
        server_key = SigningKey.from_pem(Path(f"{server.db}.ledger-key.pem").read_bytes())
        assert server_key.public_key_b64 == key[1]
        entries = [json.loads(raw) for raw in export.read_bytes().splitlines()]
        yield Record(entries, key[1], server_key, tmp)
    finally:
        server.stop()


def verdicts(record: Record, entries: list[Entry], name: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """The docs' verifier's and `deconf ledger verify`'s answers on these entries."""
    export = record.tmp / f"{name}.jsonl"
    export.write_bytes(b"".join(line(e) for e in entries))
    script = record.tmp / "verify_ledger.py"
    script.write_text(sample_code(), encoding="utf-8")
    sample = subprocess.run(
        [sys.executable, script, export, record.key], capture_output=True, text=True, check=False, timeout=120
    )
    return sample, run_cli("ledger", "verify", str(export), "--key", record.key, timeout_s=120)


def test_the_real_record_covers_the_rules_and_both_verifiers_accept_it(record: Record) -> None:
    types = {e["type"] for e in record.entries}
    assert types >= {
        "party.created", "party.updated", "link.created", "link.updated", "link.removed", "declaration.created",
        "declaration.updated", "declaration.cancelled", "declaration.notified", "notification.acknowledged",
        "conflict.opened", "conflict.acknowledged", "conflict.resolved", "message.sent", "message.held",
        "message.relayed", "message.delivered", "message.read", "message.acknowledged", "declarations.viewed",
        "line.proposed", "line.accepted",
    }  # fmt: skip
    signed = {(e["type"], e["actor"]) for e in record.entries if e["party_signature"] is not None}
    assert {("notification.acknowledged", "sdf"), ("notification.acknowledged", "coalition")} <= signed
    assert ("message.acknowledged", "saa") in signed
    unsigned_acks = {e["actor"] for e in record.entries if e["type"] == "notification.acknowledged"} - {
        actor for kind, actor in signed if kind == "notification.acknowledged"
    }
    assert unsigned_acks == {"russia"}  # coalition acknowledged unsigned before its key, signed after
    sample, cli = verdicts(record, record.entries, "intact")
    assert sample.returncode == 0 and f"OK: {len(record.entries)} entries" in sample.stdout, sample.stderr
    assert cli.code == 0 and "VERIFIED" in cli.stdout, cli.output


def _reseal(record: Record, entries: list[Entry], start: int) -> list[Entry]:
    """What a dishonest server holding its key can do: re-hash and re-sign every entry from `start` on."""
    for i in range(start, len(entries)):
        entries[i]["prev"] = entries[i - 1]["hash"] if i else "0" * 64
        entries[i]["hash"] = entry_hash(entries[i])
        entries[i]["signature"] = record.server_key.sign(Purpose.LEDGER, entries[i]["hash"])
    return entries


def _first(entries: list[Entry], test: Callable[[Entry], bool]) -> int:
    return next(i for i, e in enumerate(entries) if test(e))


def _keyed_ack(kind: str) -> Callable[[Entry], bool]:
    return lambda e: e["type"] == kind and e["party_signature"] is not None


def _unsign(e: Entry) -> None:
    e["party_signature"] = None


TAMPERINGS: dict[str, tuple[Callable[[Entry], bool], Callable[[Entry], None]]] = {
    "message ack unsigned by a keyed party": (_keyed_ack("message.acknowledged"), _unsign),
    "notification ack unsigned by a keyed party": (_keyed_ack("notification.acknowledged"), _unsign),
    "an unlisted type": (lambda e: e["type"] == "message.read", lambda e: e.update(type="message.teleported")),
    "30 February": (lambda e: e["type"] == "message.read", lambda e: e.update(at="2026-02-30T00:00:00Z")),
    "actor admin on a party's act": (lambda e: e["type"] == "message.read", lambda e: e.update(actor="admin")),
    "a party registered as admin": (lambda e: e["type"] == "party.created", lambda e: e.update(subject=["admin"])),
    "a detail member dropped": (lambda e: e["type"] == "declaration.notified", lambda e: e["detail"].pop("version")),
    "a detail member added": (lambda e: e["type"] == "message.read", lambda e: e["detail"].update(late=True)),
    "a party's record changed": (lambda e: e["type"] == "party.created", lambda e: e["detail"].update(name="other")),
    "a query's ids changed": (lambda e: e["type"] == "declarations.viewed", lambda e: e["subject"].append("x")),
    "a link created while it exists": (lambda e: e["type"] == "link.removed", lambda e: e.update(type="link.created")),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_both_verifiers_refuse_a_resealed_record_that_breaks_a_rule(record: Record, name: str) -> None:
    entries = copy.deepcopy(record.entries)
    test, tamper = TAMPERINGS[name]
    i = _first(entries, test)
    tamper(entries[i])
    _reseal(record, entries, i)
    sample, cli = verdicts(record, entries, re.sub(r"\W+", "-", name))
    assert sample.returncode == 1 and sample.stderr.startswith(f"line {i + 1}: "), (name, sample.stderr)
    assert cli.code == 1 and f"entry seq {i + 1} (line {i + 1})" in cli.output, (name, cli.output)


def test_a_party_signature_moved_onto_a_type_that_carries_none_is_refused(record: Record) -> None:
    entries = copy.deepcopy(record.entries)
    ack = entries[_first(entries, _keyed_ack("message.acknowledged"))]
    i = _first(entries, lambda e: e["type"] == "message.read" and e["digest"] == ack["digest"])
    entries[i]["party_signature"] = ack["party_signature"]  # by the same party, over the same digest: it verifies
    _reseal(record, entries, i)
    sample, cli = verdicts(record, entries, "moved-signature")
    assert sample.returncode == 1 and sample.stderr.startswith(f"line {i + 1}: "), sample.stderr
    assert cli.code == 1 and "carries no party signature" in cli.output, cli.output


def test_resealing_alone_changes_nothing(record: Record) -> None:
    """The tampering tests' control: re-signing an intact record by the server's own key still verifies."""
    entries = _reseal(record, copy.deepcopy(record.entries), 0)
    assert entries == record.entries  # Ed25519 is deterministic: the same bytes
