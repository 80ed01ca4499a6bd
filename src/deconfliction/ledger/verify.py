"""Verify an exported ledger offline, one line at a time, and name the first entry that does not hold.

Each line must be exactly the canonical JSON of the entry it parses to, followed by "\\n", so that any change to
the file — one byte, whitespace, an escape, key order, a line added, removed or moved — is caught. Then each entry
must have exactly the fields of `entry.FIELDS` with their JSON types, follow its predecessor (`seq` + 1, `prev` =
its `hash`), hash to its `hash`, carry the server's signature of that hash, follow its type's rule (rules.py), agree
with the record before it (rules.Registry: a party signature verifies with the key the record registered for that
party before, and is there whenever the API requires it), and so on.

Pure: the caller reads the file and passes its lines (`verify_bytes` splits a whole file for you).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.signing import ZERO_HASH, Purpose, canonical, public_key_from_b64, verify
from deconfliction.ledger.entry import FIELDS, entry_hash
from deconfliction.ledger.rules import REGISTERING_TYPES, BadEntry, Registry, check_rules

HEX64 = re.compile(r"[0-9a-f]{64}")
PARTY_SIGNATURE_FIELDS = ("party", "public_key", "purpose", "signature")


@dataclass(frozen=True, slots=True)
class Failure:
    """The first line that does not hold: its line number (1-based), its seq when it has one, and why."""

    line_no: int
    seq: int | None
    reason: str

    def __str__(self) -> str:
        if self.line_no == 0:
            return self.reason
        where = f"line {self.line_no}" if self.seq is None else f"entry seq {self.seq} (line {self.line_no})"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome: `entries` is how many entries held, `head_*` the last of them (0 and ZERO_HASH for none)."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    failure: Failure | None = None


def _seq_of(obj: Any) -> int | None:
    seq = obj.get("seq") if isinstance(obj, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_line(raw: bytes) -> dict[str, Any]:
    """The entry of one export line, which must be exactly its canonical JSON followed by one "\\n"."""
    if raw == b"\n":
        raise BadEntry("blank line (an export has none)")
    if not raw.endswith(b"\n"):
        raise BadEntry("the line does not end with a newline: the file was cut short or its last newline removed")
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise BadEntry(f"not UTF-8 at byte {exc.start + 1}") from None
    except (ValueError, RecursionError) as exc:
        raise BadEntry(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadEntry(f"not a JSON object but {type(obj).__name__}")
    try:
        expected = canonical(obj) + b"\n"
    except (ValueError, UnicodeError) as exc:  # rfc8785's errors are ValueErrors: NaN, unsafe integers, surrogates
        raise BadEntry(f"has no canonical form (RFC 8785): {exc}", _seq_of(obj)) from None
    if raw != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(raw, expected, strict=False)) if a != b), min(len(raw), len(expected))
        )
        hint = " (a carriage return: CRLF line ends?)" if b"\r" in raw else ""
        raise BadEntry(
            f"not in canonical form (RFC 8785): differs from the canonical JSON of its content at byte {at + 1}{hint}",
            _seq_of(obj),
        )
    return obj


def _hex64(entry: dict[str, Any], name: str) -> None:
    value = entry[name]
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise BadEntry(f"{name} is not 64 lowercase hex characters", _seq_of(entry))


def _text(entry: dict[str, Any], name: str) -> None:
    value = entry[name]
    if not isinstance(value, str) or not value:
        raise BadEntry(f"{name} is not a non-empty string", _seq_of(entry))


def _check_party_signature_shape(entry: dict[str, Any]) -> None:
    sig = entry["party_signature"]
    seq = _seq_of(entry)
    if sig is None:
        return
    if not isinstance(sig, dict) or sorted(sig) != sorted(PARTY_SIGNATURE_FIELDS):
        raise BadEntry(f"party_signature is neither null nor an object of {', '.join(PARTY_SIGNATURE_FIELDS)}", seq)
    for name in PARTY_SIGNATURE_FIELDS:
        if not isinstance(sig[name], str) or not sig[name]:
            raise BadEntry(f"party_signature.{name} is not a non-empty string", seq)
    if sig["purpose"] not in (Purpose.MESSAGE.value, Purpose.ACK.value, Purpose.AGREE.value):
        raise BadEntry(f"party_signature.purpose is {sig['purpose']!r}, not one of 'message', 'ack', 'agree'", seq)


def check_shape(entry: dict[str, Any]) -> None:
    """Exactly the fields of an entry, each with its JSON type and form; raises BadEntry."""
    names = sorted(entry)
    if names != sorted(FIELDS):
        missing = sorted(set(FIELDS) - set(names))
        extra = sorted(set(names) - set(FIELDS))
        raise BadEntry(f"fields differ from the entry format: missing {missing}, unexpected {extra}", _seq_of(entry))
    seq = _seq_of(entry)
    if seq is None or seq < 1:
        raise BadEntry("seq is not a positive integer", seq)
    for name in ("type", "actor", "signature"):
        _text(entry, name)
    subject = entry["subject"]
    if not isinstance(subject, list) or not all(isinstance(s, str) and s for s in subject):
        raise BadEntry("subject is not a list of non-empty strings", seq)
    for name in ("digest", "prev", "hash"):
        _hex64(entry, name)
    detail = entry["detail"]
    if not isinstance(detail, dict) or not all(
        v is None or isinstance(v, str | bool) or type(v) is int for v in detail.values()
    ):
        raise BadEntry("detail is not an object of strings, integers, booleans and nulls", seq)
    _check_party_signature_shape(entry)
    if entry["type"] in REGISTERING_TYPES:
        _check_registration_shape(entry)


def _check_registration_shape(entry: dict[str, Any]) -> None:
    seq = _seq_of(entry)
    if not entry["subject"]:
        raise BadEntry(f"{entry['type']} names no party in subject", seq)
    if "public_key" not in entry["detail"]:
        raise BadEntry(f"{entry['type']} has no detail.public_key (the party's key, or null)", seq)
    key = entry["detail"]["public_key"]
    if key is None:
        return
    if not isinstance(key, str):
        raise BadEntry("detail.public_key is neither null nor a string", seq)
    try:
        public_key_from_b64(key)
    except (InvalidInput, ValueError):
        raise BadEntry("detail.public_key is not a raw 32-byte Ed25519 key in canonical base64", seq) from None


def check_seal(entry: dict[str, Any], server_key_b64: str) -> None:
    """The entry hashes to its `hash` and carries the server's signature of it; raises BadEntry."""
    seq = _seq_of(entry)
    recomputed = entry_hash(entry)
    if recomputed != entry["hash"]:
        raise BadEntry(f"hash does not match the entry's content: it hashes to {recomputed}", seq)
    if not verify(server_key_b64, Purpose.LEDGER, entry["hash"], entry["signature"]):
        raise BadEntry("the server's signature does not verify with the server key", seq)


def check_rule_and_signature(entry: dict[str, Any]) -> dict[str, str] | None:
    """The entry follows its type's rule (ledger/rules.py: among them, a party signature of the purpose its type
    requires, by the actor), and the party's signature, when there is one, verifies over the digest."""
    check_rules(entry, _seq_of(entry))
    sig: dict[str, str] | None = entry["party_signature"]
    if sig is not None and not verify(sig["public_key"], Purpose(sig["purpose"]), entry["digest"], sig["signature"]):
        raise BadEntry(f"{sig['party']}'s {sig['purpose']} signature does not verify over the digest", _seq_of(entry))
    return sig


class Verifier:
    """Feed an export line by line (`feed`), then `finish`; stops at the first line that does not hold."""

    def __init__(self, server_key_b64: str, expect_head: str | None = None) -> None:
        self.server_key_b64 = server_key_b64
        self.expect_head = None if expect_head is None else expect_head.strip().lower()
        self.lines = 0
        self.entries = 0
        self.head_hash = ZERO_HASH
        self.failure: Failure | None = None
        self._registry = Registry()  # the parties' keys and the links, as the entries so far say
        self._expected_seen_at: int | None = None

    def feed(self, raw: bytes) -> Failure | None:
        """Check the next line; the first failure, once there is one (later lines are then ignored)."""
        if self.failure is not None:
            return self.failure
        self.lines += 1
        try:
            self._check(raw)
        except BadEntry as exc:
            self.failure = Failure(self.lines, exc.seq, exc.reason)
        return self.failure

    def _check(self, raw: bytes) -> None:
        entry = parse_line(raw)
        check_shape(entry)
        seq = entry["seq"]
        if seq != self.entries + 1:
            raise BadEntry(f"seq {seq} follows seq {self.entries}: expected {self.entries + 1}", seq)
        if entry["prev"] != self.head_hash:
            raise BadEntry(f"prev is not the hash of the entry before it ({self.head_hash})", seq)
        check_seal(entry, self.server_key_b64)
        check_rule_and_signature(entry)
        self._registry.check(entry, seq)
        self._registry.apply(entry, seq)
        self.entries = seq
        self.head_hash = entry["hash"]
        if self.head_hash == self.expect_head:
            self._expected_seen_at = seq

    def finish(self) -> Report:
        """The outcome, including the checks that need the whole file (not empty; the expected head)."""
        failure = self.failure
        if failure is None and self.entries == 0:
            failure = Failure(0, None, "no entries: the file is empty")
        elif failure is None and self.expect_head is not None and self.head_hash != self.expect_head:
            failure = Failure(self.lines, self.entries, self._head_mismatch())
        return Report(failure is None, self.entries, self.entries, self.head_hash, failure)

    def _head_mismatch(self) -> str:
        if self._expected_seen_at is not None:
            why = f"that is the hash of entry seq {self._expected_seen_at}; the record goes on to seq {self.entries}"
        else:
            why = "no entry has that hash: entries were removed from the end, or this is another record"
        return f"the last hash is {self.head_hash}, not the expected {self.expect_head}: {why}"


def split_lines(data: bytes) -> Iterator[bytes]:
    """The lines of an export, each with its "\\n" (split on "\\n" only, never on other line breaks)."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start : end + 1]
        start = end + 1


def verify_lines(lines: Iterable[bytes], server_key_b64: str, expect_head: str | None = None) -> Report:
    """Verify an export given as lines (each with its "\\n"); stops at the first that does not hold."""
    verifier = Verifier(server_key_b64, expect_head)
    for raw in lines:
        if verifier.feed(raw) is not None:
            break
    return verifier.finish()


def verify_bytes(data: bytes, server_key_b64: str, expect_head: str | None = None) -> Report:
    """Verify a whole export file's bytes."""
    return verify_lines(split_lines(data), server_key_b64, expect_head)
