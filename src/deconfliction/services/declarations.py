"""Declaring, revising and cancelling — each with its conflict check, atomically with the durable write."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconfliction.domain.conflicts import Conflict, ConflictSide, Finding, ResolvedReason
from deconfliction.domain.declarations import (
    Declaration,
    DeclarationSpec,
    DeclarationStatus,
    parse_feature,
)
from deconfliction.domain.disclosure import may_see
from deconfliction.domain.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    StateConflict,
)
from deconfliction.domain.notifications import declaration_digest
from deconfliction.domain.signing import new_salt
from deconfliction.services import lines as line_rules
from deconfliction.services import probing
from deconfliction.services.context import Context
from deconfliction.services.sharing import share
from deconfliction.services.views import disclosed
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Box, DeclarationQuery, Tx


@dataclass(frozen=True, slots=True)
class Written:
    """A declaration as just written, with the conflicts opened by writing it (and the writer's view of each)."""

    declaration: Declaration
    conflicts: list[Conflict]
    views: list[dict[str, Any]]


def _open_conflict(new: Declaration, other: Declaration, finding: Finding, at: datetime) -> Conflict:
    return Conflict(
        id=str(uuid.uuid4()),
        kind=finding.kind,
        a=ConflictSide(new.party, new.id, new.version, finding.location_a, uncertainty_m=finding.uncertainty_a_m),
        b=ConflictSide(other.party, other.id, other.version, finding.location_b, uncertainty_m=finding.uncertainty_b_m),
        distance_m=finding.distance_m,
        required_m=finding.required_m,
        window=finding.window,
        opened_at=at,
    )


def conflict_view(tx: Tx, conflict: Conflict, party: str) -> dict[str, Any]:
    """The conflict as `party` sees it; the other declaration's id only where its audience includes `party`."""
    _, other = conflict.side(party)
    visible = tx.visible_declaration_ids(party, [other.declaration])
    return conflict.view_for(party, other_visible=other.declaration in visible)


def _emit_conflict(
    out: Outbox, conflict: Conflict, type_: str, at: datetime, pair: tuple[Declaration, Declaration] | None = None
) -> dict[str, Any]:
    """Tell both parties; returns side a's view (the writer's, for a conflict just opened).

    `pair` (a's and b's declarations, when at hand) decides visibility in memory instead of asking the store.
    """
    if pair is None:
        views = [conflict_view(out.tx, conflict, side.party) for side in (conflict.a, conflict.b)]
    else:
        views = [
            conflict.view_for(conflict.a.party, other_visible=may_see(pair[1], conflict.a.party)),
            conflict.view_for(conflict.b.party, other_visible=may_see(pair[0], conflict.b.party)),
        ]
    for side, view in zip((conflict.a, conflict.b), views, strict=True):
        out.emit(side.party, type_, view, at)
    detail: dict[str, str | int | bool | None] = {"a": conflict.a.party, "b": conflict.b.party}
    if conflict.resolved_reason is not None:
        detail["reason"] = conflict.resolved_reason.value
    out.record(type_, "server", (conflict.id,), conflict.digest, at, detail)
    return views[0]


def _check_audience(tx: Tx, spec: DeclarationSpec) -> None:
    if isinstance(spec.audience, tuple):
        known = {p.id for p in tx.list_parties()}
        for party in spec.audience:
            if party not in known:
                raise InvalidInput(
                    f"properties.audience names {party!r}, which is not a party of the channel",
                    field="properties.audience",
                )


def _write(ctx: Context, out: Outbox, before: Declaration | None, after: Declaration) -> Written:
    """Resolve the old version's conflicts, open the new version's, store, share, stage in the picture."""
    at = after.updated_at
    reason = ResolvedReason.CANCELLED if after.status is DeclarationStatus.CANCELLED else ResolvedReason.UPDATED
    if before is not None:
        for old in out.tx.open_conflicts_of_declaration(after.id):
            resolved = old.resolved(reason, at, by=after.party)
            out.tx.save_conflict(resolved)
            _emit_conflict(out, resolved, "conflict.resolved", at)
            probing.note_ended(ctx, out, resolved, at)
    opened: list[Conflict] = []
    views: list[dict[str, Any]] = []
    if after.active:
        for other, finding in ctx.picture.conflicts_for(after):
            conflict = _open_conflict(after, other, finding, at)
            out.tx.save_conflict(conflict)
            views.append(_emit_conflict(out, conflict, "conflict.opened", at, (after, other)))
            disclosed(out, after, other, at)
            opened.append(conflict)
        crossed = line_rules.check_lines(out, after, at)  # accepted lines binding this party
        opened.extend(crossed.conflicts)
        views.extend(crossed.views)
        from deconfliction.services import tracks  # imports this module: bound here, not at import time

        views.extend(tracks.check_new_declaration(ctx, out, after, at))  # other parties' tracks near it, now
    boxes: list[Box] = ctx.picture.stored_boxes(after.spec)
    out.tx.save_declaration(after, boxes)
    salt = new_salt()
    digest = declaration_digest(after.to_feature(), salt)
    out.tx.save_declaration_digest(after.key, after.version, salt, digest)
    change = "created" if before is None else ("cancelled" if not after.active else "updated")
    out.record(f"declaration.{change}", after.party, (after.id,), digest, at, {"version": after.version})
    share(out, before, after, salt, digest, ctx.notification_ack_s, at)
    out.stage(after)  # later jobs of the same group must see it; undone if the commit fails
    return Written(after, opened, views)


def declare(ctx: Context, party: str, feature: object) -> Written:
    return ctx.write(declare_job(ctx, party, feature))


def declare_job(ctx: Context, party: str, feature: object) -> Callable[[Outbox], Written]:
    """Validate now (in the caller's thread); the returned job runs on the writer."""
    spec = parse_feature(feature, ctx.limits)

    def job(out: Outbox) -> Written:
        _check_audience(out.tx, spec)
        at = ctx.clock()
        probing.check_pace(ctx, out.tx, party, at)
        declaration = Declaration(
            key=out.tx.next_declaration_key(),
            id=str(uuid.uuid4()),
            party=party,
            version=1,
            spec=spec,
            status=DeclarationStatus.ACTIVE,
            created_at=at,
            updated_at=at,
        )
        return _write(ctx, out, None, declaration)

    return job


def _owned(tx: Tx, party: str, declaration_id: str) -> Declaration:
    found = tx.get_declaration(declaration_id)
    if found is None or not may_see(found, party):
        raise NotFound(f"no declaration {declaration_id!r} visible to {party!r}")
    if found.party != party:
        raise Forbidden(f"declaration {declaration_id!r} belongs to {found.party!r}; only its owner may change it")
    return found


def parse_if_match(value: str | None) -> frozenset[str]:
    """The versions an `If-Match` names: `"3"`, a list `"2", "3"`, `*` (any); weak `W/"3"` and bare `3` are taken
    as `"3"`. Whatever else it holds names no version, so that it fails as a stale one does: 412 (RFC 9110)."""
    if value is None:
        raise PreconditionRequired('send If-Match: "<version>" with the version you last read', field="If-Match")
    return frozenset(tag.strip().removeprefix("W/").strip('"') for tag in value.split(","))


def _check_version(declaration_id: str, versions: frozenset[str], current: int) -> None:
    if "*" not in versions and str(current) not in versions:
        raise PreconditionFailed(
            f'declaration {declaration_id!r} is at version {current}; If-Match: "{current}" after reading it again',
            field="If-Match",
        )


def revise(ctx: Context, party: str, declaration_id: str, if_match: str | None, feature: object) -> Written:
    return ctx.write(revise_job(ctx, party, declaration_id, if_match, feature))


def revise_job(
    ctx: Context, party: str, declaration_id: str, if_match: str | None, feature: object
) -> Callable[[Outbox], Written]:
    """Validate now; the returned job checks the version and writes on the writer."""
    versions = parse_if_match(if_match)
    spec = parse_feature(feature, ctx.limits)

    def job(out: Outbox) -> Written:
        _check_audience(out.tx, spec)
        current = _owned(out.tx, party, declaration_id)
        _check_version(declaration_id, versions, current.version)
        if not current.active:
            raise StateConflict(f"declaration {declaration_id!r} is cancelled; declare anew instead")
        at = ctx.clock()
        probing.check_pace(ctx, out.tx, party, at)
        return _write(ctx, out, current, current.revised(spec, at))

    return job


def cancel(ctx: Context, party: str, declaration_id: str) -> Declaration:
    """Cancel (kept in the record, no longer active); its open conflicts resolve with reason `cancelled`."""
    return ctx.write(cancel_job(ctx, party, declaration_id))


def cancel_job(ctx: Context, party: str, declaration_id: str) -> Callable[[Outbox], Declaration]:
    def job(out: Outbox) -> Declaration:
        current = _owned(out.tx, party, declaration_id)
        if not current.active:
            return current
        return _write(ctx, out, current, current.cancelled(ctx.clock())).declaration

    return job


def get_visible(ctx: Context, party: str, declaration_id: str) -> Declaration:
    with ctx.store.read() as tx:
        found = tx.get_declaration(declaration_id)
    if found is None or not may_see(found, party):
        raise NotFound(f"no declaration {declaration_id!r} visible to {party!r}")
    return found


def list_visible(ctx: Context, query: DeclarationQuery) -> list[tuple[int, dict[str, Any]]]:
    """(key, Feature) of the declarations the viewer may see; the key is the paging cursor."""
    with ctx.store.read() as tx:
        return tx.list_declarations(query)


def views_of(ctx: Context, party: str, conflicts: list[Conflict]) -> list[dict[str, Any]]:
    with ctx.store.read() as tx:
        others = [c.side(party)[1].declaration for c in conflicts]
        visible = tx.visible_declaration_ids(party, others)
    return [c.view_for(party, other_visible=c.side(party)[1].declaration in visible) for c in conflicts]
