"""Parties and links: the admin's use cases."""

from __future__ import annotations

from datetime import datetime

from deconfliction.domain.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from deconfliction.domain.parties import Link, Party, PartyStatus, RelayMode, check_new_party_id
from deconfliction.domain.signing import digest_of, public_key_from_b64
from deconfliction.domain.text import check_text
from deconfliction.services.auth import hash_token, new_token
from deconfliction.services.context import Context
from deconfliction.services.messages import resume_waiting_on
from deconfliction.services.writer import Outbox


def check_public_key(value: object, field: str = "public_key") -> str | None:
    """A raw 32-byte Ed25519 public key in canonical standard base64 (as the record's verifiers require); None
    allowed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a base64 string", field=field)
    try:
        public_key_from_b64(value, field)
    except ValueError:  # 32 bytes that are no Ed25519 public key
        raise InvalidInput(f"{field} is not an Ed25519 public key", field=field) from None
    return value


def create_party(ctx: Context, party_id: str, name: str, public_key: str | None) -> tuple[Party, str]:
    """Register a party; returns it and its first token (shown once)."""
    check_new_party_id(party_id)
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput("name must not contain control characters (line breaks, NUL, …)", field="name")
    check_text(name, "name")
    key = check_public_key(public_key)
    token = new_token()

    def job(out: Outbox) -> Party:
        if out.tx.get_party(party_id) is not None:
            raise AlreadyExists(f"party {party_id!r} already exists", field="id")
        party = Party(party_id, name.strip(), PartyStatus.ACTIVE, key, ctx.clock())
        out.tx.add_party(party)
        out.tx.add_token(hash_token(token), party_id, party.created_at)
        _record_party(out, "party.created", party, party.created_at)
        return party

    return ctx.write(job), token


def ensure_party(out: Outbox, party_id: str, name: str, at: datetime) -> Party:
    """Inside a write job: the party, created (without a token) on its first use — as a USS becomes a party of the
    channel the first time its access token is used (F3548). A party that may not write is refused."""
    party = out.tx.get_party(party_id)
    if party is None:
        party = Party(party_id, name, PartyStatus.ACTIVE, None, at)
        out.tx.add_party(party)
        _record_party(out, "party.created", party, party.created_at)
        out.changed("party", party_id, party.created_at)
    if party.status is not PartyStatus.ACTIVE:
        raise Forbidden(f"party {party_id!r} is {party.status.value}: it may read but not write")
    return party


def issue_token(ctx: Context, party_id: str) -> str:
    """Another token for an existing party (several per party are allowed)."""
    token = new_token()

    def job(out: Outbox) -> None:
        if out.tx.get_party(party_id) is None:
            raise NotFound(f"no party {party_id!r}")
        out.tx.add_token(hash_token(token), party_id, ctx.clock())

    ctx.write(job)
    return token


def update_party(ctx: Context, party_id: str, status: str | None, public_key: str | None, set_key: bool) -> Party:
    new_status = None
    if status is not None:
        try:
            new_status = PartyStatus(status)
        except ValueError:
            raise InvalidInput(
                f"status {status!r} is not one of active, suspended, withdrawn", field="status"
            ) from None
    key = check_public_key(public_key) if set_key else None

    def job(out: Outbox) -> Party:
        party = out.tx.get_party(party_id)
        if party is None:
            raise NotFound(f"no party {party_id!r}")
        at = ctx.clock()
        final_status = new_status or party.status
        final_key = key if set_key else party.public_key
        out.tx.update_party(party_id, final_status, final_key, at)
        updated = out.tx.get_party(party_id)
        assert updated is not None
        if final_status is not party.status or final_key != party.public_key:
            _record_party(out, "party.updated", updated, at)
        if final_status is not party.status:
            data = {"party": party_id, "status": final_status.value, "previous": party.status.value}
            for other in out.tx.list_parties():
                out.emit(other.id, "party.status_changed", data, at)
            if final_status is PartyStatus.ACTIVE:
                resume_waiting_on(out, party_id, at)  # messages held for this party move on
        out.after_commit.append(ctx.tokens.clear)  # a new status takes effect on the next request
        out.changed("party", party_id, at)  # on every worker
        return updated

    return ctx.write(job)


def get_party(ctx: Context, party_id: str) -> Party:
    with ctx.store.read() as tx:
        found = tx.get_party(party_id)
    if found is None:
        raise NotFound(f"no party {party_id!r}")
    return found


def list_parties(ctx: Context) -> list[Party]:
    with ctx.store.read() as tx:
        return tx.list_parties()


def add_link(ctx: Context, a: str, b: str, relay: str) -> Link:
    mode = _relay_mode(relay)
    if a == b:
        raise InvalidInput("a link joins two different parties", field="b")

    def job(out: Outbox) -> Link:
        for field, pid in (("a", a), ("b", b)):
            if out.tx.get_party(pid) is None:
                raise InvalidInput(f"{field}: no party {pid!r}", field=field)
        if out.tx.get_link(a, b) is not None:
            raise AlreadyExists(f"parties {a!r} and {b!r} are already linked")
        first, second = Link.ordered(a, b)
        link = Link(first, second, mode, ctx.clock())
        out.tx.add_link(link)
        out.record(
            "link.created", "admin", (first, second), digest_of(_link_json(link)), link.created_at, _link_json(link)
        )
        for party in (first, second):
            resume_waiting_on(out, party, link.created_at)  # messages held since this link was removed move on
        return link

    return ctx.write(job)


def change_link(ctx: Context, a: str, b: str, relay: str) -> Link:
    mode = _relay_mode(relay)

    def job(out: Outbox) -> Link:
        link = out.tx.get_link(a, b)
        if link is None:
            raise NotFound(f"no link between {a!r} and {b!r}")
        if link.relay is not mode:
            link = Link(link.a, link.b, mode, link.created_at)
            out.tx.set_link(link)
            out.record(
                "link.updated", "admin", (link.a, link.b), digest_of(_link_json(link)), ctx.clock(), _link_json(link)
            )
        return link

    return ctx.write(job)


def remove_link(ctx: Context, a: str, b: str) -> None:
    """Remove a link. Messages already routed over it keep their route and wait where they are (flagged)."""

    def job(out: Outbox) -> None:
        link = out.tx.get_link(a, b)
        if link is None:
            raise NotFound(f"no link between {a!r} and {b!r}")
        out.tx.remove_link(a, b)
        out.record(
            "link.removed", "admin", (link.a, link.b), digest_of(_link_json(link)), ctx.clock(), _link_json(link)
        )

    ctx.write(job)


def _relay_mode(relay: str) -> RelayMode:
    try:
        return RelayMode(relay)
    except ValueError:
        raise InvalidInput(f"relay {relay!r} is not one of auto, review", field="relay") from None


def _link_json(link: Link) -> dict[str, str | int | bool | None]:
    return {"a": link.a, "b": link.b, "relay": link.relay.value}


def _record_party(out: Outbox, type_: str, party: Party, at: datetime) -> None:
    """Party entries carry the registered key: an offline verifier checks party signatures against it."""
    detail: dict[str, str | int | bool | None] = {
        "name": party.name,
        "status": party.status.value,
        "public_key": party.public_key,
    }
    out.record(type_, "admin", (party.id,), digest_of(detail), at, detail)


def list_links(ctx: Context) -> list[Link]:
    with ctx.store.read() as tx:
        return tx.list_links()


def record_existing(ctx: Context) -> int:
    """A channel upgraded from before the record: enter its parties (with their keys) and links, so that the record
    can check later signatures. Does nothing once the record has begun. Returns the entries written."""

    def job(out: Outbox) -> int:
        if out.tx.ledger_head() is not None:
            return 0
        at = ctx.clock()
        existing = out.tx.list_parties()
        for party in existing:
            _record_party(out, "party.updated", party, at)
        links = out.tx.list_links()
        for link in links:
            out.record("link.created", "admin", (link.a, link.b), digest_of(_link_json(link)), at, _link_json(link))
        return len(existing) + len(links)

    return ctx.write(job)
