"""Notifications of declarations shared with a party, and their signed acknowledgements ("received", not "approved")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deconfliction.domain.disclosure import may_see
from deconfliction.domain.errors import Forbidden, InvalidInput, NotFound
from deconfliction.domain.notifications import STATUSES, Notification
from deconfliction.domain.signing import Purpose
from deconfliction.services.context import Context
from deconfliction.services.signatures import check_signature
from deconfliction.services.writer import Outbox


def list_for(
    ctx: Context, party: str, status: str | None, limit: int, before: int | None
) -> list[tuple[int, Notification]]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    with ctx.store.read() as tx:
        return tx.list_notifications(party, status, limit, before)


def get(ctx: Context, party: str, notification_id: str) -> Notification:
    with ctx.store.read() as tx:
        found = tx.get_notification(notification_id)
    if found is None or found.party != party:
        raise NotFound(f"no notification {notification_id!r} of party {party!r}")
    return found


def acknowledge(
    ctx: Context, party: str, notification_id: str, signature: object
) -> Callable[[Outbox], dict[str, Any]]:
    def job(out: Outbox) -> dict[str, Any]:
        found = out.tx.get_notification(notification_id)
        if found is None or found.party != party:
            raise NotFound(f"no notification {notification_id!r} of party {party!r}")
        if found.acked_at is not None:
            return found.view()
        signed = check_signature(out.tx, party, Purpose.ACK, found.digest, signature, required_when_keyed=True)
        at = ctx.clock()
        acked = found.acknowledged(None if signed is None else signed[3], at)
        out.tx.save_notification(acked)
        out.record(
            "notification.acknowledged",
            party,
            (acked.id, acked.declaration),
            acked.digest,
            at,
            {"version": acked.version},
            signed,
        )
        view = acked.view()
        out.emit(acked.owner, "notification.acknowledged", view, at)
        return view

    return job


def of_declaration(ctx: Context, party: str, declaration_id: str) -> list[Notification]:
    """Who was notified of the caller's declaration, and who acknowledged it (owner only)."""
    with ctx.store.read() as tx:
        found = tx.get_declaration(declaration_id)
        if found is None or not may_see(found, party):
            raise NotFound(f"no declaration {declaration_id!r} visible to {party!r}")
        if found.party != party:
            raise Forbidden(f"only {found.party!r}, who declared {declaration_id!r}, sees who was notified of it")
        return tx.notifications_of_declaration(declaration_id)
