"""Live tracks and agreed lines: a track of a party bound by an accepted line that reports a position on the other
side farther than the line's tolerance raises a `line` conflict, held until the track is back on its own side.

This runs on every report of a bound party, so it is kept cheap:

* **The lines.** Each party's accepted lines are read from the store once and kept (`BoundLines`); every job that
  accepts or withdraws a line clears them — and clears them again if that job or its commit fails, so that nothing
  uncommitted stays cached.
* **The side.** A point's geodesic signed distance to a line moves by at most the distance the point moves. Each
  (track, line) keeps bounds on that distance at the position where it was last measured; a report within those
  bounds widened by the distance moved needs no geometry at all. Otherwise the bounds are measured again in the
  line's plane (a few array operations), and only a point the plane cannot decide — at the edge of the tolerance,
  or across — is measured exactly on WGS84 (LineTerms.across).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from deconfliction.domain.geodesy import Vec3, unit_vector
from deconfliction.domain.geometry import parse_geometry
from deconfliction.domain.line_sides import Crossing
from deconfliction.domain.lines import Line
from deconfliction.domain.tracks import Track
from deconfliction.services.track_picture import Key, Pair
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Tx

# The distance moved, from a chord of the unit sphere: the mean radius, 1 % for the ellipsoid's geodesics being up to
# ~0.5 % longer and the chord shorter than its arc (by θ²/24: 0.1 % at 1,000 km), and a metre for rounding.
_MEAN_RADIUS_M = 6_371_008.8
_MOVED_FACTOR = 1.01
_MOVED_SLACK_M = 1.0


def line_pair(track: Key, line_id: str) -> Pair:
    return ("line", track, line_id)


@dataclass(frozen=True, slots=True)
class LineFound:
    """A line the track's newest position lies across farther than the line's tolerance."""

    line: Line
    crossing: Crossing
    t_s: float  # the time of that position


@dataclass(frozen=True, slots=True)
class _Measured:
    """Bounds on the track's depth across a line (geodesic metres) at the position `at`."""

    at: Vec3
    low_m: float
    high_m: float


class BoundLines:
    """Each party's accepted lines, and what is known of each live track's side of them. Used by writer jobs only.

    A measure is a fact of geometry (how far a position lies across a line), true whether or not the job that took it
    commits: a failed job leaves nothing here to undo. The lines are not: see `changed`.
    """

    def __init__(self) -> None:
        self._lines: dict[str, tuple[Line, ...]] = {}
        self._measured: dict[tuple[Key, str], _Measured] = {}

    def of(self, tx: Tx, party: str) -> tuple[Line, ...]:
        """The party's accepted lines (read through `tx` when not known)."""
        found = self._lines.get(party)
        if found is None:
            found = self._lines[party] = tuple(tx.accepted_lines_of(party))
        return found

    def clear(self) -> None:
        self._lines.clear()
        self._measured.clear()

    def changed(self, out: Outbox, at: datetime) -> None:
        """A job changed which lines are accepted: forget them now, and again if the job or its commit fails; the
        other workers forget them too (services/sync.py)."""
        self.clear()
        out.on_undo(self.clear)
        out.changed("lines", "*", at)

    def forget(self, track: Key) -> None:
        """A track was removed."""
        for key in [k for k in self._measured if k[0] == track]:
            del self._measured[key]

    def depth_bounds(self, track: Track, line: Line, at: Vec3) -> tuple[float, float] | None:
        """Bounds on how far the track at `at` lies across the line: those last measured, widened by the distance
        moved since. None when the line does not judge the point."""
        known = self._measured.get((track.key, line.id))
        if known is None:
            return None
        a = known.at
        chord = math.sqrt((at[0] - a[0]) ** 2 + (at[1] - a[1]) ** 2 + (at[2] - a[2]) ** 2)
        moved_m = chord * _MEAN_RADIUS_M * _MOVED_FACTOR + _MOVED_SLACK_M
        return known.low_m - moved_m, known.high_m + moved_m

    def measure(self, track: Track, line: Line, at: Vec3) -> tuple[float, float] | None:
        """Bounds measured in the line's plane at `at`, kept for the next report."""
        bounds = line.terms.depth_bounds(track.party, at)
        if bounds is None:
            self._measured.pop((track.key, line.id), None)
            return None
        self._measured[(track.key, line.id)] = _Measured(at, *bounds)
        return bounds

    def settle(self, track: Track, line: Line, at: Vec3, depth_m: float) -> None:
        """Keep an exact measure as (nearly) tight bounds."""
        self._measured[(track.key, line.id)] = _Measured(at, depth_m - 0.01, depth_m + 0.01)


def _decided(bounds: tuple[float, float], limit_m: float) -> bool | None:
    """Whether the depth is beyond `limit_m`, when the bounds decide it."""
    low, high = bounds
    if high <= limit_m:
        return False
    if low > limit_m:
        return True
    return None


def line_findings(lines: BoundLines, tx: Tx, track: Track, held: Collection[Pair]) -> dict[Pair, LineFound | None]:
    """The accepted lines binding the track's party that its newest position lies across: beyond the tolerance for a
    new conflict; still on the other side (depth > 0) for one already open, which is then None (it holds)."""
    bound = lines.of(tx, track.party)
    if not bound:
        return {}
    r = track.latest
    at = unit_vector(r.lon, r.lat)
    found: dict[Pair, LineFound | None] = {}
    for line in bound:
        pair = line_pair(track.key, line.id)
        is_held = pair in held
        limit_m = 0.0 if is_held else line.terms.tolerance_m  # opened beyond the tolerance, held until back on side
        cached = lines.depth_bounds(track, line, at)
        beyond = None if cached is None else _decided(cached, limit_m)
        if beyond is None:
            measured = lines.measure(track, line, at)
            if measured is None:
                continue  # beyond the line's reach
            beyond = _decided(measured, limit_m)
        if beyond is False:
            continue
        if beyond is True and is_held:
            found[pair] = None
            continue
        crossing = line.terms.across(track.party, parse_geometry(_point(r.lon, r.lat), trusted=True), 0.0)
        if crossing is None:
            continue
        lines.settle(track, line, at, crossing.depth_m)
        if crossing.depth_m > limit_m:
            found[pair] = None if is_held else LineFound(line, crossing, r.t_s)
    return found


def _point(lon: float, lat: float) -> dict[str, object]:
    return {"type": "Point", "coordinates": [lon, lat]}
