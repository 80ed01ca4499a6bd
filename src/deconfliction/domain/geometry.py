"""Shapes of declarations: parsing and validating GeoJSON geometry, and the distance between shapes.

Semantics, decided once:

* Types: Point, LineString, Polygon (with holes) and MultiPolygon; anything else is rejected at
  `geometry.type`.
* Positions are ``[lon, lat]`` or ``[lon, lat, alt]`` (the altitude is checked to be a number, then
  ignored): finite numbers (not booleans or strings), lon in [-180, 180], lat in [-90, 90].
* Edges between consecutive vertices are the shortest great-circle arcs on the sphere of geodetic
  coordinates, not straight lines in lon/lat. So a ring may cross ±180° uncut, and RFC 7946 cut
  MultiPolygons work too.
* Rings are closed, have ≥ 4 positions, do not self-intersect and enclose a non-zero area; holes lie
  inside their shell. Validity is judged in the gnomonic plane centred on the shape, where arcs are
  straight. Consecutive duplicate positions (also 180 vs -180, and any two longitudes at a pole) are
  dropped. The parts of a MultiPolygon are each validated; parts may touch (a cut at ±180° makes
  them share an edge).
* A LineString needs ≥ 2 distinct positions.
* Every vertex lies within 20° of arc from the shape's centre (the normalised mean of its vertex
  unit vectors): one declaration is at most about 4400 km across. This also rules out antipodal
  consecutive vertices.
* `vertex_count` counts positions as given; above `max_vertices` → TooLarge. The geodesic area
  (shells minus holes, parts summed) above `max_area_m2` → TooLarge.

`parse_geometry(obj, trusted=True)` rebuilds a shape the store wrote (from `Shape.geojson()` of a
shape that was validated): it skips every check, and a polygon's area and representative point are
computed only when first asked for. The Shape is otherwise field for field what the validating parse
builds, by the same code; given anything else its result is undefined.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import shapely

from deconfliction.domain.errors import InvalidInput, TooLarge
from deconfliction.domain.geodesy import (
    Gnomonic,
    LonLat,
    Vec3,
    angle_rad,
    normalized,
    unit_vector,
)
from deconfliction.domain.geometry_nearest import Nearest, nearest
from deconfliction.domain.geometry_shape import (
    MAX_SPAN_DEG,
    Box,
    Shape,
    build_shape,
    polygons_area_m2,
    representative_point,
)
from deconfliction.domain.numbers import finite_float

__all__ = ["Box", "Nearest", "Shape", "nearest", "parse_geometry"]

SUPPORTED = ("Point", "LineString", "Polygon", "MultiPolygon")
_AXES = ("longitude", "latitude", "altitude")
_WHERE = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")


def parse_geometry(obj: Any, *, max_vertices: int = 10_000, max_area_m2: float = 2e11, trusted: bool = False) -> Shape:
    """Validate a GeoJSON geometry object and build its Shape; errors name the field.

    trusted: `obj` is a stored shape's `geojson()`; build it without checks (see the module doc).
    """
    if trusted:
        return _trusted_shape(obj)
    if not isinstance(obj, Mapping):
        raise InvalidInput("geometry must be a GeoJSON geometry object", field="geometry")
    gtype = obj.get("type")
    if gtype not in SUPPORTED:
        shown = repr(gtype) if gtype is not None else "missing"
        raise InvalidInput(
            f"geometry type {shown} is not supported; use Point, LineString, Polygon or MultiPolygon",
            field="geometry.type",
        )
    if "coordinates" not in obj:
        raise InvalidInput("geometry has no coordinates", field="geometry.coordinates")
    raw = obj["coordinates"]
    path = "geometry.coordinates"
    depth = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}[gtype]
    count = _count_positions(raw, depth, path)
    if count > max_vertices:
        raise TooLarge(f"{gtype} has {count} vertices; the limit is {max_vertices}", field=path)
    coords = _positions(raw, depth, path)
    if gtype == "Point":
        parts: list[list[list[LonLat]]] = [[[coords]]]
    elif gtype == "LineString":
        chain = _dedupe(coords)
        if len(chain) < 2:
            raise InvalidInput("a LineString needs at least 2 distinct positions", field=path)
        parts = [[chain]]
    elif gtype == "Polygon":
        parts = [_rings(coords, path, "")]
    else:
        if not coords:
            raise InvalidInput("a MultiPolygon needs at least one polygon", field=path)
        parts = [_rings(p, f"{path}[{i}]", f"polygon {i} ") for i, p in enumerate(coords)]
    xyz_parts = [[[unit_vector(lon, lat) for lon, lat in ch] for ch in part] for part in parts]
    centre = _centre(xyz_parts, path)
    plane = Gnomonic.at(centre)
    areal = gtype in ("Polygon", "MultiPolygon")
    representative = parts[0][0][len(parts[0][0]) // 2]
    area_m2 = 0.0
    if areal:
        polygons = [
            _valid_polygon(
                plane,
                xyz,
                f"{path}[{i}]" if gtype == "MultiPolygon" else path,
                f"polygon {i} " if gtype == "MultiPolygon" else "",
            )
            for i, xyz in enumerate(xyz_parts)
        ]
        area_m2 = polygons_area_m2(parts)
        if area_m2 > max_area_m2:
            raise TooLarge(
                f"area {area_m2 / 1e6:.0f} km² exceeds the limit of {max_area_m2 / 1e6:.0f} km²",
                field="geometry",
            )
        representative = representative_point(plane, polygons)
    return build_shape(gtype, coords, count, area_m2, parts, xyz_parts, centre, representative)


def _trusted_shape(obj: Mapping[str, Any]) -> Shape:
    """The validating parse's normalisation without its checks; area and representative deferred."""
    gtype, raw = obj["type"], obj["coordinates"]
    if gtype == "Point":
        coords: Any = (float(raw[0]), float(raw[1]))
        count = 1
        parts: list[list[list[LonLat]]] = [[[coords]]]
    elif gtype == "LineString":
        coords = tuple([(float(p[0]), float(p[1])) for p in raw])
        count = len(coords)
        parts = [[_dedupe(coords)]]
    elif gtype == "Polygon":
        coords = tuple([tuple([(float(p[0]), float(p[1])) for p in ring]) for ring in raw])
        count = sum(len(ring) for ring in coords)
        parts = [_rings(coords, "", "")]
    else:
        coords = tuple([tuple([tuple([(float(p[0]), float(p[1])) for p in ring]) for ring in poly]) for poly in raw])
        count = sum(len(ring) for poly in coords for ring in poly)
        parts = [_rings(poly, "", "") for poly in coords]
    xyz_parts = [[[unit_vector(lon, lat) for lon, lat in ch] for ch in part] for part in parts]
    centre = _mean_direction([v for part in xyz_parts for chain in part for v in chain])
    if gtype in ("Polygon", "MultiPolygon"):
        return build_shape(gtype, coords, count, None, parts, xyz_parts, centre, None)
    representative = parts[0][0][len(parts[0][0]) // 2]
    return build_shape(gtype, coords, count, 0.0, parts, xyz_parts, centre, representative)


def build_made(obj: Mapping[str, Any]) -> Shape:
    """A shape from geometry this program made itself (a covering, from valid shapes): the trusted build, plus the
    checks that moving vertices can break: a ring too short or folded onto itself, a hole outside its shell."""
    shape = _trusted_shape(obj)
    if not shape.is_areal:
        return shape
    raw = obj["coordinates"] if obj["type"] == "MultiPolygon" else [obj["coordinates"]]
    plane = Gnomonic.at(shape.cap_centre)
    for poly in raw:  # parts may overlap: the shape is their union, as for distances it always is
        rings = _rings([[(float(p[0]), float(p[1])) for p in ring] for ring in poly], "geometry", "")
        _valid_polygon(plane, [[unit_vector(*p) for p in ring] for ring in rings], "geometry", "")
    return shape


def _count_positions(raw: Any, depth: int, path: str) -> int:
    """Check the nesting of `raw` down to positions and count them."""
    if depth == 0:
        if not isinstance(raw, list | tuple):
            raise InvalidInput(f"{path} must be a position [lon, lat], not {_kind(raw)}", field=path)
        return 1
    what = {1: "an array of positions", 2: "an array of linear rings", 3: "an array of polygons"}[depth]
    if not isinstance(raw, list | tuple):
        raise InvalidInput(f"{path} must be {what}, not {_kind(raw)}", field=path)
    if not raw:
        raise InvalidInput(f"{path} is empty; it must be {what}", field=path)
    return sum(_count_positions(x, depth - 1, f"{path}[{i}]") for i, x in enumerate(raw))


def _kind(x: Any) -> str:
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, int | float):
        return f"the number {x!r}"
    if isinstance(x, str):
        return "a string"
    if x is None:
        return "null"
    return f"a {type(x).__name__}"


def _positions(raw: Any, depth: int, path: str) -> Any:
    if depth == 0:
        return _position(raw, path)
    return tuple(_positions(x, depth - 1, f"{path}[{i}]") for i, x in enumerate(raw))


def _position(raw: Sequence[Any], path: str) -> LonLat:
    if not 2 <= len(raw) <= 3:
        raise InvalidInput(f"a position has 2 or 3 numbers (lon, lat[, alt]); {path} has {len(raw)}", field=path)
    for axis, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InvalidInput(f"{_AXES[axis]} at {path} is {_kind(v)}, not a number", field=path)
        if finite_float(v) is None:
            raise InvalidInput(
                f"{_AXES[axis]} at {path} is not a finite number ({v!r})".replace("nan)", "NaN)"),
                field=path,
            )
    lon, lat = float(raw[0]), float(raw[1])
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(f"longitude {lon!r} at {path} is outside -180..180", field=path)
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(f"latitude {lat!r} at {path} is outside -90..90", field=path)
    return lon, lat


def _same_point(p: LonLat, q: LonLat) -> bool:
    """Equal as points on the Earth: 180° is -180°, and every longitude meets at a pole."""
    if p[1] != q[1]:
        return False
    return abs(p[1]) == 90.0 or p[0] == q[0] or abs(p[0]) == abs(q[0]) == 180.0


def _dedupe(chain: Sequence[LonLat]) -> list[LonLat]:
    out: list[LonLat] = []
    for p in chain:
        if not out or not _same_point(out[-1], p):
            out.append(p)
    return out


def _rings(rings: Sequence[Sequence[LonLat]], path: str, prefix: str) -> list[list[LonLat]]:
    """Closed rings without their closing vertex and consecutive duplicates."""
    out = []
    for r, ring in enumerate(rings):
        name, where = f"{prefix}ring {r}", f"{path}[{r}]"
        if len(ring) < 4:
            raise InvalidInput(f"{name} has {len(ring)} positions; a linear ring needs at least 4", field=where)
        if ring[0] != ring[-1]:
            raise InvalidInput(
                f"{name} is not closed: first point {list(ring[0])} differs from last point {list(ring[-1])}",
                field=where,
            )
        chain = _dedupe(ring)
        if len(chain) > 1 and _same_point(chain[0], chain[-1]):
            chain.pop()
        if len(chain) < 3:
            raise InvalidInput(f"{name} has fewer than 3 distinct positions; it encloses no area", field=where)
        out.append(chain)
    return out


def _centre(xyz_parts: Sequence[Sequence[Sequence[Vec3]]], path: str) -> Vec3:
    """Normalised mean of the vertex unit vectors; every vertex must lie within MAX_SPAN_DEG."""
    vs = [v for part in xyz_parts for chain in part for v in chain]
    centre = _mean_direction(vs)
    span = max(math.degrees(angle_rad(centre, v)) for v in vs)
    if span > MAX_SPAN_DEG:
        raise InvalidInput(
            "shape too large to be one declaration: "
            f"a vertex lies {span:.1f}° of arc from the shape's centre; "
            f"the limit is {MAX_SPAN_DEG:.0f}° (about {MAX_SPAN_DEG * 111.2:.0f} km)",
            field=path,
        )
    return centre


def _mean_direction(vs: Sequence[Vec3]) -> Vec3:
    """Normalised mean of unit vectors; the north pole when they cancel out (_centre rejects that)."""
    sx, sy, sz = sum(v[0] for v in vs), sum(v[1] for v in vs), sum(v[2] for v in vs)
    try:
        return normalized((sx, sy, sz))
    except ValueError:
        return (0.0, 0.0, 1.0)


def _where(plane: Gnomonic, reason: str) -> str:
    m = _WHERE.search(reason)
    if not m:
        return ""
    return f" near {_lonlat_text(plane.inverse(float(m.group(1)), float(m.group(2))))}"


def _lonlat_text(p: LonLat) -> str:
    return f"[{p[0]:.5f}, {p[1]:.5f}]"


def _valid_polygon(plane: Gnomonic, rings_xyz: Sequence[Sequence[Vec3]], path: str, prefix: str) -> Any:
    """The polygon in the shape's plane, after checking each ring and how holes sit in the shell."""
    planar = []
    for r, ring in enumerate(rings_xyz):
        pts = [plane.forward(v) for v in ring]
        ring_poly = shapely.Polygon(pts)
        name, where = f"{prefix}ring {r}", f"{path}[{r}]"
        if not shapely.is_simple(ring_poly.exterior):
            at = _where(plane, shapely.is_valid_reason(ring_poly))
            raise InvalidInput(f"{name} self-intersects{at}", field=where)
        if ring_poly.area <= 1e-6:
            raise InvalidInput(f"{name} has zero area", field=where)
        planar.append((pts, ring_poly))
    shell_pts, shell = planar[0]
    if len(planar) == 1:
        return shell  # one simple ring of positive area is a valid polygon: no need to check it again
    for r, (_, hole) in enumerate(planar[1:], start=1):
        name, where = f"{prefix}ring {r}", f"{path}[{r}]"
        if not shell.contains(hole):
            if shell.boundary.intersects(hole.boundary):
                rp = shapely.intersection(shell.boundary, hole.boundary).representative_point()
                at = f" near {_lonlat_text(plane.inverse(float(rp.x), float(rp.y)))}"
                raise InvalidInput(f"{name} (a hole) crosses its shell {prefix}ring 0{at}", field=where)
            raise InvalidInput(f"{name} (a hole) lies outside its shell {prefix}ring 0", field=where)
    polygon = shapely.Polygon(shell_pts, [pts for pts, _ in planar[1:]])
    reason = shapely.is_valid_reason(polygon)
    if reason != "Valid Geometry":
        kind = reason.split("[")[0].strip().lower()
        raise InvalidInput(f"{prefix.strip() or 'polygon'} is invalid: {kind}{_where(plane, reason)}", field=path)
    return polygon
