"""A parsed, validated shape with what the hot path needs cached: vertices, unit vectors, edges.

Edges are great-circle arcs on the sphere of geodetic coordinates (see `geodesy`). A shape's
vertices all lie within `MAX_SPAN_DEG` of arc from its centre (the normalised mean of its vertex
unit vectors), which keeps its own and its pairs' gnomonic planes well conditioned.

A polygon's geodesic area and representative point are used by nothing on the hot path; a shape
rebuilt from the store (`parse_geometry(..., trusted=True)`) computes them on first use, from its
cached vertices and by the same functions the validating parse uses, so they come out identical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from deconfliction.domain.geodesy import (
    MIN_RADIUS_M,
    WGS84,
    Gnomonic,
    LonLat,
    Vec3,
    angle_rad,
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
    _area_m2: float | None  # None: not computed yet (see `area_m2`)
    lonlat: tuple[LonLat, ...]  # distinct vertices: consecutive duplicates and ring closures dropped
    xyz: tuple[Vec3, ...]  # their unit vectors
    edges: tuple[tuple[int, int], ...]  # great-circle arcs between vertices (indices into lonlat/xyz)
    polygon_edges: tuple[tuple[int, int], ...]  # per polygon, the range of `edges` holding its rings
    component_vertices: tuple[int, ...]  # one vertex of each connected part (for containment tests)
    cap_centre: Vec3
    cap_radius_rad: float  # every point of the shape is within this arc of cap_centre
    _representative: LonLat | None  # None: not computed yet (see `representative`)
    lat_min: float  # latitude extent of the edges, arcs' poleward bulge included
    lat_max: float
    lon_centre: float  # longitude extent relative to lon_centre, valid when the shape avoids the poles
    dlon_min: float
    dlon_max: float

    @property
    def is_areal(self) -> bool:
        return bool(self.polygon_edges)

    @property
    def area_m2(self) -> float:
        """Geodesic area in m² (shells minus holes, parts summed); 0 for points and lines."""
        if self._area_m2 is None:
            self._compute_deferred()
        assert self._area_m2 is not None
        return self._area_m2

    @property
    def representative(self) -> LonLat:
        """A point inside the largest polygon, on a line, or the point itself."""
        if self._representative is None:
            self._compute_deferred()
        assert self._representative is not None
        return self._representative

    def _compute_deferred(self) -> None:
        # idempotent: racing threads compute and store the same values
        plane = Gnomonic.at(self.cap_centre)
        lonlat_parts, xyz_parts = [], []
        for rings in self.ring_ranges():
            lonlat_parts.append([self.lonlat[a:b] for a, b in rings])
            xyz_parts.append([self.xyz[a:b] for a, b in rings])
        area = polygons_area_m2(lonlat_parts)
        representative = representative_point(plane, [planar_polygon(plane, rings) for rings in xyz_parts])
        object.__setattr__(self, "_area_m2", area)
        object.__setattr__(self, "_representative", representative)

    def ring_ranges(self) -> list[list[tuple[int, int]]]:
        """Per polygon, its rings as [start, stop) ranges of vertex indices (shell first)."""
        out: list[list[tuple[int, int]]] = []
        for first, last in self.polygon_edges:
            rings: list[tuple[int, int]] = []
            start = self.edges[first][0]
            for i, j in self.edges[first:last]:
                if j == start:  # the closing edge of a ring: every other edge goes to i + 1
                    rings.append((start, i + 1))
                    start = i + 1
            out.append(rings)
        return out

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
        return padded_lon_boxes(self.lon_centre + self.dlon_min, self.lon_centre + self.dlon_max, lat_lo, lat_hi, g)


def padded_lon_boxes(west: float, east: float, lat_lo: float, lat_hi: float, g: float) -> list[Box]:
    """Boxes covering longitudes [west, east] widened by an arc of g radians at the band's widest latitude: one, two
    across ±180°, the whole range when the widening wraps the globe (conservative, as every caller needs)."""
    s = math.sin(g) / math.cos(math.radians(max(abs(lat_lo), abs(lat_hi))))
    if s >= 1.0:
        return [(-180.0, lat_lo, 180.0, lat_hi)]
    pad = math.degrees(math.asin(s)) * (1 + 1e-9) + 1e-9
    lo, hi = west - pad, east + pad
    if hi - lo >= 360.0:
        return [(-180.0, lat_lo, 180.0, lat_hi)]
    if lo < -180.0:
        return [(lo + 360.0, lat_lo, 180.0, lat_hi), (-180.0, lat_lo, hi, lat_hi)]
    if hi > 180.0:
        return [(lo, lat_lo, 180.0, lat_hi), (-180.0, lat_lo, hi - 360.0, lat_hi)]
    return [(lo, lat_lo, hi, lat_hi)]


def planar_polygon(plane: Gnomonic, rings_xyz: Sequence[Sequence[Vec3]]) -> Any:
    """A polygon (shell, then holes) in a gnomonic plane, where its great-circle edges are straight."""
    rings = [[plane.forward(v) for v in ring] for ring in rings_xyz]
    return shapely.Polygon(rings[0], rings[1:])


def representative_point(plane: Gnomonic, polygons: Sequence[Any]) -> LonLat:
    """Shapely's representative point of the largest planar polygon, back in lon/lat."""
    biggest = max(polygons, key=lambda p: float(p.area))
    rp = biggest.representative_point()
    return plane.inverse(float(rp.x), float(rp.y))


def polygons_area_m2(parts: Sequence[Sequence[Sequence[LonLat]]]) -> float:
    """Geodesic area of polygons (each a shell, then its holes), summed."""
    return sum(_polygon_area_m2(rings) for rings in parts)


def _polygon_area_m2(rings: Sequence[Sequence[LonLat]]) -> float:
    """Geodesic area of a shell minus its holes."""
    areas = []
    for ring in rings:
        area, _ = WGS84.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])
        areas.append(abs(float(area)))
    return max(0.0, areas[0] - sum(areas[1:]))


def _lists(c: Coordinates) -> Any:
    if isinstance(c, tuple) and c and isinstance(c[0], float):
        return list(c)
    return [_lists(x) for x in c]


def build_shape(
    geom_type: str,
    coordinates: Coordinates,
    vertex_count: int,
    area_m2: float | None,
    parts: Sequence[Sequence[Sequence[LonLat]]],
    xyz_parts: Sequence[Sequence[Sequence[Vec3]]],
    cap_centre: Vec3,
    representative: LonLat | None,
) -> Shape:
    """Assemble a Shape from validated parts.

    Each part is a list of vertex chains: rings without their closing vertex for areal shapes, else
    the one open chain of a Point or LineString. A polygon's area_m2 and representative may be
    None: they are then computed on first use.
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
            edges.extend(zip(range(start, start + k - 1), range(start + 1, start + k), strict=True))
            if areal:
                edges.append((start + k - 1, start))
        if areal:
            polygon_edges.append((first_edge, len(edges)))
    radius = _max_angle_rad(cap_centre, xyz)
    lat_min, lat_max = _lat_extent(lonlat, xyz, edges)
    lon_centre = to_lonlat(cap_centre)[0]
    rel = [(lon - lon_centre + 180.0) % 360.0 - 180.0 for lon, _ in lonlat]  # wrapped to [-180, 180)
    return Shape(
        geom_type=geom_type,
        coordinates=coordinates,
        vertex_count=vertex_count,
        _area_m2=area_m2,
        lonlat=tuple(lonlat),
        xyz=tuple(xyz),
        edges=tuple(edges),
        polygon_edges=tuple(polygon_edges),
        component_vertices=tuple(components),
        cap_centre=cap_centre,
        cap_radius_rad=radius * (1 + 1e-12) + 1e-15,
        _representative=representative,
        lat_min=lat_min,
        lat_max=lat_max,
        lon_centre=lon_centre,
        dlon_min=min(rel),
        dlon_max=max(rel),
    )


def _lat_extent(lonlat: Sequence[LonLat], xyz: Sequence[Vec3], edges: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """Min and max latitude of vertices and arcs: an arc bulges poleward between its ends.

    Vector algebra written out inline: this runs for every shape parsed or reloaded.
    """
    lats = [lat for _, lat in lonlat]
    lo, hi = min(lats), max(lats)
    for i, j in edges:
        ux, uy, uz = xyz[i]
        vx, vy, vz = xyz[j]
        # n: the unit normal u × v of the arc's great circle
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        norm = math.sqrt(nx * nx + ny * ny + nz * nz)
        if norm < 1e-12:
            continue  # coincident ends: no arc
        nx, ny, nz = nx / norm, ny / norm, nz / norm
        # the highest point of the great circle is the north pole projected onto the circle's plane
        tx, ty, tz = -nz * nx, -nz * ny, 1.0 - nz * nz
        if tz <= 1e-15:
            continue  # a meridian-free equatorial circle: no interior extremum
        # a point p is on the short arc u–v when (u × p)·n > 0 and (p × v)·n > 0; for p = -top both
        # signs flip exactly, so one pair of products decides for the highest and the lowest point
        a = (uy * tz - uz * ty) * nx + (uz * tx - ux * tz) * ny + (ux * ty - uy * tx) * nz
        b = (ty * vz - tz * vy) * nx + (tz * vx - tx * vz) * ny + (tx * vy - ty * vx) * nz
        if a > 0 and b > 0:
            lat = to_lonlat((tx, ty, tz))[1]
        elif a < 0 and b < 0:
            lat = to_lonlat((-tx, -ty, -tz))[1]
        else:
            continue
        lo, hi = min(lo, lat), max(hi, lat)
    return lo, hi


def _max_angle_rad(c: Vec3, xyz: Sequence[Vec3]) -> float:
    """The largest `angle_rad(c, v)` over xyz, with its arithmetic written out inline."""
    c0, c1, c2 = c
    out = -math.inf
    for v0, v1, v2 in xyz:
        cx = c1 * v2 - c2 * v1
        cy = c2 * v0 - c0 * v2
        cz = c0 * v1 - c1 * v0
        a = math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), c0 * v0 + c1 * v1 + c2 * v2)
        if a > out:
            out = a
    return out
