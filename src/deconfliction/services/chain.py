"""The head of the ledger's hash chain, kept in memory by the single writer and appended to inside its jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from deconfliction.domain.signing import ZERO_HASH, SigningKey, canonical_plain
from deconfliction.ledger.entry import Change, seal
from deconfliction.ledger.rules import BadEntry, check_rules
from deconfliction.storage.base import Tx


class Chain:
    """Appends entries after the current head; only the writer thread calls `append`."""

    def __init__(self, key: SigningKey, head: tuple[int, str] | None) -> None:
        self.key = key
        self.seq, self.hash = head if head is not None else (0, ZERO_HASH)

    @property
    def public_key(self) -> str:
        return self.key.public_key_b64

    def refresh(self, tx: Tx) -> None:
        """Take the head as stored: another process sharing the database may have appended since (called by the
        writer inside its transaction, before any job appends)."""
        head = tx.ledger_head()
        self.seq, self.hash = head if head is not None else (0, ZERO_HASH)

    def append(self, tx: Tx, change: Change) -> tuple[dict[str, Any], Callable[[], None]]:
        """Seal and store an entry; returns it and the action that puts the head back should the job fail."""
        before = (self.seq, self.hash)
        entry = seal(change, self.seq + 1, self.hash, self.key)
        try:
            check_rules(entry, entry["seq"])
        except BadEntry as exc:  # a bug: fail the job rather than record what every verifier would refuse
            raise RuntimeError(f"refusing to record an entry its type's rule refuses: {exc.reason}") from exc
        tx.append_ledger(entry["seq"], entry["hash"], canonical_plain(entry).decode("utf-8"))
        self.seq, self.hash = entry["seq"], entry["hash"]

        def undo() -> None:
            self.seq, self.hash = before

        return entry, undo


def parse_entry(text: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(text)
    return entry
