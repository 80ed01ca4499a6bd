"""Ledger throughput: sealing (hash + sign) and verifying entries, beside the raw cryptography they cannot beat.

    .venv/bin/python bench/bench_ledger.py [--entries 5000] [--repeat 3]

Rows, each the best of `--repeat` passes over the same N realistic entries (a message relayed with its
digest, subject and detail, a party signature on every fifth):

* seal: `ledger.entry.seal` — canonical JSON (RFC 8785) of the entry, SHA-256, Ed25519 sign of the hash.
  Baseline: SHA-256 of the same canonical bytes + one Ed25519 sign, with `cryptography` directly (bytes prepared
  beforehand): the floor, since each entry needs exactly that.
* verify: `ledger.verify.Verifier.feed` on the export lines — parse, re-serialise canonically and compare bytes,
  check fields and chain, recompute the hash, verify the server's signature (and the party's where there is one).
  Baseline: SHA-256 + Ed25519 verify per entry (+ the party signature's verify where there is one), directly.
* canonical JSON alone (rfc8785.dumps of the entry), json.loads alone: where the rest of the time goes.

Read the "x the floor" column: how many times the raw cryptography each figure costs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from deconfliction.domain.signing import ZERO_HASH, Purpose, SigningKey, digest_of, signed_bytes
from deconfliction.ledger.entry import HASHED_FIELDS, Change, PartySignature, line, seal
from deconfliction.ledger.verify import Verifier


def _changes(n: int, party: SigningKey) -> list[Change]:
    registered = Change(
        "2030-01-07T10:00:00Z", "party.created", "admin", ("sdf",), digest_of({"id": "sdf"}),
        {"status": "active", "public_key": party.public_key_b64},
    )  # fmt: skip
    changes = [registered]
    for i in range(1, n):
        digest = digest_of({"message": i})
        sig = None
        if i % 5 == 0:
            sig = PartySignature("sdf", party.public_key_b64, Purpose.MESSAGE, party.sign(Purpose.MESSAGE, digest))
        at = f"2030-01-07T{10 + i // 3600 % 14:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
        changes.append(Change(at, "message.sent", "sdf", (f"m-{i:08d}", "saa"), digest, {"to": "saa", "hops": 3}, sig))
    return changes


def _best_s(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return best


def _seal_all(changes: Sequence[Change], key: SigningKey) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    prev = ZERO_HASH
    for seq, change in enumerate(changes, start=1):
        entry = seal(change, seq, prev, key)
        entries.append(entry)
        prev = entry["hash"]
    return entries


def _verify_all(lines: Sequence[bytes], key_b64: str) -> None:
    verifier = Verifier(key_b64)
    for raw in lines:
        if verifier.feed(raw) is not None:
            raise SystemExit(f"the bench's own ledger does not verify: {verifier.failure}")


def measure(n: int, repeat: int) -> list[tuple[str, str, float, float]]:
    """(row, what it is, entries per second, floor entries per second or 0) for each row."""
    raw_key = Ed25519PrivateKey.generate()
    key, party = SigningKey(raw_key), SigningKey.generate()
    changes = _changes(n, party)
    entries = _seal_all(changes, key)
    lines = [line(e) for e in entries]
    hashed = [rfc8785.dumps({k: e[k] for k in HASHED_FIELDS}) for e in entries]
    to_sign = [signed_bytes(Purpose.LEDGER, e["hash"]) for e in entries]
    public = raw_key.public_key()
    signatures = [raw_key.sign(b) for b in to_sign]
    # a party signature costs one more verify of the same kind; the floor times the operation on the same bytes
    party_checks = [(s, b) for e, s, b in zip(entries, signatures, to_sign, strict=True) if e["party_signature"]]

    def raw_seal() -> None:
        for data, message in zip(hashed, to_sign, strict=True):
            hashlib.sha256(data).digest()
            raw_key.sign(message)

    def raw_verify() -> None:
        for data, message, signature in zip(hashed, to_sign, signatures, strict=True):
            hashlib.sha256(data).digest()
            public.verify(signature, message)
        for signature, message in party_checks:
            public.verify(signature, message)

    seal_floor = n / _best_s(raw_seal, repeat)
    verify_floor = n / _best_s(raw_verify, repeat)
    seal_per_s = n / _best_s(lambda: _seal_all(changes, key), repeat)
    verify_per_s = n / _best_s(lambda: _verify_all(lines, key.public_key_b64), repeat)
    canonical_per_s = n / _best_s(lambda: [rfc8785.dumps(e) for e in entries], repeat)
    loads_per_s = n / _best_s(lambda: [json.loads(x) for x in lines], repeat)
    return [
        ("seal", "canonical JSON + SHA-256 + Ed25519 sign", seal_per_s, seal_floor),
        ("  floor: SHA-256 + Ed25519 sign", "cryptography directly, bytes prepared", seal_floor, seal_floor),
        ("verify", "parse + canonical check + chain + hash + signatures", verify_per_s, verify_floor),
        ("  floor: SHA-256 + Ed25519 verify", "cryptography directly (+ party signatures)", verify_floor, verify_floor),
        ("  canonical JSON alone", "rfc8785.dumps of each entry", canonical_per_s, 0.0),
        ("  json.loads alone", "parse each export line", loads_per_s, 0.0),
    ]


def run(console: Console | None = None, entries: int = 5_000, repeat: int = 3) -> None:
    """Print the ledger table (for bench/run.py or on its own)."""
    console = console or Console()
    with console.status(f"sealing and verifying {entries:,} entries, best of {repeat}"):
        rows = measure(entries, repeat)
    table = Table(title=f"Ledger, {entries:,} entries (1 in 5 with a party signature), best of {repeat}")
    for name, justify in (("row", "left"), ("what", "left"), ("entries/s", "right"), ("x the floor", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name, what, per_s, floor in rows:
        ratio = f"{floor / per_s:.2f}" if floor else "-"
        table.add_row(name, what, f"{per_s:,.0f}", ratio, style="bold" if not name.startswith(" ") else None)
    console.print(table)
    console.print(
        "x the floor: the row's time per entry / the raw cryptography's (1.00 = nothing but the cryptography).",
        style="dim",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=5_000, help="entries sealed and verified per pass")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    args = parser.parse_args(argv)
    run(Console(), args.entries, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
