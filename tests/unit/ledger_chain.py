"""A realistic ledger for the ledger tests: ~20 varied entries sealed with real keys, and the content behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.domain.signing import Purpose, SigningKey, digest_of
from deconfliction.ledger.entry import Change, Detail, PartySignature, line, seal

DECLARATION_ID = "d-7c1f"
MESSAGE_ID = "m-42"
SALT = "5f0c9a3e1b7d2468ace013579bdf2468"


def fixed_key(n: int) -> SigningKey:
    """A deterministic key, so that failures reproduce byte for byte."""
    return SigningKey(Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32))


def feature(version: int) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": DECLARATION_ID,
        "geometry": {"type": "Polygon", "coordinates": [[[40.1, 35.3], [40.2, 35.3], [40.2, 35.4], [40.1, 35.3]]]},
        "properties": {"kind": "area", "name": "Ḥasakah – north", "party": "sdf", "version": version},
    }


MESSAGE: dict[str, Any] = {
    "from": "sdf",
    "to": "saa",
    "subject": "Patrol near Tall Tamr",
    "body": "Two vehicles, 05:00-07:00Z.\nPlease acknowledge.",
    "refs": [DECLARATION_ID],
    "ack_by": "2030-01-07T12:00:00Z",
}


@dataclass
class Chain:
    """Entries sealed one after the other by `server`; `add` places and seals the next."""

    server: SigningKey = field(default_factory=lambda: fixed_key(1))
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, change: Change) -> dict[str, Any]:
        prev = self.entries[-1]["hash"] if self.entries else "0" * 64
        entry = seal(change, len(self.entries) + 1, prev, self.server)
        self.entries.append(entry)
        return entry

    def event(
        self,
        type_: str,
        actor: str,
        subject: tuple[str, ...],
        digest: str,
        detail: Detail | None = None,
        signed: tuple[str, SigningKey, Purpose] | None = None,
    ) -> dict[str, Any]:
        n = len(self.entries)
        at = f"2030-01-07T10:{n:02d}:{7 * n % 60:02d}" + (".250Z" if n % 5 == 4 else "Z")
        sig = None
        if signed is not None:
            party, key, purpose = signed
            sig = PartySignature(party, key.public_key_b64, purpose, key.sign(purpose, digest))
        return self.add(Change(at, type_, actor, subject, digest, detail or {}, sig))

    def data(self) -> bytes:
        return b"".join(line(e) for e in self.entries)

    @property
    def lines(self) -> list[bytes]:
        return [line(e) for e in self.entries]


SDF, SAA, SDF_NEW, STRANGER = fixed_key(2), fixed_key(3), fixed_key(4), fixed_key(5)


def build_chain() -> Chain:
    """22 entries: parties with and without keys, a key rotation, links, a declaration's life, a notification and
    its signed acknowledgement, a conflict, a message relayed and acknowledged with signatures, escapes and non-ASCII.
    """
    c = Chain()
    decl1 = digest_of({"declaration": feature(1), "salt": SALT})
    decl2 = digest_of({"declaration": feature(2), "salt": SALT})
    msg = digest_of(MESSAGE)
    conflict = digest_of({"conflict": "c-9", "declarations": [DECLARATION_ID, "d-0b2e"]})
    c.event(
        "party.created",
        "admin",
        ("sdf",),
        digest_of({"id": "sdf"}),
        {"status": "active", "public_key": SDF.public_key_b64},
    )
    c.event(
        "party.created",
        "admin",
        ("saa",),
        digest_of({"id": "saa"}),
        {"status": "active", "public_key": SAA.public_key_b64},
    )
    c.event(
        "party.created",
        "admin",
        ("coalition",),
        digest_of({"id": "coalition"}),
        {"status": "active", "public_key": None},
    )
    c.event("link.created", "admin", ("sdf", "coalition"), digest_of({"a": "sdf", "b": "coalition"}), {"relay": "auto"})
    c.event(
        "link.created",
        "admin",
        ("coalition", "saa"),
        digest_of({"a": "coalition", "b": "saa"}),
        {"relay": "review", "note": "خط التماس — review"},
    )
    c.event("declaration.created", "sdf", (DECLARATION_ID,), decl1, {"version": 1, "status": "active"})
    c.event("declaration.notified", "server", ("n-1", DECLARATION_ID), decl1, {"version": 1, "party": "saa"})
    c.event(
        "notification.acknowledged", "saa", ("n-1", DECLARATION_ID), decl1, {"version": 1}, ("saa", SAA, Purpose.ACK)
    )
    c.event(
        "conflict.opened",
        "server",
        ("c-9", DECLARATION_ID, "d-0b2e"),
        conflict,
        {"a": "sdf", "b": "saa", "required_m": 2000},
    )
    c.event("conflict.acknowledged", "sdf", ("c-9",), conflict, {}, ("sdf", SDF, Purpose.ACK))
    c.event("message.sent", "sdf", (MESSAGE_ID,), msg, {"to": "saa", "hops": 3}, ("sdf", SDF, Purpose.MESSAGE))
    c.event("message.relayed", "sdf", (MESSAGE_ID,), msg, {"to": "coalition"})
    c.event(
        "message.held", "server", (MESSAGE_ID,), msg, {"on": "coalition", "party": "coalition", "waiting": "review"}
    )
    c.event("message.relayed", "coalition", (MESSAGE_ID,), msg, {"note": 'ok "as is" \\ line1\nline2\ttab\u0007'})
    c.event("message.delivered", "server", (MESSAGE_ID,), msg, {"party": "saa"})
    c.event("message.read", "saa", (MESSAGE_ID,), msg)
    c.event("message.acknowledged", "saa", (MESSAGE_ID,), msg, {"late": False}, ("saa", SAA, Purpose.ACK))
    c.event(
        "party.updated",
        "admin",
        ("sdf",),
        digest_of({"id": "sdf", "v": 2}),
        {"status": "active", "public_key": SDF_NEW.public_key_b64},
    )
    c.event("declaration.updated", "sdf", (DECLARATION_ID,), decl2, {"version": 2, "status": "active"})
    c.event(
        "message.sent",
        "sdf",
        ("m-43",),
        digest_of({**MESSAGE, "body": "second"}),
        {"to": "saa"},
        ("sdf", SDF_NEW, Purpose.MESSAGE),
    )
    c.event(
        "declarations.viewed", "saa", (), digest_of({"bbox": [40, 35, 41, 36]}), {"count": 3, "bbox": None, "all": True}
    )
    c.event(
        "declaration.cancelled", "sdf", (DECLARATION_ID,), decl2, {"version": 2, "status": "cancelled", "at_ms": -1}
    )
    return c
