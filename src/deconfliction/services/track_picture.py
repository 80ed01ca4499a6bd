"""The live tracks held in memory: every track not removed, a uniform grid over the active ones for candidate pairs,
and the convergence warnings open between them.

Changed only by jobs of the single writer (each change undone if its job or commit fails); read by those jobs.

**Candidate pairs.** Positions live on the unit sphere scaled to WGS84's smallest radius of curvature, so a chord
there is never longer than the geodesic between the same points: the grid is a uniform 3-D grid of cubes of
`cell_m` over those points — no projection, nothing special at ±180° or the poles. A track's *reach* is how far it can
go within the horizon (plus the silence it may keep before it counts as lost, plus clock skew) plus the separation it
asks for. Two tracks can only warn if their distance is within the sum of their reaches. Tracks that reach at most
`cell_m` sit in the cell of their last fix; a query looks at the cells within its own reach plus `cell_m`. Faster
tracks (aircraft) are kept aside: every query looks at all of them, and their own queries look at every track — all
vectorised. The candidates are then screened with the planar CPA over all of them at once (numpy), and only those
that may come within their separation go to the exact geodesic check (domain/cpa.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product

import numpy as np
from numpy.typing import NDArray

from deconfliction.domain.conflicts import Conflict
from deconfliction.domain.covering import cell_reach_m, resolution_for, snap
from deconfliction.domain.cpa import Motion, screen
from deconfliction.domain.geodesy import MIN_RADIUS_M, unit_vector
from deconfliction.domain.tracks import Track, TrackStatus

Key = tuple[str, str]  # (party, track id)
# ("track", a, b) with a < b; ("place", track, declaration key); ("line", track, line id)
Pair = tuple[str, Key, Key | int | str]
_MEAN_RADIUS_M = 6_371_008.8
_SCREEN_SLACK_M = 200.0  # the screen is approximate (straight lines in 3-D); the exact check decides
KEEP = 1.05  # an open warning holds until the pair is 5 % beyond its separation: no flapping at the edge
# the columns of TrackPicture.state: position at the last fix (metres, on a sphere of the mean radius), velocity
# (m/s), time of the fix, reach (see `reach_m`), the separation it asks (stated, else the threshold), speed, party
_P, _V, _T, _REACH, _REQ, _SPEED, _PARTY = slice(0, 3), slice(3, 6), 6, 7, 8, 9, 10
_COLUMNS = 11


@dataclass(frozen=True, slots=True)
class TrackSettings:
    """The figures the service works with (config.py documents each; the defaults are reasoned there)."""

    lost_s: float = 60.0
    remove_s: float = 900.0
    threshold_m: float = 1_852.0
    horizon_s: float = 1_800.0
    vertical_m: float = 300.0  # tracks both reporting altitudes this far apart or more do not converge
    precision_m: float = 100.0  # others learn a track's position no better than this (disclosure_track_precision_m)

    @property
    def cell_m(self) -> float:
        """The grid's cell: the reach of a mover at 20 m/s (ground and sea traffic); faster ones are kept aside."""
        return min(100_000.0, max(5_000.0, 20.0 * (self.horizon_s + self.lost_s + 10.0) + self.threshold_m))


def screen_slack_m(run_m: float) -> float:
    """How far the screen's distance may be from the exact one, for a pair that runs `run_m` between them within
    the horizon: straight lines in 3-D part from geodesics by about run²/2R. (Checked against the exact closest
    approach over random pairs anywhere, aircraft included: the error stays under half of this — see the tests.)"""
    return _SCREEN_SLACK_M + run_m * run_m / _MEAN_RADIUS_M


def track_pair(a: Key, b: Key) -> Pair:
    return ("track", a, b) if a < b else ("track", b, a)


def place_pair(track: Key, declaration_key: int) -> Pair:
    return ("place", track, declaration_key)


def velocity(u: tuple[float, float, float], speed_mps: float, course_deg: float) -> tuple[float, float, float]:
    """The 3-D velocity (m/s, tangent to the sphere at unit vector u) of a course and speed."""
    x, y, z = u
    h = math.hypot(x, y)
    east = (-y / h, x / h, 0.0) if h > 1e-12 else (0.0, 1.0, 0.0)
    north = (y * east[2] - z * east[1], z * east[0] - x * east[2], x * east[1] - y * east[0])
    se, sn = speed_mps * math.sin(math.radians(course_deg)), speed_mps * math.cos(math.radians(course_deg))
    return (se * east[0] + sn * north[0], se * east[1] + sn * north[1], se * east[2] + sn * north[2])


class TrackPicture:
    def __init__(self, settings: TrackSettings) -> None:
        self.settings = settings
        self.horizon_s = settings.horizon_s
        self.lost_s = settings.lost_s
        self.remove_s = settings.remove_s
        self.threshold_m = settings.threshold_m
        self.vertical_m = settings.vertical_m
        self.cell_m = settings.cell_m
        self.precision_m = settings.precision_m
        self._res = resolution_for(settings.precision_m)
        self.shown_reach_m = cell_reach_m(self._res)  # how far a track's shown position may be from its own
        self.tracks: dict[Key, Track] = {}  # every track not removed
        self.open: dict[Pair, Conflict] = {}  # open warnings, one per pair
        self._pairs: dict[Key, set[Pair]] = {}  # a track's open pairs
        self._slot: dict[Key, int] = {}  # active tracks' rows in the arrays
        self._keys: list[Key | None] = []
        self._free: list[int] = []
        self._parties: dict[str, int] = {}
        self._grid: dict[tuple[int, int, int], set[int]] = {}
        self._cell: dict[int, tuple[int, int, int]] = {}
        self._fast: set[int] = set()
        self.reporters: dict[str, tuple[bool, float]] = {}  # party → (may report, until when: monotonic s)
        self._slow_reach_m = 0.0  # the largest reach of a track in the grid (never lowered: conservative)
        self._grow(1024)
        self._free = list(range(1023, -1, -1))

    def _grow(self, capacity: int) -> None:
        """One row per slot, every column a track's screen needs, so that one fancy index fetches them all."""
        state = np.zeros((capacity, _COLUMNS))
        state[:, _PARTY] = -1.0  # a free slot
        old: NDArray[np.float64] | None = getattr(self, "state", None)
        if old is not None:
            state[: len(old)] = old
        self.state = state
        self._keys.extend([None] * (capacity - len(self._keys)))

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def fast_count(self) -> int:
        """Active tracks too fast for the grid, checked against every query."""
        return len(self._fast)

    def key_of(self, slot: int) -> Key:
        key = self._keys[slot]
        assert key is not None, f"slot {slot} is free"
        return key

    # tracks -------------------------------------------------------------------------------------------------------
    def put(self, track: Track) -> None:
        """Hold a track's new state; watched for convergence only while active."""
        self.tracks[track.key] = track
        if track.status is TrackStatus.ACTIVE:
            self._index(track)
        else:
            self._unindex(track.key)

    def drop(self, key: Key) -> None:
        """Forget a removed track."""
        self.tracks.pop(key, None)
        self._unindex(key)

    def restore(self, key: Key, before: Track | None) -> Callable[[], None]:
        """An undo action putting a track back as it was (or forgetting it)."""
        return (lambda: self.drop(key)) if before is None else (lambda: self.put(before))

    def reach_m(self, track: Track) -> float:
        """How far the track can be from its last fix within the horizon — counting the silence it may keep before it
        is lost, and a fix ahead of the clock — plus the separation it asks for."""
        m = track.motion()
        ahead_s = max(0.0, m.t_s - track.updated_at.timestamp())
        stated = track.latest.separation_m
        return m.speed_mps * (self.horizon_s + self.lost_s + 10.0 + ahead_s) + (
            self.threshold_m if stated is None else stated
        )

    def _index(self, track: Track) -> None:
        key = track.key
        slot = self._slot.get(key)
        if slot is None:
            if not self._free:
                self._free.extend(range(len(self._keys) * 2 - 1, len(self._keys) - 1, -1))
                self._grow(len(self._keys) * 2)
            slot = self._free.pop()
            self._slot[key] = slot
            self._keys[slot] = key
        else:
            self._ungrid(slot)
        m = track.motion()
        u = unit_vector(m.lon, m.lat)
        reach = self.reach_m(track)
        stated = track.latest.separation_m
        row = self.state[slot]
        row[_P] = u
        row[_P] *= _MEAN_RADIUS_M
        row[_V] = velocity(u, m.speed_mps, m.course_deg)
        row[_T] = m.t_s
        row[_REACH] = reach
        row[_REQ] = self.threshold_m if stated is None else stated
        row[_SPEED] = m.speed_mps
        row[_PARTY] = self._parties.setdefault(track.party, len(self._parties))
        if reach > self.cell_m:
            self._fast.add(slot)
        else:
            self._slow_reach_m = max(self._slow_reach_m, reach)
            k = MIN_RADIUS_M / self.cell_m
            cell = math.floor(u[0] * k), math.floor(u[1] * k), math.floor(u[2] * k)
            self._cell[slot] = cell
            self._grid.setdefault(cell, set()).add(slot)

    def _ungrid(self, slot: int) -> None:
        self._fast.discard(slot)
        cell = self._cell.pop(slot, None)
        if cell is not None:
            members = self._grid[cell]
            members.discard(slot)
            if not members:
                del self._grid[cell]

    def _unindex(self, key: Key) -> None:
        slot = self._slot.pop(key, None)
        if slot is None:
            return
        self._ungrid(slot)
        self._keys[slot] = None
        self.state[slot, _PARTY] = -1.0
        self._free.append(slot)

    # candidates ---------------------------------------------------------------------------------------------------
    def active_slots(self) -> NDArray[np.int64]:
        return np.flatnonzero(self.state[:, _PARTY] >= 0)

    def _near_slots(self, slot: int) -> NDArray[np.int64]:
        """Slots of every track that may be within reach of `slot`'s: the grid cells within its reach plus the
        largest reach of a track in the grid, and every fast track; for a fast track, every track."""
        if slot in self._fast:
            return self.active_slots()
        k = MIN_RADIUS_M / self.cell_m
        row = self.state[slot]
        radius_m = row[_REACH] + self._slow_reach_m + 4 * self.shown_reach_m
        bulge_m = radius_m * radius_m / (2 * MIN_RADIUS_M)
        ranges = []
        for c in row[_P] / _MEAN_RADIUS_M:
            # a cap of chord radius ρ around u spans ±(ρ·√(1 − u_i²) + ρ²/2R) along axis i
            half = (radius_m * math.sqrt(max(0.0, 1.0 - c * c)) + bulge_m) / self.cell_m
            ranges.append(range(math.floor(c * k - half), math.floor(c * k + half) + 1))
        found: list[int] = list(self._fast)
        grid = self._grid
        for x, y, z in product(*ranges):
            members = grid.get((x, y, z))
            if members:
                found.extend(members)
        return np.fromiter(found, np.int64, len(found))

    def screened(self, key: Key, now_s: float) -> list[tuple[Key, float, float]]:
        """Other parties' active tracks that may come within the separation the pair requires of `key`'s track
        within the horizon, each as (key, lower, upper): bounds of the distance the screen finds, for the exact
        check to decide between (a superset of the tracks that will: nothing that will is left out)."""
        slot = self._slot.get(key)
        if slot is None:
            return []
        near = self._near_slots(slot)
        if len(near) == 0:
            return []
        # few numpy calls on small arrays: each call, not each element, is what costs here
        rows, own = self.state[near], self.state[slot]
        own_at = own[_P] + own[_V] * (now_s - own[_T])
        dp = rows[:, _P] + rows[:, _V] * (now_s - rows[:, _T])[:, None] - own_at
        _, d = screen(dp, rows[:, _V] - own[_V], self.horizon_s)
        # bounds for the whole set: the largest separation asked, the fastest pair (the screen's error grows with
        # the distance run: straight lines in 3-D instead of geodesics)
        required_m = max(own[_REQ], rows[:, _REQ].max()) * KEEP + 4 * self.shown_reach_m  # as shown: track_findings
        run_m = (own[_SPEED] + rows[:, _SPEED].max()) * self.horizon_s
        slack_m = screen_slack_m(run_m)
        hits = np.flatnonzero((d < required_m + slack_m) & (rows[:, _PARTY] != own[_PARTY]))
        keys = self._keys
        out = []
        for i in hits.tolist():
            other = keys[int(near[i])]
            if other is not None:
                out.append((other, float(d[i]) - slack_m, float(d[i]) + slack_m))
        return out

    def shown_motion(self, track: Track) -> Motion:
        """The track's motion as other parties' warnings compare it: its fix at the centre of its H3 cell at the
        track precision (speed and course as reported)."""
        m = track.motion()
        lon, lat = snap((m.lon, m.lat), self._res)
        return Motion(lon, lat, m.t_s, m.speed_mps, m.course_deg)

    def required_m(self, a: Track, b: Track) -> float:
        """The larger separation either report states; the threshold when neither does."""
        stated = [s for s in (a.latest.separation_m, b.latest.separation_m) if s is not None]
        return max(stated) if stated else self.threshold_m

    def due(self, now_us: int) -> tuple[list[Track], list[Track]]:
        """(active tracks now lost, tracks now to be removed)."""
        lost, removed = [], []
        for track in self.tracks.values():
            if track.removed_at_us(self.remove_s) <= now_us:
                removed.append(track)
            elif track.status is TrackStatus.ACTIVE and track.lost_at_us(self.lost_s) <= now_us:
                lost.append(track)
        return lost, removed

    # open warnings ------------------------------------------------------------------------------------------------
    def pairs_of(self, key: Key) -> list[Pair]:
        return sorted(self._pairs.get(key, ()), key=repr)

    def set_open(self, pair: Pair, conflict: Conflict | None) -> Callable[[], None]:
        """Record (or, with None, forget) a pair's open warning; returns the action that undoes it."""
        before = self.open.get(pair)
        self._set(pair, conflict)
        return lambda: self._set(pair, before)

    def _set(self, pair: Pair, conflict: Conflict | None) -> None:
        members = [pair[1], pair[2]] if isinstance(pair[2], tuple) else [pair[1]]
        if conflict is None:
            self.open.pop(pair, None)
            for key in members:
                pairs = self._pairs.get(key)
                if pairs is not None:
                    pairs.discard(pair)
                    if not pairs:
                        del self._pairs[key]
            return
        self.open[pair] = conflict
        for key in members:
            self._pairs.setdefault(key, set()).add(pair)

    def load(self, tracks: Iterable[Track], conflicts: Iterable[tuple[Pair, Conflict]]) -> None:
        """Fill an empty picture (start-up)."""
        for track in tracks:
            self.put(track)
        for pair, conflict in conflicts:
            self._set(pair, conflict)
