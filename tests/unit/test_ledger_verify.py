"""The offline verifier catches every change to an export: each field of each kind of entry, every single byte,
lines removed, moved or repeated, signatures by keys the record never registered, replays, and the wrong server."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deconfliction.domain.signing import ZERO_HASH, Purpose, digest_of
from deconfliction.ledger.entry import FIELDS, Change, Detail, PartySignature, entry_hash, line
from deconfliction.ledger.verify import Report, Verifier, split_lines, verify_bytes, verify_lines
from tests.unit.ledger_chain import SAA, SDF, SDF_NEW, STRANGER, Chain, build_chain, fixed_key

CHAIN = build_chain()
KEY = CHAIN.server.public_key_b64
DATA = CHAIN.data()
HEAD = CHAIN.entries[-1]["hash"]
SIGNED = [i for i, e in enumerate(CHAIN.entries) if e["party_signature"] is not None]
UNSIGNED = [i for i, e in enumerate(CHAIN.entries) if e["party_signature"] is None]


def failed_at(report: Report) -> int:
    """The 1-based line of the first failure (the test fails if the report is OK)."""
    assert not report.ok, "the change was not detected"
    assert report.failure is not None
    return report.failure.line_no


def with_line(index: int, entry: dict[str, Any]) -> bytes:
    lines = CHAIN.lines
    lines[index] = line(entry)
    return b"".join(lines)


def test_the_intact_export_verifies() -> None:
    report = verify_bytes(DATA, KEY)
    assert report == Report(True, 22, 22, CHAIN.entries[-1]["hash"], None)
    assert verify_lines(CHAIN.lines, KEY, expect_head=CHAIN.entries[-1]["hash"]).ok
    assert list(split_lines(DATA)) == CHAIN.lines
    assert len(SIGNED) == 5 and {CHAIN.entries[i]["type"] for i in SIGNED} >= {"message.sent", "message.acknowledged"}


def test_streaming_reports_progress_and_stops_at_the_first_failure() -> None:
    verifier = Verifier(KEY)
    for i, raw in enumerate(CHAIN.lines[:5]):
        assert verifier.feed(raw) is None
        assert verifier.entries == i + 1
    bad = verifier.feed(b"{}\n")
    assert bad is not None and bad.line_no == 6
    assert verifier.feed(CHAIN.lines[5]) is bad  # later lines are ignored
    assert verifier.finish().entries == 5


def _other(name: str, entry: dict[str, Any]) -> Any:
    """A different value of the same JSON type and form for one field."""
    value = entry[name]
    if name == "seq":
        return value + 1
    if name == "at":
        return "2030-01-07T11:59:59Z"
    if name in ("type", "actor"):
        return {"type": "message.read", "actor": "saa"}[name] if value not in ("message.read", "saa") else "sdf"
    if name == "subject":
        return [*value, "extra"]
    if name in ("digest", "prev", "hash"):
        return digest_of({"other": value})
    if name == "detail":
        return {**value, "status": "forged"}
    if name == "party_signature":
        if value is not None:
            return None
        return PartySignature("sdf", SDF.public_key_b64, Purpose.ACK, SDF.sign(Purpose.ACK, entry["digest"])).to_json()
    assert name == "signature"
    return CHAIN.server.sign(Purpose.LEDGER, digest_of({"other": value}))


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("index", [0, 2, SIGNED[0], SIGNED[-1], UNSIGNED[-1], len(CHAIN.entries) - 1])
def test_a_change_to_any_field_names_that_entry(name: str, index: int) -> None:
    entry = copy.deepcopy(CHAIN.entries[index])
    entry[name] = _other(name, entry)
    report = verify_bytes(with_line(index, entry), KEY)
    assert failed_at(report) == index + 1, report.failure


def test_an_entry_rehashed_and_resigned_by_the_server_still_breaks_the_chain_or_the_head() -> None:
    entry = copy.deepcopy(CHAIN.entries[6])
    entry["detail"] = {"version": 1, "party": "sdf"}  # "notified sdf" instead of saa
    entry["hash"] = entry_hash(entry)
    entry["signature"] = CHAIN.server.sign(Purpose.LEDGER, entry["hash"])
    report = verify_bytes(with_line(6, entry), KEY)
    assert failed_at(report) == 8 and report.failure is not None and "prev" in report.failure.reason
    last = copy.deepcopy(CHAIN.entries[-1])
    last["detail"] = {"version": 3}
    last["hash"] = entry_hash(last)
    last["signature"] = CHAIN.server.sign(Purpose.LEDGER, last["hash"])
    assert verify_bytes(with_line(len(CHAIN.entries) - 1, last), KEY).ok  # only the noted head can show this
    report = verify_bytes(with_line(len(CHAIN.entries) - 1, last), KEY, expect_head=CHAIN.entries[-1]["hash"])
    assert failed_at(report) == len(CHAIN.entries)


def _sibling(byte: int) -> int:
    """A printable byte of the same class: another hex digit, letter, or base64 character where possible."""
    for low, high in ((0x30, 0x39), (0x61, 0x66), (0x67, 0x7A), (0x41, 0x5A)):
        if low <= byte <= high:
            return low + (byte - low + 1) % (high - low + 1)
    return {ord("+"): ord("/"), ord("/"): ord("+"), ord(" "): ord("!")}.get(byte, ord(" "))


def test_every_single_byte_change_is_detected() -> None:
    """Each byte of the file, replaced by three other values; ~36,000 files, each verified.

    Lines before the changed one are byte-identical, so the verifier's state after them is the same as in the
    intact file: each changed file is checked by resuming a copy of that state (and every 97th from scratch).
    """
    states: list[Verifier] = []
    verifier = Verifier(KEY)
    starts = []
    offset = 0
    for raw in CHAIN.lines:
        states.append(copy.deepcopy(verifier))
        starts.append(offset)
        verifier.feed(raw)
        offset += len(raw)
    missed = []
    checked = 0
    for position, byte in enumerate(DATA):
        index = max(i for i, s in enumerate(starts) if s <= position)
        for new in {byte ^ 0x01, byte ^ 0x80, _sibling(byte)} - {byte}:
            changed = DATA[:position] + bytes([new]) + DATA[position + 1 :]
            resumed = copy.deepcopy(states[index])
            for raw in split_lines(changed[starts[index] :]):
                if resumed.feed(raw) is not None:
                    break
            report = resumed.finish()
            checked += 1
            if report.ok:
                missed.append((position, chr(byte), chr(new)))
            if checked % 97 == 0:
                assert verify_bytes(changed, KEY) == report
    assert not missed, f"undetected single-byte changes: {missed[:10]}"
    assert checked >= 2 * len(DATA)  # the sibling is sometimes the same as b ^ 0x01


@pytest.mark.parametrize(
    ("change", "line_no"),
    [
        (lambda ls: ls[:5] + ls[6:], 6),  # deleted
        (lambda ls: [*ls[:5], ls[6], ls[5], *ls[7:]], 6),  # two swapped
        (lambda ls: [*ls[:5], ls[5], ls[5], *ls[6:]], 7),  # repeated
        (lambda ls: ls[1:], 1),  # the first removed
        (lambda ls: [*ls, ls[-1]], 23),  # the last repeated
        (lambda ls: [*ls[:5], b"\n", *ls[5:]], 6),  # a blank line
        (lambda ls: [x.replace(b"\n", b"\r\n") for x in ls], 1),  # CRLF
    ],
)
def test_lines_deleted_moved_repeated_or_added_are_detected(change: Any, line_no: int) -> None:
    assert failed_at(verify_bytes(b"".join(change(CHAIN.lines)), KEY)) == line_no


def test_entries_cut_from_the_end_show_only_against_the_noted_head() -> None:
    cut = b"".join(CHAIN.lines[:-3])
    assert verify_bytes(cut, KEY).ok
    report = verify_bytes(cut, KEY, expect_head=CHAIN.entries[-1]["hash"])
    assert failed_at(report) == 19 and report.failure is not None
    assert "no entry has that hash" in report.failure.reason


def test_the_expected_head_must_be_the_last_hash() -> None:
    assert verify_bytes(DATA, KEY, expect_head=CHAIN.entries[-1]["hash"].upper()).ok
    report = verify_bytes(DATA, KEY, expect_head=CHAIN.entries[9]["hash"])
    assert not report.ok and report.failure is not None
    assert "hash of entry seq 10" in report.failure.reason
    assert not verify_bytes(DATA, KEY, expect_head=ZERO_HASH).ok


def test_an_empty_file_and_a_missing_last_newline_do_not_verify() -> None:
    assert verify_bytes(b"", KEY).failure is not None
    report = verify_bytes(DATA[:-1], KEY)
    assert failed_at(report) == 22 and report.failure is not None and "newline" in report.failure.reason


def test_the_wrong_server_key_fails_at_the_first_entry() -> None:
    report = verify_bytes(DATA, fixed_key(9).public_key_b64)
    assert failed_at(report) == 1 and report.failure is not None
    assert report.failure.reason == "the server's signature does not verify with the server key"
    assert failed_at(verify_bytes(DATA, "not a key")) == 1


def extended(change: Change) -> tuple[Chain, Report]:
    """The intact chain plus one properly sealed entry, verified."""
    chain = build_chain()
    chain.add(change)
    return chain, verify_bytes(chain.data(), chain.server.public_key_b64)


def _signed(party: str, key: Any, purpose: Purpose, type_: str = "message.acknowledged") -> Change:
    digest = CHAIN.entries[10]["digest"]
    sig = PartySignature(party, key.public_key_b64, purpose, key.sign(purpose, digest))
    return Change(
        "2030-01-07T11:00:00Z", type_, party, ("m-42",), digest, {"to": "saa"} if "sent" in type_ else {}, sig
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_signed("saa", STRANGER, Purpose.ACK), "not its registered key"),  # a key saa never registered
        (_signed("coalition", STRANGER, Purpose.ACK), "has no registered key"),  # coalition registered none
        (
            _signed("russia", STRANGER, Purpose.ACK),
            "no entry before this one registers russia",
        ),  # a party the record never created
        (_signed("sdf", SDF, Purpose.MESSAGE, "message.sent"), "not its registered key"),  # sdf's key before rotation
    ],
)
def test_a_signature_by_a_key_the_record_did_not_register_is_bad(change: Change, reason: str) -> None:
    _, report = extended(change)
    assert failed_at(report) == 23 and report.failure is not None and reason in report.failure.reason
    assert report.failure.seq == 23


def test_signatures_by_registered_keys_verify() -> None:
    assert extended(_signed("saa", SAA, Purpose.ACK))[1].ok
    assert extended(_signed("sdf", SDF_NEW, Purpose.MESSAGE, "message.sent"))[1].ok


def test_a_message_signature_replayed_as_an_acknowledgement_is_bad() -> None:
    sent = CHAIN.entries[10]["party_signature"]
    assert sent["purpose"] == "message"
    replay = Change("2030-01-07T11:00:00Z", "message.acknowledged", "sdf", ("m-42",), CHAIN.entries[10]["digest"], {})
    as_is = replace(replay, party_signature=PartySignature(**{**sent, "purpose": Purpose.MESSAGE}))
    _, report = extended(as_is)
    assert failed_at(report) == 23 and report.failure is not None and "must carry a 'ack'" in report.failure.reason
    relabelled = replace(replay, party_signature=PartySignature(**{**sent, "purpose": Purpose.ACK}))
    _, report = extended(relabelled)
    assert failed_at(report) == 23 and report.failure is not None and "does not verify" in report.failure.reason


def test_a_signature_by_another_party_than_the_actor_is_bad() -> None:
    change = _signed("saa", SAA, Purpose.ACK)
    _, report = extended(replace(change, actor="sdf"))
    assert report.failure is not None and "the actor is 'sdf'" in report.failure.reason


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.update(extra=1), "unexpected ['extra']"),
        (lambda e: e.pop("detail"), "missing ['detail']"),
        (lambda e: e.update(seq=True), "seq is not a positive integer"),
        (lambda e: e.update(subject="m-42"), "subject is not a list"),
        (lambda e: e.update(digest="AB" * 32), "digest is not 64 lowercase hex"),
        (lambda e: e.update(detail={"nested": {"a": 1}}), "detail is not an object of strings"),
        (lambda e: e.update(party_signature={"party": "sdf"}), "party_signature is neither null"),
        (lambda e: e.update(actor=""), "actor is not a non-empty string"),
    ],
)
def test_malformed_entries_are_named_with_a_precise_reason(mutate: Any, reason: str) -> None:
    entry = copy.deepcopy(CHAIN.entries[3])
    mutate(entry)
    report = verify_bytes(with_line(3, entry), KEY)
    assert failed_at(report) == 4 and report.failure is not None and reason in report.failure.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"seq": 1}\n', "not in canonical form"),
        (b"[1]\n", "not a JSON object"),
        (b'{"seq":1,\n', "not JSON"),
        (b'{"a":NaN}\n', "not JSON"),
        (b'{"a":"\xff"}\n', "not UTF-8"),
        (b'{"a":1.0}\n', "not in canonical form"),
        (b'{"a":1,"a":1}\n', "not in canonical form"),
        (b'{"a":9007199254740993}\n', "no canonical form"),
    ],
)
def test_lines_that_are_not_canonical_json_objects_are_refused(raw: bytes, reason: str) -> None:
    report = verify_lines([raw], KEY)
    assert failed_at(report) == 1 and report.failure is not None and reason in report.failure.reason


def test_a_party_registration_needs_a_valid_key_or_null() -> None:
    chain = Chain()
    chain.add(Change("2030-01-07T10:00:00Z", "party.created", "admin", ("x",), ZERO_HASH, {"status": "active"}))
    report = verify_bytes(chain.data(), chain.server.public_key_b64)
    assert report.failure is not None and "no detail.public_key" in report.failure.reason
    chain = Chain()
    bad_key: Detail = {"status": "active", "public_key": "AAAA"}
    chain.add(Change("2030-01-07T10:00:00Z", "party.created", "admin", ("x",), ZERO_HASH, bad_key))
    report = verify_bytes(chain.data(), chain.server.public_key_b64)
    assert report.failure is not None and "not a raw 32-byte Ed25519 key" in report.failure.reason


def test_the_export_format_is_one_canonical_object_per_line() -> None:
    first = DATA.split(b"\n", 1)[0]
    assert first == json.dumps(CHAIN.entries[0], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def docs_verifier(tmp_path: Path) -> Path:
    """The independent verifier printed in docs/ledger.md, as a script."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text(encoding="utf-8")
    section = text.split("## An independent verifier", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "verify_ledger.py"
    script.write_text(code, encoding="utf-8")
    return script


def test_the_independent_verifier_in_the_docs_agrees(tmp_path: Path) -> None:
    script = docs_verifier(tmp_path)
    cases: dict[str, tuple[bytes, str | None]] = {"intact": (DATA, None)}
    cases["tampered"] = (with_line(4, {**CHAIN.entries[4], "detail": {}}), "line 5: hash does not recompute")
    chain = build_chain()
    chain.event(
        "message.acknowledged", "saa", ("m-42",), CHAIN.entries[10]["digest"], {}, ("saa", STRANGER, Purpose.ACK)
    )
    cases["unregistered"] = (chain.data(), "line 23: unregistered key")
    cases["no newline"] = (DATA[:-1], "line 22: not canonical JSON + newline")
    for name, (data, error) in cases.items():
        export = tmp_path / f"{name}.jsonl"
        export.write_bytes(data)
        done = subprocess.run([sys.executable, script, export, KEY], capture_output=True, text=True, check=False)
        if error is None:
            assert done.returncode == 0 and f"OK: 22 entries; head hash {HEAD}" in done.stdout, done.stderr
        else:
            assert done.returncode == 1 and done.stderr.strip() == error, (name, done.stderr)
