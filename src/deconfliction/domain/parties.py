"""Parties of the channel and the links between them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from deconfliction.domain.errors import InvalidInput

PARTY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The record's actors other than parties: a party named so would make `actor: "admin"` ambiguous.
RESERVED_PARTY_IDS = frozenset({"admin", "server"})


class PartyStatus(StrEnum):
    ACTIVE = "active"  # declares, is warned, messages pass through it
    SUSPENDED = "suspended"  # may read; may not write (declare, acknowledge); messages to it wait
    WITHDRAWN = "withdrawn"  # has left the channel; its token no longer works; its record stays


class RelayMode(StrEnum):
    AUTO = "auto"  # the intermediary forwards at once
    REVIEW = "review"  # a person at the intermediary reviews what passes


def check_party_id(value: object, field: str = "id") -> str:
    if not isinstance(value, str) or not PARTY_ID.fullmatch(value):  # fullmatch: `$` also matches before a "\n"
        raise InvalidInput(
            f"{field} must be 1-63 characters of lowercase letters, digits, '-' or '_', starting with a letter "
            "or digit (e.g. 'sdf')",
            field=field,
        )
    return value


def check_new_party_id(value: object, field: str = "id") -> str:
    """An id a new party may be registered with: a party id, and not one the record reserves for its actors."""
    check_party_id(value, field)
    if value in RESERVED_PARTY_IDS:
        raise InvalidInput(
            f"{field} {value!r} is reserved: the record names the admin and the server so; choose another id",
            field=field,
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    status: PartyStatus
    public_key: str | None
    created_at: datetime

    def summary(self) -> dict[str, str | None]:
        """What every party may know of another: including its public key, to verify what it signs."""
        return {"id": self.id, "name": self.name, "status": self.status.value, "public_key": self.public_key}


@dataclass(frozen=True, slots=True)
class Link:
    """An undirected line of communication between two parties (stored with a < b)."""

    a: str
    b: str
    relay: RelayMode
    created_at: datetime

    @staticmethod
    def ordered(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a < b else (b, a)
