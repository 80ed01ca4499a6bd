"""One ledger entry: its canonical form, its hash, and the server's signature over that hash.

An entry is a JSON object with exactly these members (docs/ledger.md says the same for outside verifiers):

    seq             1, 2, 3, … with no gap
    at              the time of the state change, RFC 3339 UTC with `Z`
    type            what happened, e.g. "message.relayed"
    actor           the party that acted, "admin", or "server" (no party may be registered with those ids)
    subject         the ids the entry is about (declaration, message, conflict, notification, party…)
    digest          lowercase hex SHA-256 of the canonical content of the change (never the content itself)
    detail          small facts that disclose nothing need-to-know hides (a status, a public key, a decision)
    party_signature null, or {"party", "public_key", "purpose": "message" | "ack" | "agree", "signature"}: the
                    party's Ed25519 signature over b"deconf/<purpose>/v1\\n" + the 32 digest bytes
    prev            the previous entry's `hash` ("0" * 64 for seq 1)
    hash            SHA-256 hex of the canonical JSON (RFC 8785) of the entry without `hash` and `signature`
    signature       the server's Ed25519 signature over b"deconf/ledger/v1\\n" + the 32 hash bytes, base64

What each type of entry holds (actor, subject, detail, digest, party signature) is in rules.py. An exported ledger
is one entry per line, each line exactly the canonical JSON of the entry, ending in "\\n".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deconfliction.domain.signing import Purpose, SigningKey, canonical_plain, digest_of, sha256_hex

FIELDS = ("seq", "at", "type", "actor", "subject", "digest", "detail", "party_signature", "prev", "hash", "signature")
HASHED_FIELDS = FIELDS[:-2]
Detail = dict[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class PartySignature:
    party: str
    public_key: str
    purpose: Purpose
    signature: str

    def to_json(self) -> dict[str, str]:
        return {
            "party": self.party,
            "public_key": self.public_key,
            "purpose": self.purpose.value,
            "signature": self.signature,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """A state change to record, before the chain gives it a place (seq, prev) and the server signs it."""

    at: str
    type: str
    actor: str
    subject: tuple[str, ...]
    digest: str
    detail: Detail
    party_signature: PartySignature | None = None


def entry_hash(body: dict[str, Any]) -> str:
    """The hash of an entry: over its members other than `hash` and `signature`."""
    return sha256_hex(canonical_plain({k: body[k] for k in HASHED_FIELDS}))


def seal(change: Change, seq: int, prev: str, key: SigningKey) -> dict[str, Any]:
    """Place a change in the chain after `prev` and sign it: the entry as stored and exported."""
    body: dict[str, Any] = {
        "seq": seq,
        "at": change.at,
        "type": change.type,
        "actor": change.actor,
        "subject": list(change.subject),
        "digest": change.digest,
        "detail": dict(change.detail),
        "party_signature": None if change.party_signature is None else change.party_signature.to_json(),
        "prev": prev,
    }
    body["hash"] = entry_hash(body)
    body["signature"] = key.sign(Purpose.LEDGER, body["hash"])
    return body


def line(entry: dict[str, Any]) -> bytes:
    """An entry as one line of an export file."""
    return canonical_plain(entry) + b"\n"


__all__ = ["FIELDS", "Change", "Detail", "PartySignature", "digest_of", "entry_hash", "line", "seal"]
