"""A parsed, validated shape with what the hot path needs cached: vertices, unit vectors, edges.

Edges are great-circle arcs on the sphere of geodetic coordinates (see `geodesy`). A shape's
vertices all lie within `MAX_SPAN_DEG` of arc from its centre (the normalised mean of its vertex
unit vectors), which keeps its own and its pairs' gnomonic planes well conditioned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deconfliction.domain.geodesy import (
    MIN_RADIUS_M,
    LonLat,
    Vec3,
    angle_rad,
    normalized,
    to_lonlat,
)

Box = tuple[float, float, float, float]
Coordinates = Any  # nested tuples of floats, as GeoJSON nests them
MAX_SPAN_DEG = 20.0


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """An immutable Point, LineString, Polygon or MultiPolygon, ready for `nearest` and `boxes`."""

    geom_type: str
    coordinates: Coordinates  # as given (tuples), altitudes dropped
    vertex_count: int  # positions as given, closing positions and duplicates included
    area_m2: float
    lonlat: tuple[LonLat, ...]  # distinct vertices: consecutive duplicates and ring closures dropped
    xyz: tuple[Vec3, ...]  # their unit vectors
    edges: tuple[tuple[int, int], ...]  # great-circle arcs between vertices (indices into lonlat/xyz)
    polygon_edges: tuple[tuple[int, int], ...]  # per polygon, the range of `edges` holding its rings
    component_vertices: tuple[int, ...]  # one vertex of each connected part (for containment tests)
    cap_centre: Vec3
    cap_radius_rad: float  # every point of the shape is within this arc of cap_centre
    representative: LonLat
    lat_min: float  # latitude extent of the edges, arcs' poleward bulge included
    lat_max: float
    lon_centre: float  # longitude extent relative to lon_centre, valid when the shape avoids the poles
    dlon_min: float
    dlon_max: float

    @property
    def is_areal(self) -> bool:
        return bool(self.polygon_edges)

    def geojson(self) -> dict[str, Any]:
        """The normalised GeoJSON geometry: coordinates as given, as lists of floats."""
        return {"type": self.geom_type, "coordinates": _lists(self.coordinates)}

    def centroid(self) -> LonLat:
        """A representative point: inside a polygon, on a line, the point itself."""
        return self.representative

    def boxes(self, grow_m: float = 0.0) -> list[Box]:
        """Lon/lat boxes (minlon, minlat, maxlon, maxlat) covering all points within grow_m of it.

        Conservative: one box, two when it crosses ±180°, full longitude when the grown shape
        reaches a pole.
        """
        # an arc of g radians on the geodetic sphere is at most MIN_RADIUS_M * g metres on WGS84
        g = max(grow_m, 0.0) / MIN_RADIUS_M * (1 + 1e-9) + 1e-12
        g_deg = math.degrees(g)
        lat_lo = max(-90.0, self.lat_min - g_deg)
        lat_hi = min(90.0, self.lat_max + g_deg)
        reach = self.cap_radius_rad + g
        to_north = angle_rad(self.cap_centre, (0.0, 0.0, 1.0))
        to_south = math.pi - to_north
        if to_north <= reach or lat_hi >= 90.0:
            return [(-180.0, lat_lo, 180.0, 90.0)]
        if to_south <= reach or lat_lo <= -90.0:
            return [(-180.0, -90.0, 180.0, lat_hi)]
        widest = max(abs(lat_lo), abs(lat_hi))
        s = math.sin(g) / math.cos(math.radians(widest))
        if s >= 1.0:
            return [(-180.0, lat_lo, 180.0, lat_hi)]
        pad = math.degrees(math.asin(s)) * (1 + 1e-9) + 1e-9
        lo = self.lon_centre + self.dlon_min - pad
        hi = self.lon_centre + self.dlon_max + pad
        if hi - lo >= 360.0:
            return [(-180.0, lat_lo, 180.0, lat_hi)]
        if lo < -180.0:
            return [(lo + 360.0, lat_lo, 180.0, lat_hi), (-180.0, lat_lo, hi, lat_hi)]
        if hi > 180.0:
            return [(lo, lat_lo, 180.0, lat_hi), (-180.0, lat_lo, hi - 360.0, lat_hi)]
        return [(lo, lat_lo, hi, lat_hi)]


def _lists(c: Coordinates) -> Any:
    if isinstance(c, tuple) and c and isinstance(c[0], float):
        return list(c)
    return [_lists(x) for x in c]


def build_shape(
    geom_type: str,
    coordinates: Coordinates,
    vertex_count: int,
    area_m2: float,
    parts: Sequence[Sequence[Sequence[LonLat]]],
    xyz_parts: Sequence[Sequence[Sequence[Vec3]]],
    cap_centre: Vec3,
    representative: LonLat,
) -> Shape:
    """Assemble a Shape from validated parts.

    Each part is a list of vertex chains: rings without their closing vertex for areal shapes, else
    the one open chain of a Point or LineString.
    """
    areal = geom_type in ("Polygon", "MultiPolygon")
    lonlat: list[LonLat] = []
    xyz: list[Vec3] = []
    edges: list[tuple[int, int]] = []
    polygon_edges: list[tuple[int, int]] = []
    components: list[int] = []
    for chains, xyz_chains in zip(parts, xyz_parts, strict=True):
        first_edge = len(edges)
        components.append(len(lonlat))
        for chain, xyz_chain in zip(chains, xyz_chains, strict=True):
            start = len(lonlat)
            lonlat.extend(chain)
            xyz.extend(xyz_chain)
            k = len(chain)
            edges.extend((start + i, start + i + 1) for i in range(k - 1))
            if areal:
                edges.append((start + k - 1, start))
        if areal:
            polygon_edges.append((first_edge, len(edges)))
    radius = max(angle_rad(cap_centre, v) for v in xyz)
    lat_min, lat_max = _lat_extent(lonlat, xyz, edges)
    lon_centre = to_lonlat(cap_centre)[0]
    rel = [_wrap(lon - lon_centre) for lon, _ in lonlat]
    return Shape(
        geom_type=geom_type,
        coordinates=coordinates,
        vertex_count=vertex_count,
        area_m2=area_m2,
        lonlat=tuple(lonlat),
        xyz=tuple(xyz),
        edges=tuple(edges),
        polygon_edges=tuple(polygon_edges),
        component_vertices=tuple(components),
        cap_centre=cap_centre,
        cap_radius_rad=radius * (1 + 1e-12) + 1e-15,
        representative=representative,
        lat_min=lat_min,
        lat_max=lat_max,
        lon_centre=lon_centre,
        dlon_min=min(rel),
        dlon_max=max(rel),
    )


def _wrap(dlon: float) -> float:
    return (dlon + 180.0) % 360.0 - 180.0


def _lat_extent(lonlat: Sequence[LonLat], xyz: Sequence[Vec3], edges: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """Min and max latitude of vertices and arcs: an arc bulges poleward between its ends."""
    lo = min(lat for _, lat in lonlat)
    hi = max(lat for _, lat in lonlat)
    for i, j in edges:
        u, v = xyz[i], xyz[j]
        n = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
        try:
            n = normalized(n)
        except ValueError:
            continue  # coincident ends: no arc
        # the highest point of the great circle is the north pole projected onto the circle's plane
        top = (-n[2] * n[0], -n[2] * n[1], 1.0 - n[2] * n[2])
        if top[2] <= 1e-15:
            continue  # a meridian-free equatorial circle: no interior extremum
        for p in (top, (-top[0], -top[1], -top[2])):
            if _between(u, p, v, n):
                lat = to_lonlat(p)[1]
                lo, hi = min(lo, lat), max(hi, lat)
    return lo, hi


def _between(u: Vec3, p: Vec3, v: Vec3, n: Vec3) -> bool:
    """Whether p lies on the short arc u–v (all on the great circle with normal n = u × v)."""
    c1 = (u[1] * p[2] - u[2] * p[1], u[2] * p[0] - u[0] * p[2], u[0] * p[1] - u[1] * p[0])
    c2 = (p[1] * v[2] - p[2] * v[1], p[2] * v[0] - p[0] * v[2], p[0] * v[1] - p[1] * v[0])
    return (c1[0] * n[0] + c1[1] * n[1] + c1[2] * n[2]) > 0 and (c2[0] * n[0] + c2[1] * n[1] + c2[2] * n[2]) > 0
