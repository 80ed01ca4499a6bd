"""Who saw what: every read of another party's declaration (single read, list, export, event, webhook) is recorded,
so that the declaring party can ask who has seen it. Reads check the audience as it is now: narrowing it takes a
party out of every later read at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from deconfliction.domain.declarations import Declaration
from deconfliction.domain.disclosure import may_see
from deconfliction.domain.errors import Forbidden, NotFound
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import format_time
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import StoredEvent
from deconfliction.storage.channel import View

VIAS = ("read", "list", "event", "webhook", "export", "ogc", "cot", "conflict")


def others(viewer: str, features: Iterable[dict[str, Any]]) -> list[str]:
    """Ids of the declarations among these Features that belong to other parties."""
    return [f["id"] for f in features if f["properties"].get("party") != viewer]


def record_job(ctx: Context, viewer: str, declaration_ids: list[str], via: str) -> Callable[[Outbox], None]:
    """A write job recording that `viewer` read these declarations (no-op for none)."""

    def job(out: Outbox) -> None:
        if not declaration_ids:
            return
        at = ctx.clock()
        out.tx.add_views([View(d, viewer, via, at) for d in declaration_ids])
        content = {"viewer": viewer, "declarations": declaration_ids, "via": via, "at": format_time(at)}
        detail: dict[str, str | int | bool | None] = {"via": via, "count": len(declaration_ids)}
        out.record("declarations.viewed", viewer, tuple(declaration_ids), digest_of(content), at, detail)

    return job


def disclosed(out: Outbox, a: Declaration, b: Declaration, at: datetime) -> None:
    """A conflict between `a` and `b` just told each party something of the other's declaration: where that one is
    hidden from it, the telling is a view (`via: "conflict"`) the owner finds in its declaration's views.

    The record holds the conflict (conflict.opened) but no `declarations.viewed` entry for it: an entry naming the
    hidden declaration beside the conflict would let every reader of the record link the two.
    """
    for d, viewer in ((a, b), (b, a)):
        if not may_see(d, viewer.party):
            disclosed_to(out, d.id, viewer.party, at)


def disclosed_to(out: Outbox, declaration_id: str, viewer: str, at: datetime) -> None:
    """`viewer` was told something of this declaration, hidden from it, by a conflict (see `disclosed`)."""
    out.tx.add_views([View(declaration_id, viewer, "conflict", at)])


def record(ctx: Context, viewer: str, declaration_ids: list[str], via: str) -> None:
    """Record the reads durably before the caller is answered (nothing to do when it read only its own)."""
    if declaration_ids:
        ctx.write(record_job(ctx, viewer, declaration_ids, via))


def views_of(ctx: Context, party: str, declaration_id: str, after: int, limit: int) -> list[tuple[int, View]]:
    """Who read the caller's declaration, oldest first (owner only)."""
    with ctx.store.read() as tx:
        found = tx.get_declaration(declaration_id)
        if found is None or (
            found.party != party and declaration_id not in tx.visible_declaration_ids(party, [declaration_id])
        ):
            raise NotFound(f"no declaration {declaration_id!r} visible to {party!r}")
        if found.party != party:
            raise Forbidden(f"only {found.party!r}, who declared {declaration_id!r}, sees who has read it")
        return tx.views_of(declaration_id, after, limit)


def deliverable(ctx: Context, party: str, events: list[StoredEvent]) -> tuple[list[StoredEvent], list[str]]:
    """The events `party` may still receive, and the declarations they show it.

    A `declaration.shared` event whose declaration is no longer shared with the party (consent withdrawn since) is
    held back: the stream never shows what the audience no longer includes.
    """
    shared = [e.data["declaration"]["id"] for e in events if e.type == "declaration.shared"]
    if not shared:
        return events, []
    with ctx.store.read() as tx:
        visible = tx.visible_declaration_ids(party, shared)
    kept = [e for e in events if e.type != "declaration.shared" or e.data["declaration"]["id"] in visible]
    return kept, [d for d in shared if d in visible]


def view_json(seq: int, view: View) -> dict[str, Any]:
    return {"seq": seq, "party": view.party, "via": view.via, "at": format_time(view.at)}
