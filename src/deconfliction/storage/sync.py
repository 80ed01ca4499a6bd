"""The storage interface that lets several worker processes serve one channel (see base.Tx).

The change feed: every write job notes which in-memory objects it changed (a declaration, a track, the lines, a
party), in commit order. A worker about to write first applies every change committed by the others since it last
looked, so its picture is whole when its job runs. Idempotency keys: a retried POST finds the answer the first
attempt got, and a write that committed can never be made twice.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChangeRow:
    seq: int
    kind: str  # "declaration" (ref: its key), "track" (ref: "party/track_id"), "lines", "party" (ref: party id)
    ref: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    scope: str  # whose key it is: the digest of the credential that sent it
    key: str
    fingerprint: str  # digest of method, path and body: the same key with another request is refused
    created_at: datetime
    status: int | None  # None: the write committed but its answer was not kept
    body: bytes | None
    headers: str | None  # JSON object of the answer's headers worth replaying (Content-Type, Location)


class SyncTx(abc.ABC):
    # the change feed
    @abc.abstractmethod
    def record_change(self, kind: str, ref: str, at: datetime) -> int:
        """Append to the change feed; returns the new row's sequence number (strictly increasing in commit order:
        the feed is only written by write transactions, which the store runs one at a time)."""

    @abc.abstractmethod
    def changes_after(self, seq: int, limit: int) -> list[ChangeRow]:
        """Rows with seq > `seq`, in order."""

    @abc.abstractmethod
    def last_change_seq(self) -> int:
        """The newest row's sequence number (0 when the feed is empty)."""

    @abc.abstractmethod
    def first_change_seq(self) -> int:
        """The oldest row still kept (0 when the feed is empty): a worker behind it must reload everything."""

    @abc.abstractmethod
    def prune_changes(self, before: datetime) -> int:
        """Drop rows older than `before`, always keeping the newest; returns how many were dropped."""

    # idempotency keys
    @abc.abstractmethod
    def claim_idempotency(self, scope: str, key: str, fingerprint: str, at: datetime) -> bool:
        """Record that a write under this key is committing with this transaction; False if the key is taken."""

    @abc.abstractmethod
    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None: ...
    @abc.abstractmethod
    def complete_idempotency(self, scope: str, key: str, status: int, body: bytes, headers: str) -> None:
        """Keep the answer given to the write that claimed the key."""

    @abc.abstractmethod
    def prune_idempotency(self, before: datetime) -> int:
        """Forget keys claimed before `before`; returns how many."""
