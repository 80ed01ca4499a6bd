"""Coverings: what a party outside a declaration's audience may learn of it — and nothing finer.

A declaration a party may not see is never compared with that party's shapes as it is. It is replaced by its
*covering*, a conservative stand-in built only from coarse facts about it:

* each vertex moved to the centre of the H3 cell that holds it, at the finest resolution whose hexagons' average
  edge is at least the declaration's `precision_m` (100 m → resolution 9, 1 km → 7, 50 km → 3);
* its radius grown by the largest distance from those cells' centres to their corners (so the covering holds the
  shape whatever its vertices' place in their cells), then rounded up to a whole multiple of `precision_m`;
* its stated separation rounded up to a multiple of `precision_m`;
* its time window widened to whole steps of `time_s` (epoch-aligned) and its altitude band to whole steps of
  `altitude_m`;
* a timed route cut into pieces, one per step of time it travels in: in each, anywhere on the part of its path it
  travels during that step (when within the step it passes is not disclosed either).

Every fact the covering holds is constant while the declaration stays within the same cells, time steps and
altitude steps; so whatever a caller asks — a location, a distance, a yes/no decision bisected a thousand times —
it learns the cells, never a position within one. And the covering holds the exact declaration (in space, time and
altitude), so every pair of shapes that comes within separation still conflicts: privacy never costs safety.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache

import h3

from deconfliction.domain.altitude import MAX_ALTITUDE_M, MIN_ALTITUDE_M, AltitudeBand
from deconfliction.domain.convergence import Trajectory, trajectory
from deconfliction.domain.declarations import DeclarationSpec
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.geodesy import LonLat, Vec3, distance_m, normalized, to_lonlat, unit_vector
from deconfliction.domain.geometry import Shape, build_made
from deconfliction.domain.timewindow import TimeWindow, from_epoch_s

# Great-circle arcs between moved vertices stay within 1/cos(20°) of the vertices' own offset (the longest edge a
# shape may have spans 40°), and WGS84 distances differ from the sphere's by under 0.5 %: 10 % covers both.
_ARC_MARGIN = 1.1
_CELL_REACH = 1.12  # the farthest corner from a cell's centre, over the resolution's average edge
_LAST_S = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()  # the last instant a window may end at


@dataclass(frozen=True, slots=True)
class DisclosureSteps:
    """The channel's steps of disclosure: a declaration's own `precision_m` (or this default) in space; these in
    time and altitude."""

    precision_m: float = 1_000.0
    time_s: float = 3_600.0
    altitude_m: float = 100.0


@lru_cache(maxsize=256)
def resolution_for(precision_m: float) -> int:
    """The finest H3 resolution whose hexagons' average edge is at least `precision_m`."""
    for res in range(15, -1, -1):
        if h3.average_hexagon_edge_length(res, "m") >= precision_m:
            return res
    return 0


@lru_cache(maxsize=16)
def cell_reach_m(res: int) -> float:
    """The farthest any cell's corner lies from its centre at this resolution, with the arc margin: about 1.1 × the
    resolution's average edge (pentagons and the icosahedron's distortion included; tests/unit/test_covering.py
    checks 1.12 over every pentagon and many hexagons)."""
    return float(h3.average_hexagon_edge_length(res, "m")) * _CELL_REACH * _ARC_MARGIN + 1.0


def snap(lonlat: LonLat, res: int) -> LonLat:
    """The centre of the H3 cell holding `lonlat`."""
    lat, lon = h3.cell_to_latlng(h3.latlng_to_cell(lonlat[1], lonlat[0], res))
    return lon, lat


def round_up(value: float, step: float) -> float:
    """The least multiple of `step` not below `value` (never below it, whatever the float rounding)."""
    k = math.ceil(value / step)
    return (k + 1) * step if k * step < value else k * step


def floor_to(value: float, step: float) -> float:
    """The greatest multiple of `step` not above `value`, and not below 0: a distance as a covering may tell it."""
    return max(0.0, math.floor(value / step) * step)


def widen_window(window: TimeWindow, step_s: float) -> TimeWindow:
    """The window widened to whole, epoch-aligned steps; an open end stays open."""
    start = from_epoch_s(math.floor(window.start_s / step_s) * step_s)
    if window.end is None:
        return TimeWindow(start, None)
    return TimeWindow(start, from_epoch_s(min(math.ceil(window.end_s / step_s) * step_s, _LAST_S)))


def widen_band(band: AltitudeBand, step_m: float) -> AltitudeBand:
    """The band widened to whole steps, kept within the altitudes a band may have."""
    lower = max(MIN_ALTITUDE_M, math.floor(band.lower_m / step_m) * step_m)
    upper = None if band.upper_m is None else min(MAX_ALTITUDE_M, math.ceil(band.upper_m / step_m) * step_m)
    return AltitudeBand(lower, upper)


Covering = tuple[DeclarationSpec, ...]  # one piece; a timed route's, one per step of time it travels in
_MOST_PIECES = 48  # a longer schedule is cut into fewer, longer steps (each a whole number of time steps)


def coverings(spec: DeclarationSpec, steps: DisclosureSteps) -> Covering:
    """The conservative stand-in for `spec` that a party outside its audience is compared with (see the module):
    one piece, or for a timed route one per step of time — where it may be during that step, untimed."""
    route = trajectory(spec)
    if route is None or len(route.times_s) < 2:
        return (covering(spec, steps),)
    return tuple(covering(piece, steps) for piece in _pieces(spec, route, steps.time_s))


def _pieces(spec: DeclarationSpec, route: Trajectory, step_s: float) -> list[DeclarationSpec]:
    """The timed route cut at whole steps of time: waiting at its first vertex until it sets off, each step's part
    of the path, waiting at its last vertex after it arrives. Each piece is untimed, over its step."""
    t0, tn = route.times_s[0], route.times_s[-1]
    first, last = math.floor(t0 / step_s), math.floor(tn / step_s)
    step_s *= max(1, math.ceil((last - first + 1) / _MOST_PIECES))
    first, last = math.floor(t0 / step_s), math.floor(tn / step_s)
    pieces = [_piece(spec, [route.xyz[0]], spec.window.start_s, t0)]
    for k in range(first, last + 1):
        lo, hi = max(k * step_s, t0), min((k + 1) * step_s, tn)
        inner = [v for t, v in zip(route.times_s, route.xyz, strict=True) if lo < t < hi]
        pieces.append(_piece(spec, [route.at(lo), *inner, route.at(hi)], lo, hi))
    pieces.append(_piece(spec, [route.xyz[-1]], tn, None if spec.window.end is None else spec.window.end_s))
    return pieces


def _piece(spec: DeclarationSpec, path: list[Vec3], start_s: float, end_s: float | None) -> DeclarationSpec:
    lonlat = [to_lonlat(v) for v in path]
    distinct = [p for i, p in enumerate(lonlat) if i == 0 or p != lonlat[i - 1]]
    if len(distinct) < 2:
        geometry: dict[str, object] = {"type": "Point", "coordinates": list(distinct[0])}
    else:
        geometry = {"type": "LineString", "coordinates": [list(p) for p in distinct]}
    end = None if end_s is None else from_epoch_s(max(end_s, start_s + 1.0))  # an instant: its step, widened below
    return replace(spec, shape=build_made(geometry), window=TimeWindow(from_epoch_s(start_s), end), timing=None)


def covering(spec: DeclarationSpec, steps: DisclosureSteps) -> DeclarationSpec:
    """The covering of an untimed declaration (a timed route's is `coverings`)."""
    precision = spec.precision_m or steps.precision_m
    shape, reach_m = _covering_shape(spec.shape, resolution_for(precision))
    separation = None if spec.separation_m is None else round_up(spec.separation_m, precision)
    return replace(
        spec,
        name="",
        shape=shape,
        radius_m=round_up(spec.radius_m + reach_m, precision),
        separation_m=separation,
        window=widen_window(spec.window, steps.time_s),
        altitude=widen_band(spec.altitude, steps.altitude_m),
        timing=None,
        audience="conflicts",
        precision_m=precision,
    )


@lru_cache(maxsize=256)
def growth_bound_m(precision_m: float) -> float:
    """The most a covering (grown by its radius) reaches beyond its declaration (grown by its radius), and its
    separation beyond the declaration's: the moved shape and its grown radius each take a cell's reach once, and
    the radius and the separation each a step of rounding."""
    return 2 * cell_reach_m(resolution_for(precision_m)) + 2 * precision_m


def _covering_shape(shape: Shape, res: int) -> tuple[Shape, float]:
    """The shape with each vertex at its cell's centre, and how far that may have moved any point of it."""
    moved: list[list[list[LonLat]]] = []
    reach_m = cell_reach_m(res)
    for part in _parts(shape):
        rings = []
        for ring in part:
            snapped: list[LonLat] = []
            for p in ring:
                centre = snap(p, res)
                if not snapped or snapped[-1] != centre:
                    snapped.append(centre)
            rings.append(snapped)
        moved.append(rings)
    try:
        return _rebuild(shape.geom_type, moved, reach_m)
    except InvalidInput:
        pass
    try:
        return _cells(shape, res, reach_m)
    except (InvalidInput, ValueError, h3.H3BaseException):
        return _cap([p for part in moved for ring in part for p in ring], reach_m)


def _cells(shape: Shape, res: int, reach_m: float) -> tuple[Shape, float]:
    """The union of the cells the shape overlaps: for an area that moving its vertices folded (a thin or small
    polygon). It holds the shape; the cells' corners are within `reach_m` of it."""
    polygons = [h3.LatLngPoly(*[[(lat, lon) for lon, lat in ring] for ring in part]) for part in _parts(shape)]
    cells = set(h3.h3shape_to_cells_experimental(h3.LatLngMultiPoly(*polygons), res, "overlap"))
    cells.update(h3.latlng_to_cell(lat, lon, res) for lon, lat in shape.lonlat)
    geo = h3.cells_to_h3shape(sorted(cells)).__geo_interface__
    coordinates = geo["coordinates"]
    if geo["type"] == "Polygon":
        coordinates = [coordinates]
    rings = [[[list(p) for p in ring] for ring in poly] for poly in coordinates]
    # the cells' union is the covering; a tenth of a cell's reach more covers the cells' arcs against the shape's
    return build_made({"type": "MultiPolygon", "coordinates": rings}), reach_m / 10


def _parts(shape: Shape) -> list[list[list[LonLat]]]:
    """The shape's coordinates as parts → rings (or one chain) → positions."""
    c = shape.coordinates
    if shape.geom_type == "Point":
        return [[[c]]]
    if shape.geom_type == "LineString":
        return [[list(c)]]
    if shape.geom_type == "Polygon":
        return [[list(r) for r in c]]
    return [[list(r) for r in poly] for poly in c]


def _rebuild(geom_type: str, moved: list[list[list[LonLat]]], reach_m: float) -> tuple[Shape, float]:
    """A shape through the moved vertices; InvalidInput where moving them made none valid (a ring folded onto
    itself, a part collapsed into one cell)."""
    points = [p for part in moved for ring in part for p in ring]
    if geom_type == "Point" or len({*points}) == 1:
        return point_shape(points[0]), reach_m
    if geom_type == "LineString":
        return build_made({"type": "LineString", "coordinates": moved[0][0]}), reach_m
    polygons = [[_closed(ring) for ring in part] for part in moved]
    if geom_type == "Polygon":
        return build_made({"type": "Polygon", "coordinates": polygons[0]}), reach_m
    return build_made({"type": "MultiPolygon", "coordinates": polygons}), reach_m


def _closed(ring: Sequence[LonLat]) -> list[LonLat]:
    out = list(ring)
    if out[0] != out[-1]:
        out.append(out[0])
    return out


def point_shape(lonlat: LonLat) -> Shape:
    return build_made({"type": "Point", "coordinates": list(lonlat)})


def _cap(points: Sequence[LonLat], reach_m: float) -> tuple[Shape, float]:
    """The last resort: the point at the mean direction of `points`, and a radius holding every point (and so their
    hull)."""
    mean = normalized(tuple(sum(v[i] for v in (unit_vector(*p) for p in points)) for i in range(3)))  # type: ignore[arg-type]
    centre = to_lonlat(mean)
    radius = max(distance_m(*centre, *p) for p in points) * _ARC_MARGIN
    return point_shape(centre), reach_m + radius
