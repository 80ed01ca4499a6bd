"""Agreed deconfliction lines: proposed by one party, accepted or rejected by the other, withdrawn by either.

An accepted line binds its two parties: an active declaration of either that reaches the other side farther than
the tolerance is a conflict of kind `line`, opened for both when the line is accepted or the declaration written,
and resolved (`line_ended`) when the line is withdrawn. So is a live track's report across it (services/tracks.py,
track_lines.py), which keeps the accepted lines in memory: every job here that changes them clears that cache.
Proposals, answers and withdrawals are recorded in the ledger, with the parties' signatures when they sign: the
proposer with purpose `message`, the other party with purpose `ack`, each over the line's digest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from deconfliction.domain.conflicts import Conflict, ConflictKind, ConflictSide, ResolvedReason
from deconfliction.domain.declarations import Declaration
from deconfliction.domain.errors import AlreadyExists, Forbidden, InvalidInput, NotFound, StateConflict
from deconfliction.domain.line_sides import Crossing
from deconfliction.domain.lines import Line, LineLimits, LineStatus, parse_proposal
from deconfliction.domain.signing import Purpose, new_salt
from deconfliction.services import declarations as declaring  # a module import: declarations imports this one too
from deconfliction.services.context import Context
from deconfliction.services.signatures import check_signature
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Tx

STATUSES = tuple(s.value for s in LineStatus)


@dataclass(frozen=True, slots=True)
class LineFinding:
    """An accepted line that a declaration reaches across farther than the line's tolerance."""

    line: Line
    crossing: Crossing


@dataclass
class LineConflicts:
    """The line conflicts opened by writing a declaration, and its owner's view of each."""

    conflicts: list[Conflict] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)


def limits(ctx: Context) -> LineLimits:
    return LineLimits(max_vertices=ctx.limits.max_vertices, max_tolerance_m=ctx.limits.max_separation_m)


def crossing_of(line: Line, declaration: Declaration) -> Crossing | None:
    """How far the declaration (grown by its radius) reaches across the line, when farther than the tolerance."""
    return line.terms.crossing(declaration.party, declaration.spec.shape, declaration.spec.radius_m)


def line_findings(tx: Tx, declaration: Declaration) -> list[LineFinding]:
    """Every accepted line binding the declaration's party that the (active) declaration crosses beyond tolerance."""
    if not declaration.active:
        return []
    found = []
    for line in tx.accepted_lines_of(declaration.party):
        crossing = crossing_of(line, declaration)
        if crossing is not None:
            found.append(LineFinding(line, crossing))
    return found


def _open(
    out: Outbox, line: Line, declaration: Declaration, crossing: Crossing, at: datetime
) -> tuple[Conflict, dict[str, Any]]:
    """Store a line conflict and tell both parties; returns the declaration owner's view."""
    conflict = Conflict(
        id=str(uuid.uuid4()),
        kind=ConflictKind.LINE,
        a=ConflictSide(declaration.party, declaration.id, declaration.version, crossing.location),
        b=ConflictSide(line.terms.other(declaration.party), line.subject, 0, crossing.on_line),
        distance_m=crossing.depth_m,
        required_m=line.terms.tolerance_m,
        window=declaration.spec.window,
        opened_at=at,
    )
    out.tx.save_conflict(conflict)
    return conflict, declaring._emit_conflict(out, conflict, "conflict.opened", at)


def check_lines(out: Outbox, declaration: Declaration, at: datetime) -> LineConflicts:
    """Open a line conflict for each accepted line the declaration's new version crosses (none when inactive).

    Called by the declaration write job after it resolved the old version's conflicts (line ones included).
    """
    opened = LineConflicts()
    for finding in line_findings(out.tx, declaration):
        conflict, view = _open(out, finding.line, declaration, finding.crossing, at)
        opened.conflicts.append(conflict)
        opened.views.append(view)
    return opened


def _visible(tx: Tx, party: str, line_id: str) -> Line:
    line = tx.get_line(line_id)
    if line is None or not line.involves(party):
        raise NotFound(f"no line {line_id!r} of party {party!r}")
    return line


def propose(ctx: Context, party: str, body: object) -> Callable[[Outbox], dict[str, Any]]:
    """Validate now; the returned job stores, records and tells the other party."""
    proposal = parse_proposal(party, body, limits(ctx))
    terms = proposal.terms

    def job(out: Outbox) -> dict[str, Any]:
        tx = out.tx
        if tx.get_party(terms.partner) is None:
            raise InvalidInput(f"with: no party {terms.partner!r}", field="with")
        if proposal.id is not None and tx.get_line(proposal.id) is not None:
            raise AlreadyExists(f"a line {proposal.id!r} exists already; choose another id", field="id")
        at = ctx.clock()
        line_id = proposal.id or str(uuid.uuid4())
        line = Line(line_id, terms, proposal.salt or new_salt(), LineStatus.PROPOSED, at, at)
        signed = check_signature(tx, party, Purpose.MESSAGE, line.digest, proposal.signature, required_when_keyed=False)
        if signed is not None:
            line = replace(line, proposal_signature=signed[3])
        tx.save_line(line)
        out.record("line.proposed", party, (line.id,), line.digest, at, {"with": terms.partner}, signed)
        view = line.view()
        out.emit(terms.partner, "line.proposed", view, at)
        return view

    return job


def answer(
    ctx: Context, party: str, line_id: str, decision: LineStatus, signature: object
) -> Callable[[Outbox], dict[str, Any]]:
    """The other party accepts (the line binds both from now on) or rejects a proposed line. Repeating the same
    answer changes nothing."""

    def job(out: Outbox) -> dict[str, Any]:
        tx = out.tx
        line = _visible(tx, party, line_id)
        if party != line.terms.partner:
            raise Forbidden(f"only {line.terms.partner!r}, to whom line {line_id!r} was proposed, answers it")
        if line.status is decision:
            return line.view() | {"conflicts": []}
        if line.status is not LineStatus.PROPOSED:
            raise StateConflict(f"line {line_id!r} is {line.status.value}; only a proposed line can be answered")
        purpose = Purpose.AGREE if decision is LineStatus.ACCEPTED else Purpose.ACK  # accepting binds: an agreement
        signed = check_signature(tx, party, purpose, line.digest, signature, required_when_keyed=False)
        at = ctx.clock()
        line = line.answered(decision, None if signed is None else signed[3], at)
        tx.save_line(line)
        ctx.bound_lines.changed(out, at)
        out.record(f"line.{decision.value}", party, (line.id,), line.digest, at, {}, signed)
        view = line.view()
        out.emit(line.terms.proposer, f"line.{decision.value}", view, at)
        conflicts = _open_for_line(out, line, at) if decision is LineStatus.ACCEPTED else []
        return view | {"conflicts": [declaring.conflict_view(tx, c, party) for c in conflicts]}

    return job


def _open_for_line(out: Outbox, line: Line, at: datetime) -> list[Conflict]:
    """A line just accepted: a conflict for each active declaration of its parties that crosses it."""
    opened = []
    bound = (line.terms.proposer, line.terms.partner)
    for declaration in sorted(out.picture.declarations.values(), key=lambda d: d.key):
        if declaration.party not in bound:
            continue
        crossing = crossing_of(line, declaration)
        if crossing is not None:
            opened.append(_open(out, line, declaration, crossing, at)[0])
    return opened


def withdraw(ctx: Context, party: str, line_id: str) -> Callable[[Outbox], dict[str, Any]]:
    """Either party withdraws a proposed or accepted line; its open conflicts resolve (`line_ended`)."""

    def job(out: Outbox) -> dict[str, Any]:
        tx = out.tx
        line = _visible(tx, party, line_id)
        if line.status is LineStatus.WITHDRAWN:
            return line.view()
        if line.status is LineStatus.REJECTED:
            raise StateConflict(f"line {line_id!r} was rejected; there is nothing to withdraw")
        at = ctx.clock()
        line = line.withdrawn(party, at)
        tx.save_line(line)
        ctx.bound_lines.changed(out, at)
        out.record("line.withdrawn", party, (line.id,), line.digest, at)
        out.emit(line.terms.other(party), "line.withdrawn", line.view(), at)
        for conflict in tx.open_conflicts_of_declaration(line.subject):
            resolved = conflict.resolved(ResolvedReason.LINE_ENDED, at)
            tx.save_conflict(resolved)
            declaring._emit_conflict(out, resolved, "conflict.resolved", at)
        return line.view()

    return job


def get_line(ctx: Context, party: str, line_id: str) -> dict[str, Any]:
    with ctx.store.read() as tx:
        return _visible(tx, party, line_id).view()


def list_lines(ctx: Context, party: str, status: str | None, limit: int, before: int | None) -> list[tuple[int, Line]]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    with ctx.store.read() as tx:
        return tx.list_lines(party, status, limit, before)
