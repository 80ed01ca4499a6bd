"""Reading and acknowledging conflicts. Acknowledging means "we have seen it", never "we approve"."""

from __future__ import annotations

from typing import Any

from deconfliction.domain.errors import InvalidInput, NotFound
from deconfliction.domain.signing import Purpose
from deconfliction.services.context import Context
from deconfliction.services.declarations import conflict_view, views_of
from deconfliction.services.signatures import check_signature
from deconfliction.services.writer import Outbox

STATUSES = ("open", "acknowledged", "resolved")


def list_conflicts(ctx: Context, party: str, status: str | None, limit: int) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    with ctx.store.read() as tx:
        conflicts = tx.list_conflicts(party, status, limit)
    return views_of(ctx, party, conflicts)


def get_conflict(ctx: Context, party: str, conflict_id: str) -> dict[str, Any]:
    with ctx.store.read() as tx:
        conflict = tx.get_conflict(conflict_id)
        if conflict is None or not conflict.involves(party):
            raise NotFound(f"no conflict {conflict_id!r} of party {party!r}")
        return conflict_view(tx, conflict, party)


def acknowledge(ctx: Context, party: str, conflict_id: str, signature: object = None) -> dict[str, Any]:
    """Record that `party` has seen the conflict, signed when it sends a signature over the conflict's digest; the
    other party is told. Repeating it changes nothing."""

    def job(out: Outbox) -> dict[str, Any]:
        conflict = out.tx.get_conflict(conflict_id)
        if conflict is None or not conflict.involves(party):
            raise NotFound(f"no conflict {conflict_id!r} of party {party!r}")
        own, other = conflict.side(party)
        if own.acknowledged_at is None:
            signed = check_signature(out.tx, party, Purpose.ACK, conflict.digest, signature, required_when_keyed=False)
            at = ctx.clock()
            conflict = conflict.acknowledged_by(party, at, None if signed is None else signed[3])
            out.tx.save_conflict(conflict)
            out.record("conflict.acknowledged", party, (conflict.id,), conflict.digest, at, {}, signed)
            out.emit(other.party, "conflict.acknowledged", conflict_view(out.tx, conflict, other.party), at)
        return conflict_view(out.tx, conflict, party)

    return ctx.write(job)
