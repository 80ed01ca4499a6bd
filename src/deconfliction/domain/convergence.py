"""Timed routes (4D): where a mover is *when*, and the closest approach between two movers, or a mover and a place.

A timed route is travelled along its edges — great-circle arcs, as every shape's edges are — either at a constant
`speed_mps` from the window's start, or reaching each vertex at its given time. Within its window and outside its
moving period the mover waits: at its first vertex before it sets off, at its last after it arrives.

Closest approach is computed per piece of time in which both positions move along one edge each: on such a piece
the pair is mapped to a gnomonic plane centred on it, the planar closest approach of two linear motions is solved in
closed form, and the answer is refined on the true geodesic distance (golden-section search over the piece), so the
reported distance is a GeographicLib distance between the two positions at the reported time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from deconfliction.domain.declarations import DeclarationSpec
from deconfliction.domain.geodesy import WGS84, Gnomonic, LonLat, Vec3, angle_rad, normalized, to_lonlat
from deconfliction.domain.geometry import nearest, parse_geometry

_GOLDEN = (math.sqrt(5) - 1) / 2
_REFINE_STEPS = 40
_PLANAR_SLACK = 0.05  # pieces whose planar approach is within (1 + slack) × reach + 1 km are refined


@dataclass(frozen=True, slots=True)
class Trajectory:
    """A mover's piecewise-great-circle motion: at time `times_s[i]` it is at `xyz[i]` (times non-decreasing)."""

    times_s: tuple[float, ...]
    xyz: tuple[Vec3, ...]

    def at(self, t_s: float) -> Vec3:
        ts = self.times_s
        if t_s <= ts[0]:
            return self.xyz[0]
        if t_s >= ts[-1]:
            return self.xyz[-1]
        lo, hi = 0, len(ts) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ts[mid] <= t_s:
                lo = mid
            else:
                hi = mid
        span = ts[hi] - ts[lo]
        f = 0.0 if span <= 0 else (t_s - ts[lo]) / span
        return _slerp(self.xyz[lo], self.xyz[hi], f)


def _slerp(u: Vec3, v: Vec3, f: float) -> Vec3:
    """The point a fraction f along the great-circle arc from u to v."""
    omega = angle_rad(u, v)
    if omega < 1e-12:
        return u
    s = math.sin(omega)
    a, b = math.sin((1 - f) * omega) / s, math.sin(f * omega) / s
    return normalized((a * u[0] + b * v[0], a * u[1] + b * v[1], a * u[2] + b * v[2]))


def trajectory(spec: DeclarationSpec) -> Trajectory | None:
    """The mover of a timed route; None for anything else (which occupies its whole shape for its whole window)."""
    timing = spec.timing
    if timing is None:
        return None
    shape = spec.shape
    xyz, lonlat = shape.xyz, shape.lonlat
    if timing.times is not None:
        # per-vertex times are given for the vertices as written; drop those of repeated positions as `lonlat` does
        times = _distinct_times(shape.coordinates, [t.timestamp() for t in timing.times])
        return Trajectory(tuple(times), tuple(xyz))
    assert timing.speed_mps is not None
    t = spec.window.start_s
    times = [t]
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(lonlat):
        t += float(WGS84.inv(lon1, lat1, lon2, lat2)[2]) / timing.speed_mps
        times.append(t)
    return Trajectory(tuple(times), tuple(xyz))


def _distinct_times(coordinates: object, times: list[float]) -> list[float]:
    positions = [tuple(p[:2]) for p in coordinates]  # type: ignore[attr-defined]
    out = [times[0]]
    for i in range(1, len(positions)):
        if positions[i] != positions[i - 1]:
            out.append(times[i])
        else:
            out[-1] = max(out[-1], times[i])  # a wait at a vertex: leave at the later time
    return out


@dataclass(frozen=True, slots=True)
class Approach:
    """The closest approach within a time window: the distance, when, and where each side is then."""

    distance_m: float
    t_s: float
    on_a: LonLat
    on_b: LonLat


def _pieces(a: Sequence[float], b: Sequence[float], start_s: float, end_s: float) -> list[tuple[float, float]]:
    cuts = sorted({start_s, end_s, *(t for t in (*a, *b) if start_s < t < end_s)})
    return [(t0, t1) for t0, t1 in itertools.pairwise(cuts) if t1 > t0] or [(start_s, start_s)]


def _geodesic_m(u: Vec3, v: Vec3) -> float:
    (lon1, lat1), (lon2, lat2) = to_lonlat(u), to_lonlat(v)
    return float(WGS84.inv(lon1, lat1, lon2, lat2)[2])


def _planar_cpa(a0: Vec3, a1: Vec3, b0: Vec3, b1: Vec3) -> tuple[float, float]:
    """(fraction of the piece, planar distance) of the closest approach of two linear motions."""
    centre = normalized(tuple(sum(c) for c in zip(a0, a1, b0, b1, strict=True)))  # type: ignore[arg-type]
    plane = Gnomonic.at(centre)
    (ax0, ay0), (ax1, ay1) = plane.forward(a0), plane.forward(a1)
    (bx0, by0), (bx1, by1) = plane.forward(b0), plane.forward(b1)
    px, py = bx0 - ax0, by0 - ay0  # relative position at the start, and its change over the piece
    vx, vy = (bx1 - ax1) - px, (by1 - ay1) - py
    vv = vx * vx + vy * vy
    f = 0.0 if vv < 1e-9 else min(1.0, max(0.0, -(px * vx + py * vy) / vv))
    return f, math.hypot(px + f * vx, py + f * vy)


def _refine(a: Trajectory, b: Trajectory, t0: float, t1: float, guess_f: float) -> tuple[float, float]:
    """Golden-section search of the geodesic distance over [t0, t1], starting around the planar answer."""

    def d(t: float) -> float:
        return _geodesic_m(a.at(t), b.at(t))

    if t1 <= t0:
        return t0, d(t0)
    lo, hi = t0, t1
    x1, x2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    f1, f2 = d(x1), d(x2)
    for _ in range(_REFINE_STEPS):
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - _GOLDEN * (hi - lo)
            f1 = d(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + _GOLDEN * (hi - lo)
            f2 = d(x2)
    best = min((d(t0), t0), (d(t1), t1), (f1, x1), (f2, x2), (d(t0 + guess_f * (t1 - t0)), t0 + guess_f * (t1 - t0)))
    return best[1], best[0]


def closest_approach(a: Trajectory, b: Trajectory, start_s: float, end_s: float, reach_m: float) -> Approach | None:
    """The closest approach of two movers between start_s and end_s; None when it is certainly ≥ reach_m."""
    best: tuple[float, float] | None = None
    for t0, t1 in _pieces(a.times_s, b.times_s, start_s, end_s):
        a0, a1, b0, b1 = a.at(t0), a.at(t1), b.at(t0), b.at(t1)
        if angle_rad(normalized(_mid(a0, a1)), normalized(_mid(b0, b1))) > math.radians(30):
            continue  # thousands of km apart all along this piece
        f, planar_m = _planar_cpa(a0, a1, b0, b1)
        if planar_m > reach_m * (1 + _PLANAR_SLACK) + 1_000.0:
            continue
        t, distance = _refine(a, b, t0, t1, f)
        if best is None or distance < best[1]:
            best = (t, distance)
    if best is None or best[1] >= reach_m:
        return None
    t = best[0]
    return Approach(best[1], t, to_lonlat(a.at(t)), to_lonlat(b.at(t)))


def _mid(u: Vec3, v: Vec3) -> Vec3:
    return (u[0] + v[0], u[1] + v[1], u[2] + v[2])


def approach_to_place(
    mover: Trajectory, place: DeclarationSpec, start_s: float, end_s: float, reach_m: float
) -> Approach | None:
    """A mover's closest approach to a static shape between start_s and end_s (the earliest time of the minimum)."""
    best: Approach | None = None
    for t0, t1 in _pieces(mover.times_s, (), start_s, end_s):
        p0, p1 = to_lonlat(mover.at(t0)), to_lonlat(mover.at(t1))
        if p0 == p1:
            path = parse_geometry({"type": "Point", "coordinates": list(p0)}, trusted=True)
        else:
            path = parse_geometry({"type": "LineString", "coordinates": [list(p0), list(p1)]}, trusted=True)
        near = nearest(path, place.shape, within_m=reach_m)
        if near is None or (best is not None and near.distance_m >= best.distance_m):
            continue
        whole = _geodesic_m(mover.at(t0), mover.at(t1))
        f = 0.0 if whole <= 0 else min(1.0, float(WGS84.inv(p0[0], p0[1], *near.on_a)[2]) / whole)
        best = Approach(near.distance_m, t0 + f * (t1 - t0), near.on_a, near.on_b)
    if best is None or best.distance_m >= reach_m:
        return None
    return best
