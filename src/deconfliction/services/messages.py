"""Messages: sent along the shortest route of links, relayed (or reviewed) by intermediaries, acknowledged.

Every step is recorded in the ledger with the message's digest, and told to whom it concerns: the recipient when it
arrives, the reviewing intermediary when it waits for a decision, the sender at every change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from deconfliction.domain.errors import Forbidden, InvalidInput, NotFound, StateConflict
from deconfliction.domain.messages import MAX_NOTE_CHARS, Message, MessageContent, MessageStatus, Waiting
from deconfliction.domain.parties import Link, PartyStatus, RelayMode
from deconfliction.domain.routing import find_route
from deconfliction.domain.signing import Purpose
from deconfliction.domain.text import check_text
from deconfliction.services.context import Context
from deconfliction.services.signatures import check_signature
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Tx

BOXES = ("inbox", "outbox", "relay", "all")


def _network(tx: Tx) -> tuple[list[Link], dict[str, PartyStatus], Callable[[str, str], RelayMode | None]]:
    links = tx.list_links()
    statuses = {p.id: p.status for p in tx.list_parties()}
    modes = {(link.a, link.b): link.relay for link in links}
    return links, statuses, lambda a, b: modes.get(Link.ordered(a, b))


def _move(out: Outbox, message: Message, at: datetime) -> Message:
    """Advance the message as far as it may go now; store, record and tell each step."""
    _, statuses, mode = _network(out.tx)
    moved = message.advance(statuses, mode, at)
    out.tx.save_message(moved)
    for step in moved.steps:
        detail: dict[str, str | int | bool | None] = {"party": step.party}
        if step.type == "message.held":
            detail["waiting"] = None if moved.waiting is None else moved.waiting.value
            detail["on"] = moved.waiting_on
        actor = step.party if step.type == "message.relayed" else "server"
        out.record(step.type, actor, (moved.id,), moved.digest, at, detail)
    view = moved.view()
    for step in moved.steps:
        if step.type == "message.delivered":
            out.emit(moved.content.recipient, "message.received", view, at)
        elif step.type == "message.held" and moved.waiting is Waiting.REVIEW:
            out.emit(step.party, "message.review_requested", view, at)
    if moved.steps:
        out.emit(moved.content.sender, "message.updated", {"change": moved.steps[-1].type, "message": view}, at)
    return moved


def send(ctx: Context, sender: str, data: object) -> Callable[[Outbox], dict[str, Any]]:
    """Validate now; the returned job routes, records and moves the message on the writer."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object with to, subject, body", field="body")
    unknown = set(data) - {"to", "subject", "body", "refs", "ack_by", "signature"}
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    content = MessageContent.parse(sender, data)
    signature = data.get("signature")

    def job(out: Outbox) -> dict[str, Any]:
        tx = out.tx
        if tx.get_party(content.recipient) is None:
            raise InvalidInput(f"to: no party {content.recipient!r}", field="to")
        visible = tx.visible_declaration_ids(sender, list(content.refs))
        for i, ref in enumerate(content.refs):
            if ref not in visible:
                raise InvalidInput(f"refs[{i}]: no declaration {ref!r} visible to {sender!r}", field=f"refs[{i}]")
        signed = check_signature(tx, sender, Purpose.MESSAGE, content.digest, signature, required_when_keyed=False)
        if signed is not None and (used := tx.message_with_signature(signed[3])) is not None:
            raise InvalidInput(
                f"this signature was already used by message {used!r}: a signed message is accepted once",
                field="signature",
            )
        links, statuses, _ = _network(tx)
        route = find_route(links, statuses, sender, content.recipient)
        if route is None:
            raise InvalidInput(
                f"no path of links joins {sender!r} and {content.recipient!r}: the message cannot be routed; ask "
                "the admin to link the parties (POST /v1/links)",
                field="to",
            )
        at = ctx.clock()
        message = Message.new(str(uuid.uuid4()), content, None if signed is None else signed[3], route, at)
        out.record("message.sent", sender, (message.id,), message.digest, at, {"to": content.recipient}, signed)
        return _move(out, message, at).view()

    return job


def _visible(tx: Tx, party: str, message_id: str) -> Message:
    message = tx.get_message(message_id)
    if message is None or not (message.content.sender == party or message.reached(party)):
        raise NotFound(f"no message {message_id!r} visible to {party!r}")
    return message


def get(ctx: Context, party: str, message_id: str) -> Message:
    with ctx.store.read() as tx:
        return _visible(tx, party, message_id)


def mark_read(ctx: Context, party: str, message_id: str) -> Callable[[Outbox], dict[str, Any]]:
    """The recipient opened it: `read`, told to the sender (once)."""

    def job(out: Outbox) -> dict[str, Any]:
        message = _visible(out.tx, party, message_id)
        if party != message.content.recipient or message.status is not MessageStatus.DELIVERED:
            return message.view()
        at = ctx.clock()
        message = message.read_by_recipient(at)
        out.tx.save_message(message)
        out.record("message.read", party, (message.id,), message.digest, at)
        view = message.view()
        out.emit(message.content.sender, "message.updated", {"change": "message.read", "message": view}, at)
        return view

    return job


def list_box(ctx: Context, party: str, box: str, limit: int, before: int | None) -> list[tuple[int, Message]]:
    if box not in BOXES:
        raise InvalidInput(f"box {box!r} is not one of {', '.join(BOXES)}", field="box")
    with ctx.store.read() as tx:
        return tx.list_messages(party, box, limit, before)


def relay(ctx: Context, party: str, message_id: str, decision: str, note: str | None) -> Callable[[Outbox], Any]:
    """An intermediary's decision on a message awaiting its review: approve (with an optional note) or refuse (with a
    reason the sender sees). Neither can change what the message says."""
    if decision not in ("approve", "refuse"):
        raise InvalidInput(f"decision {decision!r} is not one of approve, refuse", field="decision")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"note has {len(note)} characters; at most {MAX_NOTE_CHARS} are allowed", field="note")
    if note is not None:
        check_text(note, "note")
    if decision == "refuse" and not (note or "").strip():
        raise InvalidInput("refusing needs a reason in 'note': the sender is told it", field="note")

    def job(out: Outbox) -> dict[str, Any]:
        message = _visible(out.tx, party, message_id)
        if message.waiting is not Waiting.REVIEW or message.holder != party:
            raise StateConflict(f"message {message_id!r} is not in {party!r}'s relay box (nothing to review)")
        at = ctx.clock()
        if decision == "refuse":
            assert note is not None
            refused = message.refuse(party, note, at)
            out.tx.save_message(refused)
            out.record("message.refused", party, (refused.id,), refused.digest, at)
            view = refused.view()
            out.emit(refused.content.sender, "message.updated", {"change": "message.refused", "message": view}, at)
            return view
        return _move(out, message.approve(party, note, at), at).view()

    return job


def acknowledge(ctx: Context, party: str, message_id: str, signature: object) -> Callable[[Outbox], dict[str, Any]]:
    """The recipient says it received the message — never that it approves. Signed when the recipient has a key."""

    def job(out: Outbox) -> dict[str, Any]:
        message = _visible(out.tx, party, message_id)
        if party != message.content.recipient:
            raise Forbidden(f"only the recipient {message.content.recipient!r} acknowledges message {message_id!r}")
        if message.status is MessageStatus.ACKNOWLEDGED:
            return message.view()
        signed = check_signature(out.tx, party, Purpose.ACK, message.digest, signature, required_when_keyed=True)
        at = ctx.clock()
        message = message.acknowledged(None if signed is None else signed[3], at)
        out.tx.save_message(message)
        out.record("message.acknowledged", party, (message.id,), message.digest, at, {}, signed)
        view = message.view()
        for concerned in (message.content.sender, *message.intermediaries):
            out.emit(concerned, "message.updated", {"change": "message.acknowledged", "message": view}, at)
        return view

    return job


def resume_waiting_on(out: Outbox, party: str, at: datetime) -> None:
    """`party` is active again, or a link to it is back: the messages held for it move on as far as they may now
    (those awaiting a review stay)."""
    for message in out.tx.messages_waiting_on(party):
        if message.waiting in (Waiting.INACTIVE, Waiting.UNLINKED):
            _move(out, message, at)
