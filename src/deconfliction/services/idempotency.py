"""Idempotency keys: a client that retries a POST after a timeout must never create a second record.

The HTTP layer (api/idempotency.py) sets `CURRENT` for a request that carries an `Idempotency-Key`. The first
write job that request runs claims the key in the same transaction as its own changes (writer.py): the claim and
the write commit together or not at all, so a write that committed always leaves its key behind — even when its
answer never reached the client — and a retry, or a second request racing the first through another worker, finds
the key taken instead of writing again.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from deconfliction.domain.errors import StateConflict
from deconfliction.storage.base import Tx


@dataclass
class Claim:
    scope: str  # whose key: a digest of the request's credential
    key: str
    fingerprint: str  # digest of the request: method, path, query and body
    claimed: bool = False  # a write job of this request committed under the key

    def take(self, tx: Tx) -> None:
        """Claim the key inside a write job's transaction; refuse the job if another request holds it."""
        if not tx.claim_idempotency(self.scope, self.key, self.fingerprint, datetime.now(UTC)):
            raise StateConflict(
                "a request with this Idempotency-Key is being processed or has been processed; retry it to get "
                "its answer",
                field="Idempotency-Key",
            )


CURRENT: ContextVar[Claim | None] = ContextVar("deconf_idempotency_claim", default=None)
