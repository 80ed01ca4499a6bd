"""Which side of an agreed line a shape lies on, and how far it reaches across (the geometry of lines.py).

Semantics, decided once (docs/concepts.md, "Agreed lines"):

* A line is a LineString whose edges are great-circle arcs, as every edge in the project (geometry.py). Beyond its
  ends it continues along the great circles of its first and last segments, so it splits the region around it in
  two. Walking it in the order of its coordinates, the `left` party keeps to the left, the `right` party to the right.
* Sides are decided in the gnomonic plane tangent at the line's centre, where arcs and their continuations are
  straight: exact topology, no longitude arithmetic (±180° and the poles need no special case). The continued line
  must not cross itself, or "the other side" would mean nothing.
* A shape is judged when every point of it lies within `JUDGED_ARC_DEG` of arc of the line's centre.
* How far a shape grown by `radius_m` reaches across: the largest signed distance of a point of the shape from the
  continued line (positive on the other side), plus the radius — exact where the line runs straight within the
  radius of that point, an upper bound where it winds back. Found in the plane, exactly up to `_EPS_M`: an edge
  wholly on its own side by its nearest approach to the line, any other by branch and bound (a polygon's edge can
  cross a bend of the line between two vertices); the best points are then measured on WGS84 with GeographicLib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import shapely
from numpy.typing import NDArray

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.geodesy import WGS84, Gnomonic, LonLat, Vec3, angle_rad, dot, normalized, to_lonlat
from deconfliction.domain.geometry_shape import Shape

Array = NDArray[np.float64]
Cols = NDArray[np.int64]  # indices of segments of the continued line
JUDGED_ARC_DEG = 80.0  # beyond this from its centre a line's plane is too distorted to judge sides in
MIN_SEGMENT_M = 1.0
_FAR_M = 1e9  # the continued ends, in the plane: farther than any point judged (R·tan 80° ≈ 3.6e7 m)
_EPS_M = 0.01  # branch and bound stops when no edge can beat the best by more than this (planar metres)
_MAX_ROUNDS = 64
_MAX_INTERVALS = 20_000
_FEW_SEGMENTS = 64  # up to this many, every segment is considered for every point
_GOLDEN = (math.sqrt(5) - 1) / 2


class Keep(StrEnum):
    """The side of the line a party keeps to, walking it in the order of its coordinates."""

    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True, slots=True)
class Crossing:
    """How far a shape grown by its radius reaches beyond a line; negative: it stays that far short of it."""

    depth_m: float
    location: LonLat  # on the grown shape, the point farthest across
    on_line: LonLat  # the point of the (continued) line nearest it


@dataclass(frozen=True, slots=True)
class _Arc:
    """A segment of the continued line on the sphere: points a·cos θ + u·sin θ for θ in [0, theta_max]."""

    a: Vec3
    u: Vec3
    theta_max: float

    def at(self, theta: float) -> Vec3:
        c, s = math.cos(theta), math.sin(theta)
        a, u = self.a, self.u
        return (a[0] * c + u[0] * s, a[1] * c + u[1] * s, a[2] * c + u[2] * s)


def _tangent(a: Vec3, b: Vec3) -> Vec3:
    """The unit tangent at a of the great circle toward b."""
    k = dot(a, b)
    return normalized((b[0] - k * a[0], b[1] - k * a[1], b[2] - k * a[2]))


def _cross2(ux: Array, uy: Array, vx: Array, vy: Array) -> Array:
    return np.asarray(ux * vy - uy * vx)


class LineGeometry:
    """A line ready for side tests: its plane, the planar segments of the continued line, and their arcs.

    Segment 0 is the continuation before the first vertex (from far away to it), the last one the continuation
    after the last vertex; the line's own segments lie between.
    """

    def __init__(self, shape: Shape) -> None:
        if shape.geom_type != "LineString":
            raise ValueError("a line is a LineString")
        self.shape = shape
        self.plane = Gnomonic.at(shape.cap_centre)
        xyz = shape.xyz
        pts = np.array([self.plane.forward(v) for v in xyz])
        first = pts[1] - pts[0]
        last = pts[-1] - pts[-2]
        ends = (pts[0] - _FAR_M * first / np.hypot(*first), pts[-1] + _FAR_M * last / np.hypot(*last))
        self.path: Array = np.vstack([ends[0], pts, ends[1]])
        self._a = self.path[:-1]
        self._d = self.path[1:] - self.path[:-1]
        self._dd = (self._d**2).sum(axis=1)
        self._u = self._d / np.sqrt(self._dd)[:, None]
        self._all = np.arange(len(self._d))
        self._tree: shapely.STRtree | None = None
        self._segment_lines: NDArray[np.object_] = np.empty(0, dtype=object)
        n = len(xyz)
        self.arcs = (
            _Arc(xyz[0], _neg(_tangent(xyz[0], xyz[1])), math.pi / 2),
            *(_Arc(xyz[i], _tangent(xyz[i], xyz[i + 1]), angle_rad(xyz[i], xyz[i + 1])) for i in range(n - 1)),
            _Arc(xyz[-1], _neg(_tangent(xyz[-1], xyz[-2])), math.pi / 2),
        )

    # validation ---------------------------------------------------------------------------------------------------
    def check(self, field: str) -> None:
        """Raise InvalidInput (naming `field`) unless segments are ≥ MIN_SEGMENT_M and the continued line is simple."""
        lonlat = self.shape.lonlat
        for i in range(len(lonlat) - 1):
            (lon1, lat1), (lon2, lat2) = lonlat[i], lonlat[i + 1]
            if float(WGS84.inv(lon1, lat1, lon2, lat2)[2]) < MIN_SEGMENT_M:
                raise InvalidInput(
                    f"the line's vertices {list(lonlat[i])} and {list(lonlat[i + 1])} are less than "
                    f"{MIN_SEGMENT_M:g} m apart",
                    field=field,
                )
        path = shapely.LineString(self.path)
        if shapely.is_simple(path):
            return
        where = self._self_crossing()
        lon, lat = self.plane.inverse(*where)
        raise InvalidInput(
            f"the line, continued beyond its ends along its first and last segments, crosses itself near "
            f"[{lon:.5f}, {lat:.5f}]: it must divide the map in two",
            field=field,
        )

    def _self_crossing(self) -> tuple[float, float]:
        segments = shapely.linestrings(np.stack([self.path[:-1], self.path[1:]], axis=1))
        tree = shapely.STRtree(segments)
        pairs = tree.query(segments, predicate="intersects")
        for i, j in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
            if j > i + 1:
                p = shapely.intersection(segments[i], segments[j]).representative_point()
                return float(p.x), float(p.y)
        # no two segments apart cross: two consecutive ones fold back on each other
        i = int(np.argmin([np.dot(self._u[k], self._u[k + 1]) for k in range(len(self._u) - 1)]))
        return float(self.path[i + 1][0]), float(self.path[i + 1][1])

    # planar signed distances --------------------------------------------------------------------------------------
    def _distances(self, pts: Array, cols: Cols) -> tuple[Array, Array]:
        """(distances (N, C) from each point to each planar segment of `cols`, the parameter t of each foot)."""
        a, d = self._a[cols], self._d[cols]
        wx = pts[:, 0:1] - a[:, 0]
        wy = pts[:, 1:2] - a[:, 1]
        dx, dy = d[:, 0], d[:, 1]
        t = np.clip((wx * dx + wy * dy) / self._dd[cols], 0.0, 1.0)
        return np.hypot(wx - t * dx, wy - t * dy), t

    def _segments(self) -> shapely.STRtree:
        """An STRtree over the planar segments of the continued line (built on first need)."""
        if self._tree is None:
            self._segment_lines = shapely.linestrings(np.stack([self._a, self.path[1:]], axis=1))
            self._tree = shapely.STRtree(self._segment_lines)
        return self._tree

    def _columns(self, pts: Array, edges: NDArray[np.int64]) -> Cols:
        """The segments that can be nearest some point of a shape (all of them, for a short line).

        A point of an edge is at most half the edge's length farther from the line than the edge's nearer end; so
        its nearest segment lies within that reach of the shape's bounding box.
        """
        if len(self._d) <= _FEW_SEGMENTS:
            return self._all
        _, far = self._segments().query_nearest(shapely.points(pts), return_distance=True)
        half = float(np.hypot(*(pts[edges[:, 1]] - pts[edges[:, 0]]).T).max()) / 2 if len(edges) else 0.0
        reach = 1.06 * (float(far.max()) + half) + 11.0  # and room for _geodesic's near candidates
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        found = self._segments().query(shapely.box(x0 - reach, y0 - reach, x1 + reach, y1 + reach))
        return np.unique(found).astype(np.int64)

    def left_signed(self, pts: Array, cols: Cols | None = None) -> tuple[Array, Array]:
        """(planar distance to the continued line, positive on its left and negative on its right; the distances to
        the segments of `cols`, which must hold the segment nearest each point — all by default).

        The side is read at the nearest point: across the segment there, or at a vertex by the sum of the two
        segments' normals (the nearest point is a vertex only on the outside of a bend, where the sum points).
        """
        cols = self._all if cols is None else cols
        dist, t = self._distances(pts, cols)
        n = len(pts)
        nearest = dist.argmin(axis=1)
        idx = np.arange(n)
        near, tk = dist[idx, nearest], t[idx, nearest]
        k = cols[nearest]
        last = len(self._d) - 1
        at_vertex = ((tk <= 0.0) & (k > 0)) | ((tk >= 1.0) & (k < last))
        j = np.where(tk >= 1.0, k + 1, k)  # the vertex: where segments j - 1 and j meet
        wx, wy = pts[:, 0] - self._a[k, 0], pts[:, 1] - self._a[k, 1]
        across = _cross2(self._d[k, 0], self._d[k, 1], wx, wy)
        jv = np.clip(j, 1, last)
        vx, vy = pts[:, 0] - self.path[jv, 0], pts[:, 1] - self.path[jv, 1]
        u1, u2 = self._u[jv - 1], self._u[jv]
        bend = _cross2(u1[:, 0], u1[:, 1], vx, vy) + _cross2(u2[:, 0], u2[:, 1], vx, vy)
        side = np.sign(np.where(at_vertex, bend, across))
        return side * near, dist

    # how far a shape reaches across -------------------------------------------------------------------------------
    def judges(self, shape: Shape) -> bool:
        """Whether every point of the shape lies within JUDGED_ARC_DEG of the line's centre."""
        reach = angle_rad(self.plane.centre, shape.cap_centre) + shape.cap_radius_rad
        return reach <= math.radians(JUDGED_ARC_DEG)

    def depth_bounds(self, v: Vec3, keep: Keep) -> tuple[float, float] | None:
        """Bounds (low, high) on how far the point at unit vector v lies across the line for a party keeping to
        `keep` (geodesic metres, negative on its own side), from the plane alone: a few array operations, for points
        that move (live tracks). None when the point is not judged.

        The geodesic signed distance to the continued line moves by at most the distance the point moves, so a
        caller may widen these bounds by that distance instead of asking again.
        """
        cos_c = dot(self.plane.centre, v)
        if cos_c < math.cos(math.radians(JUDGED_ARC_DEG)):
            return None
        pts = np.array([self.plane.forward(v)])
        values, _ = self.left_signed(pts, self._columns(pts, np.empty((0, 2), dtype=np.int64)))
        s = (-1.0 if keep is Keep.LEFT else 1.0) * float(values[0])
        hi = 1.015 / (cos_c * cos_c)  # as in `reach`: 0.985 × geodesic ≤ planar ≤ hi × geodesic
        if s > 0:
            return s / hi - _EPS_M, s / 0.985 + _EPS_M
        return s / 0.985 - _EPS_M, s / hi + _EPS_M

    def reach(self, shape: Shape, radius_m: float, keep: Keep, beyond_m: float | None = None) -> Crossing | None:
        """How far `shape` grown by `radius_m` reaches across the line, for a party keeping to `keep`.

        None when the shape is not judged, or (with `beyond_m`) when it certainly reaches no farther than beyond_m.
        """
        if not self.judges(shape):
            return None
        orient = -1.0 if keep is Keep.LEFT else 1.0
        pts = np.array([self.plane.forward(v) for v in shape.xyz])
        edges = np.asarray(shape.edges, dtype=np.int64).reshape(-1, 2)
        cols = self._columns(pts, edges)
        cands, best = self._candidates(pts, edges, orient, cols)
        if beyond_m is not None:
            cos_min = min(dot(self.plane.centre, v) for v in shape.xyz)
            hi = 1.015 / (cos_min * cos_min)  # planar ≤ hi × geodesic; planar ≥ 0.985 × geodesic
            top = best + _EPS_M
            if (top / 0.985 if top > 0 else top / hi) + radius_m <= beyond_m:
                return None
        slack = 1.0 + 0.005 * abs(best)
        order = np.argsort(-cands[:, 0])[:8]
        measured = [self._geodesic(cands[i, 1:], orient, cols) for i in order if cands[i, 0] >= best - slack]
        signed, xy, p, q = max(measured, key=lambda m: m[0])
        return Crossing(signed + radius_m, self._grown(xy, p, q, signed, radius_m, orient, cols), q)

    def _candidates(self, pts: Array, edges: NDArray[np.int64], orient: float, cols: Cols) -> tuple[Array, float]:
        """Rows (planar signed distance, x, y) of points of the shape that may be the farthest across, and the
        planar maximum (exact up to _EPS_M)."""
        values, dist = self.left_signed(pts, cols)
        s = orient * values
        rows = [np.column_stack([s, pts])]
        best = float(s.max())
        if len(edges):
            p0, p1 = pts[edges[:, 0]], pts[edges[:, 1]]
            gap, closest = self._edge_gaps(p0, p1)
            own = (s[edges[:, 0]] <= 0) & (s[edges[:, 1]] <= 0) & (gap > 0)
            if own.any():  # wholly on its own side: its nearest approach to the line is exact
                rows.append(np.column_stack([-gap[own], closest[own]]))
                best = max(best, float((-gap[own]).max()))
            across = ~own
            i0, i1 = edges[across, 0], edges[across, 1]
            found, best = self._branch_and_bound(
                p0[across], p1[across], (s[i0], s[i1], dist[i0], dist[i1]), orient, best, cols
            )
            rows.extend(found)
        return np.vstack(rows), best

    def _edge_gaps(self, p0: Array, p1: Array) -> tuple[Array, Array]:
        """Per edge, the planar distance to the continued line (0 where they meet) and the edge's point nearest it."""
        edges = shapely.linestrings(np.stack([p0, p1], axis=1))
        (which, nearest), gap = self._segments().query_nearest(edges, return_distance=True, all_matches=False)
        order = np.argsort(which)
        links = shapely.shortest_line(edges[which[order]], self._segment_lines[nearest[order]])
        return np.asarray(gap[order]), shapely.get_coordinates(links)[0::2]

    def _branch_and_bound(
        self,
        lo: Array,
        hi: Array,
        ends: tuple[Array, Array, Array, Array],
        orient: float,
        best: float,
        cols: Cols,
    ) -> tuple[list[Array], float]:
        """Split edges until none can hold a point farther across than the best found (within _EPS_M).

        `ends`: the signed distances of the edges' two ends and their distances to each segment of the line. Two
        bounds hold on an interval: the signed distance changes no faster than the distance travelled; and the
        distance to one segment is convex along it, so the distance to the line stays below the least, over the
        segments, of the larger of its values at the two ends.
        """
        s_lo, s_hi, d_lo, d_hi = ends
        found: list[Array] = []
        for _ in range(_MAX_ROUNDS):
            if not len(lo):
                break
            length = np.hypot(*(hi - lo).T)
            bound = np.minimum(np.maximum(d_lo, d_hi).min(axis=1), (s_lo + s_hi + length) / 2)
            keep = bound > best + _EPS_M + 1e-9 * abs(best)
            if len(keep) > _MAX_INTERVALS:
                keep &= bound >= np.sort(bound)[-_MAX_INTERVALS]
            if not keep.any():
                break
            lo, hi, s_lo, s_hi, d_lo, d_hi = lo[keep], hi[keep], s_lo[keep], s_hi[keep], d_lo[keep], d_hi[keep]
            mid = (lo + hi) / 2
            values, d_mid = self.left_signed(mid, cols)
            s_mid = orient * values
            found.append(np.column_stack([s_mid, mid]))
            best = max(best, float(s_mid.max()))
            lo, hi = np.vstack([lo, mid]), np.vstack([mid, hi])
            s_lo, s_hi = np.concatenate([s_lo, s_mid]), np.concatenate([s_mid, s_hi])
            d_lo, d_hi = np.vstack([d_lo, d_mid]), np.vstack([d_mid, d_hi])
        return found, best

    # on WGS84 -----------------------------------------------------------------------------------------------------
    def _geodesic(self, xy: Array, orient: float, cols: Cols) -> tuple[float, Array, LonLat, LonLat]:
        """(geodesic signed distance, the planar point, its lon/lat, the line's point nearest it)."""
        values, dist = self.left_signed(xy[None, :], cols)
        side = orient * float(np.sign(values[0]))
        v = normalized(self.plane.inverse_vec(float(xy[0]), float(xy[1])))
        p = to_lonlat(v)
        row = dist[0]
        near = float(row.min())
        best_m, best_q = math.inf, p
        for k in cols[np.flatnonzero(row <= near * 1.05 + 10.0)[:6]].tolist():
            d_m, q = _nearest_on_arc(self.arcs[k], v, p)
            if d_m < best_m:
                best_m, best_q = d_m, q
        return (0.0 if side == 0.0 else side * best_m), xy, p, best_q

    def _grown(
        self, xy: Array, p: LonLat, q: LonLat, signed: float, radius_m: float, orient: float, cols: Cols
    ) -> LonLat:
        """The point of the shape grown by radius_m farthest across: p moved by the radius away from the side the
        party keeps, along the geodesic through q and p."""
        if radius_m <= 0:
            return p
        if signed > 0:  # already across: straight on, away from the line
            _, back, _ = WGS84.inv(q[0], q[1], p[0], p[1])
            return _destination(p, float(back) + 180.0, radius_m)
        if signed < 0:  # on its own side: toward the line
            az, _, _ = WGS84.inv(p[0], p[1], q[0], q[1])
            return _destination(p, float(az), radius_m)
        # on the line: square across it, toward the other side
        dist, _ = self._distances(xy[None, :], cols)
        ux, uy = self._u[int(cols[int(dist[0].argmin())])]
        # orient × the left normal (-uy, ux): rightward for a party keeping left (orient -1), leftward otherwise
        ahead = self.plane.inverse(float(xy[0] - orient * uy * 10.0), float(xy[1] + orient * ux * 10.0))
        az, _, _ = WGS84.inv(p[0], p[1], ahead[0], ahead[1])
        return _destination(p, float(az), radius_m)


def _neg(v: Vec3) -> Vec3:
    return (-v[0], -v[1], -v[2])


def _destination(p: LonLat, azimuth_deg: float, distance_m: float) -> LonLat:
    lon, lat, _ = WGS84.fwd(p[0], p[1], azimuth_deg, distance_m)
    return float(lon), float(lat)


def _nearest_on_arc(arc: _Arc, v: Vec3, p: LonLat) -> tuple[float, LonLat]:
    """Geodesic distance from p to an arc of the line, and the arc's point nearest p: the spherical foot, then a
    golden-section search with GeographicLib around it (the ellipsoid moves the foot by well under 1 % of the
    distance)."""
    theta = min(max(math.atan2(dot(v, arc.u), dot(v, arc.a)), 0.0), arc.theta_max)
    spread = 0.02 * angle_rad(v, normalized(arc.at(theta))) + 1e-7
    lo, hi = max(theta - spread, 0.0), min(theta + spread, arc.theta_max)

    def metres(t: float) -> tuple[float, LonLat]:
        q = to_lonlat(arc.at(t))
        return float(WGS84.inv(p[0], p[1], q[0], q[1])[2]), q

    x1, x2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    f1, f2 = metres(x1)[0], metres(x2)[0]
    for _ in range(40):
        if hi - lo < 1e-10:
            break
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - _GOLDEN * (hi - lo)
            f1 = metres(x1)[0]
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + _GOLDEN * (hi - lo)
            f2 = metres(x2)[0]
    return min(metres(lo), metres(hi), metres((lo + hi) / 2), metres(theta), key=lambda m: m[0])
