"""Notifications: a declaration shared with a party is something that party must acknowledge, by a deadline.

Acknowledging means "received", never "approved"; a missed deadline escalates to the declaring party, it never
blocks the activity: the channel notifies, it does not permit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from deconfliction.domain.errors import StateConflict
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import format_time

# what a party may filter its notifications by; "unacknowledged" is pending and overdue together
STATUSES = ("pending", "overdue", "acknowledged", "superseded", "unacknowledged")


def declaration_digest(feature: dict[str, Any], salt: str) -> str:
    """The digest the record keeps of a declaration version: salted, so hidden geometry cannot be guessed from it."""
    return digest_of({"declaration": feature, "salt": salt})


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    party: str  # who must acknowledge
    owner: str  # who declared
    declaration: str
    version: int
    digest: str
    salt: str
    created_at: datetime
    ack_by: datetime | None
    acked_at: datetime | None = None
    ack_signature: str | None = None
    overdue_at: datetime | None = None
    superseded_at: datetime | None = None  # a newer version was shared, or the declaration was unshared/cancelled

    @property
    def status(self) -> str:
        if self.acked_at is not None:
            return "acknowledged"
        if self.superseded_at is not None:
            return "superseded"
        if self.overdue_at is not None:
            return "overdue"
        return "pending"

    def acknowledged(self, signature: str | None, at: datetime) -> Notification:
        if self.acked_at is not None:
            return self
        if self.superseded_at is not None:
            raise StateConflict(
                f"notification {self.id!r} is superseded by a newer version of declaration {self.declaration!r}; "
                "acknowledge the newest notification instead"
            )
        return replace(self, acked_at=at, ack_signature=signature)

    def view(self) -> dict[str, Any]:
        def t(value: datetime | None) -> str | None:
            return None if value is None else format_time(value)

        return {
            "id": self.id,
            "party": self.party,
            "from": self.owner,
            "declaration": self.declaration,
            "version": self.version,
            "digest": self.digest,
            "salt": self.salt,
            "status": self.status,
            "created_at": format_time(self.created_at),
            "ack_by": t(self.ack_by),
            "acknowledged_at": t(self.acked_at),
            "signature": self.ack_signature,
            "signed": self.ack_signature is not None,
            "overdue_at": t(self.overdue_at),
            "superseded_at": t(self.superseded_at),
        }
