"""Geodesic distance between two shapes, and the nearest point of each to the other.

Method: project both shapes into the gnomonic plane tangent at the middle of the pair, scaled to the
WGS84 metric there. Great-circle edges are straight in that plane, so intersection and containment
are decided exactly. Otherwise the nearest pair lies at a vertex of one shape and a point of an edge
of the other; every such vertex–edge pair whose planar distance could, given the plane's distortion
bound, be the true minimum is mapped back to lon/lat and measured with GeographicLib, and the
smallest wins. Small shapes take a pure-Python path (numpy's per-call cost dominates there); large
ones an STRtree over edge segments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from deconfliction.domain.geodesy import (
    MIN_RADIUS_M,
    WGS84,
    Gnomonic,
    LonLat,
    Vec3,
    angle_rad,
    normalized,
)
from deconfliction.domain.geometry_shape import Box, Shape

Planar = tuple[float, float]
_SMALL_PAIRS = 600  # vertex–edge pairs below which plain Python beats numpy + STRtree
_MAX_PLANE_DEG = 75.0  # beyond this from the pair's centre the plane is too distorted to use
_TOUCH_M = 1e-6  # planar gaps below this are contact, not separation


@dataclass(frozen=True, slots=True)
class Nearest:
    """Geodesic distance between two core shapes, with the point of each nearest the other."""

    distance_m: float
    on_a: LonLat
    on_b: LonLat


def nearest(a: Shape, b: Shape, within_m: float | None = None) -> Nearest | None:
    """Distance between a and b (0 when they intersect); None only if it is certainly ≥ within_m.

    Two Points always get their GeographicLib distance, never None.

    Accurate to far better than 0.1 % or 1 m for shapes up to 500 km apart; beyond the reach of one
    gnomonic plane (shapes thousands of km apart) the result is an upper bound between two of their
    vertices.
    """
    if len(a.xyz) == 1 and len(b.xyz) == 1:
        # one GeographicLib call is as cheap as the cap test
        pa, pb = a.lonlat[0], b.lonlat[0]
        return Nearest(float(WGS84.inv(pa[0], pa[1], pb[0], pb[1])[2]), pa, pb)
    ca, cb = a.cap_centre, b.cap_centre
    apart = angle_rad(ca, cb)
    if within_m is not None:
        gap = apart - a.cap_radius_rad - b.cap_radius_rad
        # metres ≥ MIN_RADIUS_M × arc on the geodetic sphere; the factor absorbs rounding
        if gap > 0 and gap * MIN_RADIUS_M * (1 - 1e-9) >= within_m:
            return None
    # the pair's centre is halfway between the caps' centres
    if apart / 2 + max(a.cap_radius_rad, b.cap_radius_rad) > math.radians(_MAX_PLANE_DEG):
        return _far(a, b)
    centre = normalized((ca[0] + cb[0], ca[1] + cb[1], ca[2] + cb[2]))
    plane = Gnomonic.at(centre)
    pairs = len(a.xyz) * len(b.edges) + len(b.xyz) * len(a.edges)
    if pairs <= _SMALL_PAIRS:
        return _small(a, b, plane)
    return _large(a, b, plane)


def _far(a: Shape, b: Shape) -> Nearest:
    """Shapes too far apart for one plane: the vertex of each nearest the other."""
    ia = max(range(len(a.xyz)), key=lambda i: _dot(a.xyz[i], b.cap_centre))
    ib = max(range(len(b.xyz)), key=lambda j: _dot(b.xyz[j], a.xyz[ia]))
    pa, pb = a.lonlat[ia], b.lonlat[ib]
    return Nearest(float(WGS84.inv(pa[0], pa[1], pb[0], pb[1])[2]), pa, pb)


def _dot(u: Vec3, v: Vec3) -> float:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _project(plane: Gnomonic, xyz: Sequence[Vec3]) -> tuple[list[Planar], float, Box]:
    """Planar points, the smallest cosine of their arcs from the plane's centre, their bbox."""
    c, e, n = plane.centre, plane.east, plane.north
    kx, ky = plane.n_m, plane.m_m
    ex, ey, ez = e[0] * kx, e[1] * kx, e[2] * kx
    nx, ny, nz = n[0] * ky, n[1] * ky, n[2] * ky
    cx, cy, cz = c
    out = []
    low = 1.0
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for x, y, z in xyz:
        d = x * cx + y * cy + z * cz
        if d < low:
            low = d
        px, py = (x * ex + y * ey + z * ez) / d, (x * nx + y * ny + z * nz) / d
        if px < x0:
            x0 = px
        if px > x1:
            x1 = px
        if py < y0:
            y0 = py
        if py > y1:
            y1 = py
        out.append((px, py))
    return out, low, (x0, y0, x1, y1)


def _slack(cos_max: float) -> float:
    """Bound on the relative difference of planar and geodesic lengths in the projected region.

    Gnomonic scale error is at most tan²θ; the change of the radii of curvature and of the
    meridians' direction across θ of arc adds under 0.02·θ ≤ 0.02·tanθ.
    """
    t2 = (1.0 - cos_max * cos_max) / (cos_max * cos_max)
    return t2 + 0.02 * math.sqrt(t2) + 1e-9


def _foot(p: Planar, q0: Planar, q1: Planar) -> tuple[float, float]:
    """(squared planar distance, parameter t in [0, 1]) of the point of segment q0–q1 nearest p."""
    dx, dy = q1[0] - q0[0], q1[1] - q0[1]
    l2 = dx * dx + dy * dy
    px, py = p[0] - q0[0], p[1] - q0[1]
    t = (px * dx + py * dy) / l2 if l2 > 0 else 0.0
    t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
    ux, uy = px - t * dx, py - t * dy
    return ux * ux + uy * uy, t


def _crossing(p0: Planar, p1: Planar, q0: Planar, q1: Planar) -> Planar | None:
    """Where segments p0–p1 and q0–q1 properly cross, else None (contact is found by distance)."""
    rx, ry = p1[0] - p0[0], p1[1] - p0[1]
    sx, sy = q1[0] - q0[0], q1[1] - q0[1]
    o1 = rx * (q0[1] - p0[1]) - ry * (q0[0] - p0[0])
    o2 = rx * (q1[1] - p0[1]) - ry * (q1[0] - p0[0])
    if (o1 > 0) == (o2 > 0) or o1 == 0 or o2 == 0:
        return None
    o3 = sx * (p0[1] - q0[1]) - sy * (p0[0] - q0[0])
    o4 = sx * (p1[1] - q0[1]) - sy * (p1[0] - q0[0])
    if (o3 > 0) == (o4 > 0) or o3 == 0 or o4 == 0:
        return None
    t = o3 / (o3 - o4)
    return p0[0] + t * rx, p0[1] + t * ry


def _inside(q: Planar, pts: Sequence[Planar], shape: Shape) -> bool:
    """Whether q is inside any polygon of an areal shape (even–odd rule over its rings)."""
    qx, qy = q
    edges = shape.edges
    for lo, hi in shape.polygon_edges:
        odd = False
        for k in range(lo, hi):
            i, j = edges[k]
            (x0, y0), (x1, y1) = pts[i], pts[j]
            if (y0 > qy) != (y1 > qy) and qx < x0 + (qy - y0) * (x1 - x0) / (y1 - y0):
                odd = not odd
        if odd:
            return True
    return False


def _overlapping(p: Box, q: Box) -> bool:
    return p[0] <= q[2] and q[0] <= p[2] and p[1] <= q[3] and q[1] <= p[3]


def _contact(a: Shape, b: Shape, pa: Sequence[Planar], pb: Sequence[Planar], plane: Gnomonic) -> Nearest | None:
    """Distance 0 when an edge of a crosses one of b, or a part of one lies inside the other."""
    for i0, i1 in a.edges:
        for j0, j1 in b.edges:
            x = _crossing(pa[i0], pa[i1], pb[j0], pb[j1])
            if x is not None:
                p = plane.inverse(*x)
                return Nearest(0.0, p, p)
    return _containment(a, b, pa, pb)


def _containment(a: Shape, b: Shape, pa: Sequence[Planar], pb: Sequence[Planar]) -> Nearest | None:
    if a.is_areal:
        for k in b.component_vertices:
            if _inside(pb[k], pa, a):
                return Nearest(0.0, b.lonlat[k], b.lonlat[k])
    if b.is_areal:
        for k in a.component_vertices:
            if _inside(pa[k], pb, b):
                return Nearest(0.0, a.lonlat[k], a.lonlat[k])
    return None


# a candidate: (squared planar distance, vertex on a?, vertex index, edge index, t along the edge)
Candidate = tuple[float, bool, int, int, float]


def _small(a: Shape, b: Shape, plane: Gnomonic) -> Nearest:
    pa, cos_a, box_a = _project(plane, a.xyz)
    pb, cos_b, box_b = _project(plane, b.xyz)
    if _overlapping(box_a, box_b):
        hit = _contact(a, b, pa, pb, plane)
        if hit is not None:
            return hit
    slack = _slack(min(cos_a, cos_b))
    widen2 = ((1 + slack) / (1 - slack)) ** 2 * (1 + 1e-9)
    found: list[Candidate] = []
    add = found.append
    best2 = math.inf
    for on_a, pts, box, other_pts, other in ((True, pa, box_a, pb, b), (False, pb, box_b, pa, a)):
        bx0, by0, bx1, by1 = box
        for k, (j0, j1) in enumerate(other.edges):
            # _foot inlined: this double loop is the hot path of the whole service
            x0, y0 = other_pts[j0]
            x1, y1 = other_pts[j1]
            # skip edges whose box is beyond reach of every vertex (the far side of a polygon)
            gx = max(bx0 - max(x0, x1), min(x0, x1) - bx1, 0.0)
            gy = max(by0 - max(y0, y1), min(y0, y1) - by1, 0.0)
            if gx * gx + gy * gy > best2 * widen2:
                continue
            dx, dy = x1 - x0, y1 - y0
            l2 = dx * dx + dy * dy
            inv = 1.0 / l2 if l2 > 0 else 0.0
            for i, (px, py) in enumerate(pts):
                px -= x0
                py -= y0
                t = (px * dx + py * dy) * inv
                if t < 0.0:
                    t = 0.0
                elif t > 1.0:
                    t = 1.0
                ux, uy = px - t * dx, py - t * dy
                d2 = ux * ux + uy * uy
                if d2 < best2:
                    best2 = d2
                add((d2, on_a, i, k, t))
    return _best(a, b, plane, pa, pb, found, slack)


def _best(
    a: Shape,
    b: Shape,
    plane: Gnomonic,
    pa: Sequence[Planar],
    pb: Sequence[Planar],
    found: Sequence[Candidate],
    slack: float,
) -> Nearest:
    """Measure with GeographicLib every candidate that the plane's distortion lets be nearest."""
    s_min = math.sqrt(min(c[0] for c in found))
    if s_min <= _TOUCH_M:
        first = min(found)
        p = (a if first[1] else b).lonlat[first[2]]
        return Nearest(0.0, p, p)
    reach = s_min * (1 + slack) / (1 - slack) + 1e-7
    reach2 = reach * reach
    best: Nearest | None = None
    measured: set[tuple[bool, int, int, float]] = set()
    for d2, on_a, i, k, t in found:
        if d2 > reach2:
            continue
        j0, j1 = (b if on_a else a).edges[k]
        # a vertex nearest a corner shows up once per edge meeting there; measure it once
        key = (on_a, i, j0 if t <= 0.0 else j1, -1.0) if t <= 0.0 or t >= 1.0 else (on_a, i, k, t)
        if key in measured:
            continue
        measured.add(key)
        vertex_shape, edge_shape = (a, b) if on_a else (b, a)
        edge_pts = pb if on_a else pa
        v = vertex_shape.lonlat[i]
        if t <= 0.0:
            f = edge_shape.lonlat[j0]
        elif t >= 1.0:
            f = edge_shape.lonlat[j1]
        else:
            q0, q1 = edge_pts[j0], edge_pts[j1]
            f = plane.inverse(q0[0] + t * (q1[0] - q0[0]), q0[1] + t * (q1[1] - q0[1]))
        dist = float(WGS84.inv(v[0], v[1], f[0], f[1])[2])
        if best is None or dist < best.distance_m:
            best = Nearest(dist, v, f) if on_a else Nearest(dist, f, v)
    assert best is not None  # the planar minimum itself is always within reach
    return best


def _large(a: Shape, b: Shape, plane: Gnomonic) -> Nearest:
    """The same method with STRtrees, so that big shapes cost O(n log n) rather than O(n·m)."""
    pa, cos_a, _ = _project(plane, a.xyz)
    pb, cos_b, _ = _project(plane, b.xyz)
    arr_a, arr_b = np.asarray(pa), np.asarray(pb)
    segs_a, segs_b = _segments(arr_a, a), _segments(arr_b, b)
    tree_a, tree_b = shapely.STRtree(segs_a), shapely.STRtree(segs_b)
    if len(segs_a) and len(segs_b):
        hits = tree_b.query(segs_a, predicate="intersects")
        if hits.shape[1]:
            point = shapely.intersection(segs_a[hits[0, 0]], segs_b[hits[1, 0]]).representative_point()
            p = plane.inverse(float(point.x), float(point.y))
            return Nearest(0.0, p, p)
    hit = _containment(a, b, pa, pb)
    if hit is not None:
        return hit
    points = (shapely.points(arr_a), shapely.points(arr_b))
    sides = ((True, tree_b, points[0], pa, pb, b), (False, tree_a, points[1], pb, pa, a))
    # query_nearest for every vertex is slow when most are far; instead bound the gap by one
    # vertex pair near the middle, and look only within that bound
    ia = int(np.argmin(((arr_a - arr_b.mean(axis=0)) ** 2).sum(axis=1)))
    ib = int(np.argmin(((arr_b - arr_a[ia]) ** 2).sum(axis=1)))
    bound = math.dist(pa[ia], pb[ib]) * (1 + 1e-9) + 1e-6
    found = _within(sides, bound)
    slack = _slack(min(cos_a, cos_b))
    reach = math.sqrt(min(c[0] for c in found)) * (1 + slack) / (1 - slack) + 1e-6
    if reach > bound:
        found = _within(sides, reach)
    return _best(a, b, plane, pa, pb, found, slack)


def _within(sides: Any, distance: float) -> list[Candidate]:
    """Vertex–edge candidates (both ways) whose planar distance is within `distance`."""
    found: list[Candidate] = []
    for on_a, tree, pts, mine, other, other_shape in sides:
        if not other_shape.edges:
            continue
        idx = tree.query(pts, predicate="dwithin", distance=distance)
        for i, k in zip(idx[0].tolist(), idx[1].tolist(), strict=True):
            j0, j1 = other_shape.edges[k]
            d2, t = _foot(mine[i], other[j0], other[j1])
            found.append((d2, on_a, i, k, t))
    return found


def _segments(pts: NDArray[np.float64], shape: Shape) -> NDArray[np.object_]:
    if not shape.edges:
        return np.empty(0, dtype=object)
    e = np.asarray(shape.edges)
    return np.asarray(shapely.linestrings(np.stack([pts[e[:, 0]], pts[e[:, 1]]], axis=1)))
