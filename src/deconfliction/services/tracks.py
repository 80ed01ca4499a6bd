"""Live tracks: position reports from HTTP, MQTT and TAK clients, and the convergence warnings they raise.

`ingest` validates a batch in the caller's thread, then one writer job stores every new report (durable before the
caller is answered), moves the track if a report is newer than what it knew, and re-evaluates the track's warnings:
against other parties' active tracks (closest point of approach within the horizon), other parties' declared places
(time to entry into their separation zone) and their timed routes (closest approach at the same time); a declaration
written is checked against the tracks near it at once (`check_new_declaration`). A warning is a conflict of kind
`convergence`, opened once per pair and resolved (`separated`) when the pair no longer converges or a track is lost.
A track of a party bound by an accepted line that reports a position across it beyond the tolerance raises a
conflict of kind `line`, resolved (`separated`) once the track is back on its own side (track_lines.py). The sweeper
marks silent tracks lost, then removed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from deconfliction.domain.conflicts import Conflict, ConflictKind, ConflictSide, ResolvedReason
from deconfliction.domain.declarations import Declaration
from deconfliction.domain.errors import Forbidden, NotFound
from deconfliction.domain.geodesy import MIN_RADIUS_M, angle_rad, unit_vector
from deconfliction.domain.lines import SUBJECT_PREFIX
from deconfliction.domain.parties import PartyStatus
from deconfliction.domain.timewindow import TimeWindow
from deconfliction.domain.tracks import Report, Track, TrackStatus, new_track, parse_reports, parse_track_id
from deconfliction.services.context import Context
from deconfliction.services.declarations import _emit_conflict
from deconfliction.services.track_findings import Found, place_findings, shown_finding, track_findings
from deconfliction.services.track_lines import LineFound, line_findings, line_pair
from deconfliction.services.track_picture import KEEP, Key, Pair, TrackPicture, TrackSettings, place_pair, track_pair
from deconfliction.services.views import disclosed_to
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Tx

log = logging.getLogger("deconfliction.tracks")


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int  # reports stored (new, in time order or not)
    duplicates: int = 0  # reports already known (same track, same time): ignored
    warnings: list[dict[str, Any]] = field(default_factory=list)  # conflicts opened by these reports (caller's view)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "warnings": self.warnings}


def configure(ctx: Context, settings: TrackSettings) -> TrackPicture:
    """Give the Context its track picture, loaded from the store (at start-up, before anything is written)."""
    picture = TrackPicture(settings)
    with ctx.store.read() as tx:
        _load(picture, tx)
    ctx.tracks = picture
    return picture


def picture_of(ctx: Context, tx: Tx) -> TrackPicture:
    """The Context's track picture; made with the default settings (and loaded through `tx`) if never configured."""
    if ctx.tracks is None:
        picture = TrackPicture(TrackSettings())
        _load(picture, tx)
        ctx.tracks = picture
    return ctx.tracks


def _load(picture: TrackPicture, tx: Tx) -> None:
    pairs: list[tuple[Pair, Conflict]] = []
    for conflict_id in tx.open_track_conflict_ids():
        conflict = tx.get_conflict(conflict_id)
        pair = None if conflict is None else _pair_of(tx, conflict)
        if pair is not None and conflict is not None:
            pairs.append((pair, conflict))
    picture.load(tx.live_tracks(), pairs)


def _pair_of(tx: Tx, conflict: Conflict) -> Pair | None:
    """Which pair an open track warning is about (None if its declaration is gone)."""
    a, b = conflict.a, conflict.b
    if b.declaration.startswith("track:"):
        return track_pair(_key(a), _key(b))
    if b.declaration.startswith(SUBJECT_PREFIX):
        return line_pair(_key(a), b.declaration.removeprefix(SUBJECT_PREFIX))
    declaration = tx.get_declaration(b.declaration)
    return None if declaration is None else place_pair(_key(a), declaration.key)


def track_ref(key: Key) -> str:
    """A track's reference on the change feed."""
    return json.dumps(list(key), separators=(",", ":"))


def _changed(out: Outbox, at: datetime, *keys: Key) -> None:
    for key in keys:
        out.changed("track", track_ref(key), at)


def _set_open(out: Outbox, picture: TrackPicture, pair: Pair, conflict: Conflict | None, at: datetime) -> None:
    """Record (or forget) a pair's open warning in memory, undone with the job; other workers learn of it."""
    out.on_undo(picture.set_open(pair, conflict))
    _changed(out, at, *[k for k in pair[1:] if isinstance(k, tuple)])


def reload_track(ctx: Context, tx: Tx, party: str, track_id: str) -> None:
    """Take a track and its open warnings as stored: another process changed them (services/sync.py)."""
    picture = picture_of(ctx, tx)
    key = (party, track_id)
    for pair in picture.pairs_of(key):
        picture.set_open(pair, None)
    track = tx.get_track(party, track_id)
    if track is None or track.status is TrackStatus.REMOVED:
        picture.drop(key)
        ctx.bound_lines.forget(key)
        return
    picture.put(track)
    for conflict in tx.open_conflicts_of_declaration(track.subject):
        if conflict.a.party == party or conflict.b.party == party:
            opened = _pair_of(tx, conflict)
            if opened is not None:
                picture.set_open(opened, conflict)


def reload_all(ctx: Context, tx: Tx) -> None:
    """Take every live track and warning as stored (a worker that fell too far behind the change feed)."""
    fresh = TrackPicture(picture_of(ctx, tx).settings)
    _load(fresh, tx)
    ctx.tracks = fresh


def _key(side: ConflictSide) -> Key:
    return side.party, side.declaration.removeprefix("track:")


# ingest -----------------------------------------------------------------------------------------------------------
def ingest(ctx: Context, party: str, track_id: str, reports: Sequence[Any], source: str = "http") -> IngestResult:
    """Validate and store a batch of position reports of one track of `party`, durably, then evaluate warnings.

    Each report: {"t": RFC 3339, "lon", "lat", "alt_m"?, "speed_mps"?, "course_deg"?, "separation_m"?, "stale"?}
    (`stale`: RFC 3339 time after which the report is no longer valid, as Cursor-on-Target says). Raises
    InvalidInput naming the field (e.g. "[2].lat") for a bad report; nothing of the batch is stored then.
    """
    return ctx.write(ingest_job(ctx, party, track_id, reports, source))


def ingest_job(
    ctx: Context, party: str, track_id: str, reports: Sequence[Any], source: str = "http"
) -> Callable[[Outbox], IngestResult]:
    """Validate now (in the caller's thread); the returned job stores and evaluates on the writer."""
    track_id = parse_track_id(track_id)
    parsed = parse_reports(reports, ctx.clock(), ctx.limits.max_separation_m)

    def job(out: Outbox) -> IngestResult:
        return _ingest(ctx, out, party, track_id, parsed, source)

    return job


def _ingest(ctx: Context, out: Outbox, party: str, track_id: str, reports: list[Report], source: str) -> IngestResult:
    picture = picture_of(ctx, out.tx)
    if not _may_report(picture, out.tx, party):
        raise Forbidden(f"party {party!r} may not report tracks (unknown, suspended or withdrawn)")
    at = ctx.clock()
    stored = out.tx.insert_track_reports(party, track_id, reports, at)
    duplicates = len(reports) - stored
    if stored == 0:
        return IngestResult(0, duplicates)
    before = picture.tracks.get((party, track_id)) or out.tx.get_track(party, track_id)
    if before is None:
        track = new_track(party, track_id, reports, source, at, picture.lost_s)
        track = replace(track, reports=stored)
    else:
        track = before.taking(reports, stored, source, at, picture.lost_s)
    out.tx.save_track(track)
    out.on_undo(picture.restore(track.key, picture.tracks.get(track.key)))
    _changed(out, at, track.key)
    picture.put(track)
    return IngestResult(stored, duplicates, evaluate(ctx, out, picture, track, at))


def _may_report(picture: TrackPicture, tx: Tx, party: str) -> bool:
    """Whether the party is active; its status read at most once a second (a report is a hot path, a suspension
    rare: it takes effect on reports within a second — HTTP callers are checked on their token already)."""
    now = time.monotonic()
    cached = picture.reporters.get(party)
    if cached is not None and cached[1] > now:
        return cached[0]
    found = tx.get_party(party)
    ok = found is not None and found.status is PartyStatus.ACTIVE
    picture.reporters[party] = (ok, now + 1.0)
    return ok


# warnings ---------------------------------------------------------------------------------------------------------
def evaluate(ctx: Context, out: Outbox, picture: TrackPicture, track: Track, at: datetime) -> list[dict[str, Any]]:
    """Open the warnings `track` now has and resolve those it no longer has; returns the track owner's view of each
    warning opened."""
    held = picture.pairs_of(track.key)
    found: dict[Pair, Found | LineFound | None] = {}
    if track.status is TrackStatus.ACTIVE:
        now_s = at.timestamp()
        found.update(track_findings(picture, track, now_s, held))
        found.update(place_findings(ctx.picture, ctx.policy, picture, track, now_s, held))
        found.update(line_findings(ctx.bound_lines, out.tx, track, held))
    for pair in held:
        conflict = picture.open[pair]
        if not _still_current(ctx, out.tx, pair, conflict):
            # the declaration was revised or cancelled, or the line withdrawn, since: that write resolved the conflict
            _set_open(out, picture, pair, None, at)
        elif pair not in found:
            _resolve(out, picture, pair, conflict, at)
    views = []
    for pair, finding in found.items():
        if finding is None or pair in picture.open:
            continue
        if isinstance(finding, LineFound):
            views.append(_open_line(out, picture, pair, track, finding, at))
        else:
            views.append(_open(out, picture, pair, track, finding, at))
    return views


def check_new_declaration(ctx: Context, out: Outbox, declaration: Declaration, at: datetime) -> list[dict[str, Any]]:
    """Other parties' active tracks checked against a declaration just written (created or revised), at once rather
    than at their next report: open the warnings it raises; returns the declaration owner's view of each."""
    picture = picture_of(ctx, out.tx)
    if not declaration.active or not picture.tracks:
        return []
    now_s, spec = at.timestamp(), declaration.spec
    own_reach_m = ctx.policy.reach_m(spec.kind, spec.separation_m)
    near = [
        track
        for track in picture.tracks.values()
        if track.status is TrackStatus.ACTIVE
        and track.party != declaration.party
        and _may_meet(picture, track, declaration, now_s, max(own_reach_m, track.latest.separation_m or 0.0))
    ]
    views = []
    for track in sorted(near, key=lambda t: t.key):
        found = shown_finding(ctx.picture, ctx.policy, picture, track, declaration, now_s)
        if isinstance(found, Found):
            pair = place_pair(track.key, declaration.key)
            _open(out, picture, pair, track, found, at)
            views.append(picture.open[pair].view_for(declaration.party, other_visible=False))
    return views


def _may_meet(picture: TrackPicture, track: Track, declaration: Declaration, now_s: float, required_m: float) -> bool:
    """A cheap screen: False only when the track cannot reach the declaration's zone within the horizon (its path
    stays within its run of its last fix; the declaration's shape within its bounding cap)."""
    m, shape = track.motion(), declaration.spec.shape
    gap_m = (angle_rad(unit_vector(m.lon, m.lat), shape.cap_centre) - shape.cap_radius_rad) * MIN_RADIUS_M
    run_m = m.speed_mps * (abs(now_s - m.t_s) + picture.horizon_s)
    return gap_m < run_m * 1.01 + (required_m + declaration.spec.radius_m) * KEEP + 1_000.0


def _still_current(ctx: Context, tx: Tx, pair: Pair, conflict: Conflict) -> bool:
    kind, _, other = pair
    if kind == "line":
        return any(line.id == other for line in ctx.bound_lines.of(tx, conflict.a.party))
    if not isinstance(other, int):
        return True  # a pair of tracks: only this service resolves its warnings
    declaration = ctx.picture.declarations.get(other)
    return declaration is not None and declaration.version == conflict.b.declaration_version


def _open(out: Outbox, picture: TrackPicture, pair: Pair, track: Track, found: Found, at: datetime) -> dict[str, Any]:
    conflict = Conflict(
        id=str(uuid.uuid4()),
        kind=ConflictKind.CONVERGENCE,
        a=ConflictSide(track.party, track.subject, 0, found.on_own, uncertainty_m=found.uncertainty_m),
        b=ConflictSide(
            found.other_party,
            found.other_subject,
            found.other_version,
            found.on_other,
            uncertainty_m=found.other_uncertainty_m,
        ),
        distance_m=found.distance_m,
        required_m=found.required_m,
        window=TimeWindow.instant(datetime.fromtimestamp(round(found.t_s), UTC)),
        opened_at=at,
    )
    out.tx.save_conflict(conflict)
    _set_open(out, picture, pair, conflict, at)
    if found.uncertainty_m > 0:  # told something of a declaration hidden from it
        disclosed_to(out, found.other_subject, track.party, at)
    return _emit_conflict(out, conflict, "conflict.opened", at)


def _open_line(
    out: Outbox, picture: TrackPicture, pair: Pair, track: Track, found: LineFound, at: datetime
) -> dict[str, Any]:
    """A track across a line it is bound by: where it is, the line's point nearest it, and how far across."""
    line, crossing = found.line, found.crossing
    conflict = Conflict(
        id=str(uuid.uuid4()),
        kind=ConflictKind.LINE,
        a=ConflictSide(track.party, track.subject, 0, crossing.location),
        b=ConflictSide(line.terms.other(track.party), line.subject, 0, crossing.on_line),
        distance_m=crossing.depth_m,
        required_m=line.terms.tolerance_m,
        window=TimeWindow.instant(datetime.fromtimestamp(round(found.t_s), UTC)),
        opened_at=at,
    )
    out.tx.save_conflict(conflict)
    _set_open(out, picture, pair, conflict, at)
    return _emit_conflict(out, conflict, "conflict.opened", at)


def _resolve(out: Outbox, picture: TrackPicture, pair: Pair, conflict: Conflict, at: datetime) -> None:
    _set_open(out, picture, pair, None, at)
    current = out.tx.get_conflict(conflict.id) or conflict  # with the acknowledgements made since it opened
    if current.resolved_at is not None:
        return
    resolved = current.resolved(ResolvedReason.SEPARATED, at)
    out.tx.save_conflict(resolved)
    _emit_conflict(out, resolved, "conflict.resolved", at)


# lost and removed -------------------------------------------------------------------------------------------------
def sweep(ctx: Context) -> tuple[int, int]:
    """Mark lost the active tracks silent too long, remove those silent longer; returns (lost, removed)."""

    def job(out: Outbox) -> tuple[int, int]:
        picture = picture_of(ctx, out.tx)
        at = ctx.clock()
        lost, removed = picture.due(round(at.timestamp() * 1e6))
        for track, status in [*((t, TrackStatus.LOST) for t in lost), *((t, TrackStatus.REMOVED) for t in removed)]:
            changed = replace(track, status=status, updated_at=at)
            out.tx.save_track(changed)
            out.on_undo(picture.restore(track.key, track))
            _changed(out, at, track.key)
            if status is TrackStatus.REMOVED:
                picture.drop(track.key)
                ctx.bound_lines.forget(track.key)
            else:
                picture.put(changed)
            for pair in picture.pairs_of(track.key):
                _resolve(out, picture, pair, picture.open[pair], at)
            out.emit(track.party, f"track.{status.value}", changed.view(), at)
        return len(lost), len(removed)

    return ctx.write(job)


class TrackSweeper:
    """Runs `sweep` every `interval_s` on its own thread."""

    def __init__(self, ctx: Context, interval_s: float = 1.0) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="deconf-tracks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                sweep(self.ctx)
            except Exception:  # the next round tries again
                log.exception("sweeping lost tracks failed")


# reading ----------------------------------------------------------------------------------------------------------
STATUSES = {
    "live": (TrackStatus.ACTIVE.value, TrackStatus.LOST.value),
    "active": (TrackStatus.ACTIVE.value,),
    "lost": (TrackStatus.LOST.value,),
    "removed": (TrackStatus.REMOVED.value,),
    "all": tuple(s.value for s in TrackStatus),
}


def list_tracks(ctx: Context, party: str, status: str, limit: int) -> list[dict[str, Any]]:
    """The caller's own tracks (others' are never listed: a party learns of them only through a warning)."""
    with ctx.store.read() as tx:
        return [t.view() for t in tx.list_tracks(party, STATUSES[status], limit)]


def get_track(ctx: Context, party: str, track_id: str, history: int = 0) -> dict[str, Any]:
    """One of the caller's tracks, with its newest `history` reports."""
    with ctx.store.read() as tx:
        track = tx.get_track(party, track_id)
        if track is None:
            raise NotFound(f"no track {track_id!r} of party {party!r}")
        view = track.view()
        if history > 0:
            view["history"] = [r.to_json() for r in tx.track_reports(party, track_id, history)]
    return view
