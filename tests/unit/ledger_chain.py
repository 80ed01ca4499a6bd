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

    def next_at(self) -> str:
        """The time of the next entry: a few minutes apart, some with a fraction of a second."""
        n = len(self.entries)
        return f"2030-01-07T10:{n:02d}:{7 * n % 60:02d}" + (".250000Z" if n % 5 == 4 else "Z")

    def event(
        self,
        type_: str,
        actor: str,
        subject: tuple[str, ...],
        digest: str,
        detail: Detail | None = None,
        signed: tuple[str, SigningKey, Purpose] | None = None,
    ) -> dict[str, Any]:
        sig = None
        if signed is not None:
            party, key, purpose = signed
            sig = PartySignature(party, key.public_key_b64, purpose, key.sign(purpose, digest))
        return self.add(Change(self.next_at(), type_, actor, subject, digest, detail or {}, sig))

    def party(self, type_: str, party: str, name: str, key: SigningKey | None) -> dict[str, Any]:
        """A party.created / party.updated entry: its digest is of its detail, the party's record."""
        detail: Detail = {"name": name, "status": "active", "public_key": None if key is None else key.public_key_b64}
        return self.event(type_, "admin", (party,), digest_of(detail), detail)

    def link(self, a: str, b: str, relay: str) -> dict[str, Any]:
        detail: Detail = {"a": a, "b": b, "relay": relay}
        return self.event("link.created", "admin", (a, b), digest_of(detail), detail)

    def viewed(self, viewer: str, declarations: tuple[str, ...], via: str) -> dict[str, Any]:
        """A declarations.viewed entry: its digest is of the query."""
        query = {"viewer": viewer, "declarations": list(declarations), "via": via, "at": self.next_at()}
        return self.event("declarations.viewed", viewer, declarations, digest_of(query), {"via": via, "count": 1})

    def data(self) -> bytes:
        return b"".join(line(e) for e in self.entries)

    @property
    def lines(self) -> list[bytes]:
        return [line(e) for e in self.entries]


SDF, SAA, SDF_NEW, STRANGER = fixed_key(2), fixed_key(3), fixed_key(4), fixed_key(5)


def build_chain() -> Chain:
    """22 entries, each as the server writes it: parties with and without keys, a key rotation, links, a
    declaration's life, a notification and its signed acknowledgement, a conflict, a message relayed and
    acknowledged with signatures, a view; escapes and non-ASCII in names.
    """
    c = Chain()
    decl1 = digest_of({"declaration": feature(1), "salt": SALT})
    decl2 = digest_of({"declaration": feature(2), "salt": SALT})
    msg = digest_of(MESSAGE)
    conflict = digest_of({"conflict": "c-9", "kind": "declarations", "opened_at": "2030-01-07T10:08:56Z"})
    c.party("party.created", "sdf", "Syrian Democratic Forces — قسد", SDF)
    c.party("party.created", "saa", 'SAA "as is" \\ back', SAA)
    c.party("party.created", "coalition", "Coalition", None)
    c.link("coalition", "sdf", "auto")
    c.link("coalition", "saa", "review")
    c.event("declaration.created", "sdf", (DECLARATION_ID,), decl1, {"version": 1})
    c.event("declaration.notified", "server", ("n-1", DECLARATION_ID), decl1, {"version": 1, "party": "saa"})
    c.event(
        "notification.acknowledged", "saa", ("n-1", DECLARATION_ID), decl1, {"version": 1}, ("saa", SAA, Purpose.ACK)
    )
    c.event("conflict.opened", "server", ("c-9",), conflict, {"a": "sdf", "b": "saa"})
    c.event("conflict.acknowledged", "sdf", ("c-9",), conflict, {}, ("sdf", SDF, Purpose.ACK))
    c.event("message.sent", "sdf", (MESSAGE_ID,), msg, {"to": "saa"}, ("sdf", SDF, Purpose.MESSAGE))
    c.event("message.relayed", "sdf", (MESSAGE_ID,), msg, {"party": "sdf"})
    c.event(
        "message.held", "server", (MESSAGE_ID,), msg, {"on": "coalition", "party": "coalition", "waiting": "review"}
    )
    c.event("message.relayed", "coalition", (MESSAGE_ID,), msg, {"party": "coalition"})
    c.event("message.delivered", "server", (MESSAGE_ID,), msg, {"party": "saa"})
    c.event("message.read", "saa", (MESSAGE_ID,), msg)
    c.event("message.acknowledged", "saa", (MESSAGE_ID,), msg, {}, ("saa", SAA, Purpose.ACK))
    c.party("party.updated", "sdf", "Syrian Democratic Forces — قسد", SDF_NEW)
    c.event("declaration.updated", "sdf", (DECLARATION_ID,), decl2, {"version": 2})
    c.event(
        "message.sent",
        "sdf",
        ("m-43",),
        digest_of({**MESSAGE, "body": "second"}),
        {"to": "saa"},
        ("sdf", SDF_NEW, Purpose.MESSAGE),
    )
    c.viewed("saa", (DECLARATION_ID,), "list")
    c.event("declaration.cancelled", "sdf", (DECLARATION_ID,), decl2, {"version": 2})
    return c
