"""Closest point of approach (CPA) and the time to it (TCPA) of dead-reckoned movers, and a mover's time to entry
into a place's separation zone.

A mover keeps its last known speed and course: it travels along the WGS84 geodesic leaving its last fix at that
course (dead reckoning). Two movers are compared on a gnomonic plane centred between them (great circles are
straight lines there, and the plane is scaled to the ellipsoid's metric at its centre): with relative position Δp
and relative velocity Δv, TCPA = −(Δp·Δv)/|Δv|². The distance is then measured on the ellipsoid (GeographicLib)
between the two dead-reckoned positions at that time — so the figure a warning reports is geodesic, not planar.

`screen` is the same planar formula over many pairs at once (numpy); the track picture uses it to discard the pairs
that are clearly apart before the exact check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deconfliction.domain.convergence import Trajectory
from deconfliction.domain.geodesy import (
    MIN_RADIUS_M,
    WGS84,
    Gnomonic,
    LonLat,
    Vec3,
    angle_rad,
    destination,
    distance_m,
    dot,
    normalized,
    unit_vector,
)
from deconfliction.domain.geometry import Shape, nearest, parse_geometry
from deconfliction.domain.geometry_shape import padded_lon_boxes

_STEP_S = 60.0  # the planar velocity is taken over this much of the motion (great circles are straight there)
_ENTRY_TOLERANCE_M = 1.0  # a time to entry is found to within this distance of travel
_ENTRY_STEPS = 64  # most distance evaluations spent looking for the first entry
# a dead-reckoned path as a Trajectory: a point at least this often, and at least every this much of travel — a
# geodesic parts from the great-circle arc through its ends by about f·L²/8R (under a metre at 50 km)
_TRAJECTORY_STEP_S = 300.0
_TRAJECTORY_STEP_M = 50_000.0
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Motion:
    """A mover's last fix (at `t_s`) and the speed and course it is assumed to keep."""

    lon: float
    lat: float
    t_s: float
    speed_mps: float = 0.0
    course_deg: float = 0.0  # clockwise from true north

    def at(self, t_s: float) -> LonLat:
        """Where the mover is at `t_s` by dead reckoning along the geodesic from its fix."""
        run_m = self.speed_mps * (t_s - self.t_s)
        if run_m == 0.0:
            return self.lon, self.lat
        return destination(self.lon, self.lat, self.course_deg, run_m)


def motion_trajectory(mover: Motion, start_s: float, end_s: float) -> Trajectory:
    """The dead-reckoned path between two times as a Trajectory (domain/convergence.py), for comparing a mover with a
    timed route: points on the geodesic close enough that the great-circle arcs between them stay within a metre."""
    span_s = max(0.0, end_s - start_s)
    steps = max(1, math.ceil(span_s / _TRAJECTORY_STEP_S), math.ceil(mover.speed_mps * span_s / _TRAJECTORY_STEP_M))
    times = tuple(start_s + span_s * i / steps for i in range(steps + 1))
    return Trajectory(times, tuple(unit_vector(*mover.at(t)) for t in times))


def motion_between(lon1: float, lat1: float, t1_s: float, lon2: float, lat2: float, t2_s: float) -> tuple[float, float]:
    """(speed_mps, course_deg) of a mover seen at two fixes, the course being the one it holds at the second."""
    if t2_s <= t1_s:
        return 0.0, 0.0
    _, back_az, run_m = WGS84.inv(lon1, lat1, lon2, lat2)
    if run_m <= 0.0:
        return 0.0, 0.0
    return float(run_m) / (t2_s - t1_s), (float(back_az) + 180.0) % 360.0


def planar_cpa(dx_m: float, dy_m: float, dvx_mps: float, dvy_mps: float) -> tuple[float, float]:
    """(TCPA in s, CPA distance in m) of a relative motion: position Δp = (dx, dy), velocity Δv = (dvx, dvy).

    TCPA = −(Δp·Δv)/|Δv|², negative when the two are already moving apart; the distance is |Δp + Δv·TCPA|. With no
    relative motion (|Δv| = 0) the distance never changes: TCPA is 0 and the CPA is the distance now.
    """
    vv = dvx_mps * dvx_mps + dvy_mps * dvy_mps
    if vv < 1e-12:
        return 0.0, math.hypot(dx_m, dy_m)
    t = -(dx_m * dvx_mps + dy_m * dvy_mps) / vv
    return t, math.hypot(dx_m + dvx_mps * t, dy_m + dvy_mps * t)


@dataclass(frozen=True, slots=True)
class Approach:
    """Two movers' closest approach as seen at `at_s`, looking ahead at most `horizon_s`."""

    tcpa_s: float  # seconds from at_s to the closest approach; negative: it is behind them (they are diverging)
    cpa_m: float  # planar distance at the closest approach (unclipped): what ARPA calls the CPA
    t_s: float  # the time considered: at_s + TCPA clipped into [at_s, at_s + horizon_s]
    distance_m: float  # geodesic distance between the two dead-reckoned positions at t_s
    on_a: LonLat
    on_b: LonLat

    def within(self, required_m: float) -> bool:
        """True when the two come closer than `required_m` at some time within the horizon (now included)."""
        return self.distance_m < required_m


def _plane_velocity(plane: Gnomonic, m: Motion, at_s: float, here: tuple[float, float]) -> tuple[float, float]:
    if m.speed_mps <= 0.0:
        return 0.0, 0.0
    ahead = plane.forward(unit_vector(*m.at(at_s + _STEP_S)))
    return (ahead[0] - here[0]) / _STEP_S, (ahead[1] - here[1]) / _STEP_S


def closest_approach(a: Motion, b: Motion, at_s: float, horizon_s: float = math.inf) -> Approach:
    """The closest approach of two movers after `at_s`, on a gnomonic plane centred between them; its distance
    measured geodesically at the time of closest approach (clipped into the horizon)."""
    pa, pb = a.at(at_s), b.at(at_s)
    ua, ub = unit_vector(*pa), unit_vector(*pb)
    try:
        centre = normalized((ua[0] + ub[0], ua[1] + ub[1], ua[2] + ub[2]))
    except ValueError:  # antipodes: half the Earth apart, nothing to warn of
        return Approach(0.0, distance_m(*pa, *pb), at_s, distance_m(*pa, *pb), pa, pb)
    plane = Gnomonic.at(centre)
    xa, xb = plane.forward(ua), plane.forward(ub)
    va, vb = _plane_velocity(plane, a, at_s, xa), _plane_velocity(plane, b, at_s, xb)
    tcpa, cpa = planar_cpa(xb[0] - xa[0], xb[1] - xa[1], vb[0] - va[0], vb[1] - va[1])
    t = at_s + min(max(tcpa, 0.0), horizon_s)
    on_a, on_b = a.at(t), b.at(t)
    return Approach(tcpa, cpa, t, distance_m(*on_a, *on_b), on_a, on_b)


def screen(
    dp_m: NDArray[np.float64], dv_mps: NDArray[np.float64], horizon_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For many relative motions at once (rows of Δp and Δv, in any Cartesian frame, metres and m/s): (TCPA clipped
    into [0, horizon_s], distance at that time). An approximation for screening; `closest_approach` decides."""
    vv = np.einsum("ij,ij->i", dv_mps, dv_mps)
    pv = np.einsum("ij,ij->i", dp_m, dv_mps)
    # no relative motion: pv is 0 too, so t is 0 — the distance now
    t = np.clip(-pv / np.maximum(vv, 1e-12), 0.0, horizon_s)
    at = dp_m + dv_mps * t[:, None]
    return t, np.sqrt(np.einsum("ij,ij->i", at, at))


@dataclass(frozen=True, slots=True)
class Entry:
    """A mover's first entry into a place's separation zone: when, where it is then, and the nearest point of the
    place (its own shape) to it."""

    t_s: float
    distance_m: float  # from the mover to the place's shape at t_s (just under the zone's width, or less inside)
    at: LonLat
    on_place: LonLat


def _point(at: LonLat) -> Shape:
    return parse_geometry({"type": "Point", "coordinates": list(at)}, trusted=True)


def path_shape(mover: Motion, start_s: float, end_s: float) -> Shape:
    """The dead-reckoned path between two times, as a shape (a point when the mover stands still)."""
    p0, p1 = mover.at(start_s), mover.at(end_s)
    if p0 == p1:
        return _point(p0)
    return parse_geometry({"type": "LineString", "coordinates": [list(p0), list(p1)]}, trusted=True)


def _inside(gap_m: float, zone_m: float) -> bool:
    return gap_m < zone_m or gap_m == 0.0  # touching the place itself counts even with a zone of 0


def path_reaches(mover: Motion, place: Shape, zone_m: float, start_s: float, end_s: float) -> float | None:
    """When the dead-reckoned path between start_s and end_s comes closest to `place`, if within `zone_m` of it
    (one geodesic check of the whole path); None when it stays outside."""
    near = nearest(path_shape(mover, start_s, end_s), place, within_m=zone_m)
    if near is None or not _inside(near.distance_m, zone_m):
        return None
    if mover.speed_mps <= 0.0 or end_s <= start_s:
        return start_s
    run_m = distance_m(*mover.at(start_s), *near.on_a)
    return min(end_s, start_s + run_m / mover.speed_mps)


def time_to_entry(mover: Motion, place: Shape, zone_m: float, start_s: float, end_s: float) -> Entry | None:
    """The first time in [start_s, end_s] at which the mover is within `zone_m` of `place` (the shape grown by the
    required separation and its radius), or None when it stays outside.

    Marches along the dead-reckoned path: from a point at distance d from the place, the mover cannot enter the zone
    before it has travelled d − zone_m, so no step skips an entry and the march closes in on the first one, to
    within a metre of travel. A path that grazes the zone for long ends at its point nearest the place.
    """
    nearest_s = path_reaches(mover, place, zone_m, start_s, end_s)
    if nearest_s is None:
        return None
    t = start_s
    for _ in range(_ENTRY_STEPS):
        here = mover.at(t)
        near = nearest(_point(here), place)
        assert near is not None  # without `within_m` there is always an answer
        if _inside(near.distance_m, zone_m) or t >= nearest_s:
            return Entry(t, near.distance_m, here, near.on_b)
        t = min(nearest_s, t + max(near.distance_m - zone_m, _ENTRY_TOLERANCE_M) / mover.speed_mps)
    here = mover.at(nearest_s)
    near = nearest(_point(here), place)
    assert near is not None
    return Entry(nearest_s, near.distance_m, here, near.on_b)


def cap_boxes(lon: float, lat: float, radius_m: float) -> list[Box]:
    """Lon/lat boxes (minlon, minlat, maxlon, maxlat) covering every point within radius_m of (lon, lat): one, two
    across ±180°, the whole longitude range when the cap reaches a pole (conservative, as `Shape.boxes`)."""
    g = max(radius_m, 0.0) / MIN_RADIUS_M * (1 + 1e-9) + 1e-12
    lo, hi = lat - math.degrees(g), lat + math.degrees(g)
    if hi >= 90.0 or lo <= -90.0:
        return [(-180.0, max(-90.0, lo), 180.0, min(90.0, hi))]
    return padded_lon_boxes(lon, lon, lo, hi, g)


def _arc_angle_rad(c: Vec3, u0: Vec3, u1: Vec3) -> float:
    """The angle from c to the nearest point of the great-circle arc u0 → u1 (shorter than half the circle)."""
    n = (u0[1] * u1[2] - u0[2] * u1[1], u0[2] * u1[0] - u0[0] * u1[2], u0[0] * u1[1] - u0[1] * u1[0])
    nn = math.sqrt(dot(n, n))
    ends = min(angle_rad(c, u0), angle_rad(c, u1))
    if nn < 1e-12:
        return ends
    cn = dot(c, n) / nn
    foot = (c[0] - cn * n[0] / nn, c[1] - cn * n[1] / nn, c[2] - cn * n[2] / nn)  # c projected on the arc's plane
    # the foot lies within the arc when it is on the inner side of both ends
    inside = dot(_cross(u0, foot), n) >= 0 and dot(_cross(foot, u1), n) >= 0
    return min(ends, math.asin(min(1.0, abs(cn)))) if inside else ends


def _cross(u: Vec3, v: Vec3) -> Vec3:
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def may_reach(mover: Motion, place: Shape, zone_m: float, start_s: float, end_s: float) -> bool:
    """A cheap, conservative test before `path_reaches`: False only when the path between start_s and end_s stays
    certainly farther than zone_m from the place's bounding cap."""
    u0, u1 = unit_vector(*mover.at(start_s)), unit_vector(*mover.at(end_s))
    # a geodesic and the great circle through its ends part by far less than 1 % of its length
    slack_rad = 0.01 * angle_rad(u0, u1) + 1e-5
    gap_rad = _arc_angle_rad(place.cap_centre, u0, u1) - place.cap_radius_rad - slack_rad
    return gap_rad * MIN_RADIUS_M < zone_m
