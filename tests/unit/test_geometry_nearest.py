"""nearest(): against GeographicLib and a brute-force reference over finely densified great-circle
edges."""

from __future__ import annotations

import math
import random
import zlib
from typing import Any

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.domain.geometry import nearest, parse_geometry

GEOD = Geod(ellps="WGS84")
LonLat = tuple[float, float]


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _fwd(lon: float, lat: float, az: float, dist: float) -> list[float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, dist)
    return [_wrap(float(lon2)), float(lat2)]


def star_polygon(rng: random.Random, lon: float, lat: float, size_m: float, n: int = 6) -> dict[str, Any]:
    """A simple polygon: vertices at increasing azimuths and random radii around a centre."""
    base = rng.uniform(0, 360)
    ring = [
        _fwd(lon, lat, base + 360.0 * (k + rng.uniform(0.1, 0.9)) / n, size_m * rng.uniform(0.4, 1.0)) for k in range(n)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def line(rng: random.Random, lon: float, lat: float, size_m: float, n: int = 3) -> dict[str, Any]:
    az = rng.uniform(0, 360)
    pts = [[lon, lat]]
    for _ in range(n - 1):
        az += rng.uniform(-60, 60)
        pts.append(_fwd(pts[-1][0], pts[-1][1], az, size_m * rng.uniform(0.3, 1.0)))
    return {"type": "LineString", "coordinates": pts}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _unit(lon: float, lat: float) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)


def _arc(p: LonLat, q: LonLat, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n+1 points along the great-circle arc p–q on the sphere of geodetic coordinates (slerp)."""
    u, v = _unit(*p), _unit(*q)
    omega = math.atan2(float(np.linalg.norm(np.cross(u, v))), float(u @ v))
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    if omega < 1e-15:
        pts = np.repeat(u[None, :], n + 1, axis=0)
    else:
        pts = (np.sin((1 - t) * omega) * u + np.sin(t * omega) * v) / math.sin(omega)
    return np.degrees(np.arctan2(pts[:, 1], pts[:, 0])), np.degrees(
        np.arctan2(pts[:, 2], np.hypot(pts[:, 0], pts[:, 1]))
    )


def _edges(geom: dict[str, Any]) -> list[tuple[LonLat, LonLat]]:
    c = geom["coordinates"]
    if geom["type"] == "Point":
        chains = [[c]]
    elif geom["type"] == "LineString":
        chains = [c]
    else:
        chains = c if geom["type"] == "Polygon" else [r for p in c for r in p]
    out = []
    for ch in chains:
        if len(ch) == 1:
            out.append((tuple(ch[0]), tuple(ch[0])))
        out += [(tuple(ch[i]), tuple(ch[i + 1])) for i in range(len(ch) - 1)]
    return out


def _vertices(geom: dict[str, Any]) -> np.ndarray:
    return np.array(sorted({e[0] for e in _edges(geom)} | {e[1] for e in _edges(geom)}))


def _arcs_cross(p: LonLat, q: LonLat, r: LonLat, s: LonLat) -> bool:
    """Whether great-circle arcs p–q and r–s meet, decided in 3-D (no projection, so valid at the poles too)."""
    a, b, c, d = (_unit(*x) for x in (p, q, r, s))
    n1, n2 = np.cross(a, b), np.cross(c, d)
    x = np.cross(n1, n2)
    if np.linalg.norm(x) < 1e-15:
        return False
    for y in (x, -x):
        if (np.cross(a, y) @ n1 >= 0 and np.cross(y, b) @ n1 >= 0
                and np.cross(c, y) @ n2 >= 0 and np.cross(y, d) @ n2 >= 0):  # fmt: skip
            return True
    return False


def brute_distance(ga: dict[str, Any], gb: dict[str, Any], per_edge: int = 400) -> float:
    """0 where edges cross; else the min GeographicLib distance between each shape's vertices and the other's
    densified edges, refined. (The generated shapes never contain one another, so crossing is the only contact.)"""
    if any(_arcs_cross(p, q, r, s) for p, q in _edges(ga) for r, s in _edges(gb) if p != q and r != s):
        return 0.0
    best = math.inf
    for gv, ge in ((ga, gb), (gb, ga)):
        verts = _vertices(gv)
        for p, q in _edges(ge):
            lon, lat = _arc(p, q, per_edge)
            for vl, vt in verts:
                d = GEOD.inv(np.full_like(lon, vl), np.full_like(lat, vt), lon, lat)[2]
                k = int(np.argmin(d))
                if d[k] < best * 1.01:
                    best = min(best, float(d[k]), _refine(p, q, (vl, vt), k, per_edge))
    return best


def _refine(p: LonLat, q: LonLat, v: LonLat, k: int, n: int) -> float:
    """Zoom in around sample k of arc p–q to pin the minimum between samples."""
    lon, lat = _arc(p, q, n)
    lo, hi = max(k - 1, 0), min(k + 1, n)
    best = math.inf
    for _ in range(3):
        a, b = (lon[lo], lat[lo]), (lon[hi], lat[hi])
        lon, lat = _arc(a, b, 50)
        d = GEOD.inv(np.full_like(lon, v[0]), np.full_like(lat, v[1]), lon, lat)[2]
        j = int(np.argmin(d))
        best = min(best, float(d[j]))
        lo, hi, n = max(j - 1, 0), min(j + 1, 50), 50
    return best


def _check(ga: dict[str, Any], gb: dict[str, Any]) -> None:
    a, b = parse_geometry(ga), parse_geometry(gb)
    got = nearest(a, b)
    assert got is not None
    ref = brute_distance(ga, gb)
    assert abs(got.distance_m - ref) <= max(1.0, 1e-3 * ref), (ga, gb, got, ref)
    # the reported distance is the GeographicLib distance between the reported points
    inv = Geodesic.WGS84.Inverse(got.on_a[1], got.on_a[0], got.on_b[1], got.on_b[0])["s12"]
    assert got.distance_m == pytest.approx(inv, abs=1e-6)


CENTRES = [
    (40.3, 35.45),  # Syria
    (179.95, 10.0),  # straddling ±180°
    (-179.99, -45.0),
    (0.0, 0.0),
    (12.0, 89.3),  # within 1° of the north pole
    (-120.0, -89.5),  # and the south pole
    (100.0, 70.0),
]


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize("kinds", [("Point", "LineString"), ("Polygon", "Polygon"), ("LineString", "Polygon")])
def test_matches_brute_force(centre: LonLat, kinds: tuple[str, str]) -> None:
    rng = random.Random(zlib.crc32(repr((centre, kinds)).encode()))  # the same shapes in every run
    makers = {
        "Point": lambda lo, la, s: point(lo, la),
        "LineString": lambda lo, la, s: line(rng, lo, la, s),
        "Polygon": lambda lo, la, s: star_polygon(rng, lo, la, s),
    }
    for _ in range(6):
        size_a, size_b = rng.choice([200, 5_000, 60_000]), rng.choice([200, 5_000, 60_000])
        gap = rng.choice([300, 5_000, 100_000, 480_000])
        lon_b, lat_b = _fwd(centre[0], centre[1], rng.uniform(0, 360), gap + size_a + size_b)
        _check(makers[kinds[0]](centre[0], centre[1], size_a), makers[kinds[1]](lon_b, lat_b, size_b))


def test_point_point_equals_geographiclib() -> None:
    rng = random.Random(7)
    for _ in range(300):
        lon, lat = rng.uniform(-180, 180), rng.uniform(-90, 90)
        lon2, lat2 = _fwd(lon, lat, rng.uniform(0, 360), rng.uniform(0, 500_000))
        got = nearest(parse_geometry(point(lon, lat)), parse_geometry(point(lon2, lat2)))
        assert got is not None
        assert got.distance_m == pytest.approx(Geodesic.WGS84.Inverse(lat, lon, lat2, lon2)["s12"], rel=1e-12, abs=1e-9)
        assert got.on_a == (lon, lat) and got.on_b == (lon2, lat2)


def test_point_to_long_segment_across_the_antimeridian() -> None:
    seg = {"type": "LineString", "coordinates": [[175.0, -3.0], [-172.0, 4.0]]}
    for p in ([179.0, 2.0], [-178.0, -1.5], [176.0, 1.0], [-170.0, 5.0]):
        _check(point(*p), seg)


def test_long_parallel_edges_pick_the_truly_nearest_end() -> None:
    # planar distance is constant along these; the geodesic one is not
    a = {"type": "LineString", "coordinates": [[10.0, 30.0], [10.0, 48.0]]}
    b = {"type": "LineString", "coordinates": [[15.0, 30.0], [15.0, 48.0]]}
    _check(a, b)
    c = {"type": "LineString", "coordinates": [[-20.0, 60.0], [-2.0, 62.0]]}
    d = {"type": "LineString", "coordinates": [[-20.0, 63.5], [-2.0, 65.5]]}
    _check(c, d)


def test_intersecting_and_containing_give_zero_with_a_common_point() -> None:
    outer = parse_geometry({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    inner = parse_geometry({"type": "Polygon", "coordinates": [[[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.4]]]})
    crossing = parse_geometry({"type": "LineString", "coordinates": [[-0.5, 0.5], [0.5, 0.6]]})
    inside_pt = parse_geometry(point(0.2, 0.3))
    for x, y in (
        (outer, inner),
        (inner, outer),
        (outer, crossing),
        (crossing, outer),
        (outer, inside_pt),
    ):
        got = nearest(x, y)
        assert got is not None and got.distance_m == 0.0 and got.on_a == got.on_b
        assert nearest(parse_geometry(point(*got.on_a)), x).distance_m == 0.0  # type: ignore[union-attr]
    assert nearest(crossing, outer).on_a[0] == pytest.approx(0.0, abs=1e-9)  # type: ignore[union-attr]


def test_shape_in_a_hole_is_apart_from_its_rim() -> None:
    donut = parse_geometry(
        {
            "type": "Polygon",
            "coordinates": [
                [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
                [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8], [0.2, 0.2]],
            ],
        }
    )
    got = nearest(donut, parse_geometry(point(0.5, 0.5)))
    assert got is not None
    # a degree of latitude is shorter than one of longitude here, and the south rim's arc bulges
    # north
    assert got.distance_m < Geodesic.WGS84.Inverse(0.5, 0.5, 0.2, 0.5)["s12"]
    assert got.on_a[1] > 0.2 and got.on_a[0] == pytest.approx(0.5, abs=1e-6)
    assert got.distance_m == pytest.approx(brute_distance(donut.geojson(), point(0.5, 0.5)), abs=1.0)


def test_antimeridian_box_and_cut_multipolygon_touch() -> None:
    box = parse_geometry(
        {
            "type": "Polygon",
            "coordinates": [[[179.9, 0], [-179.9, 0], [-179.9, 1], [179.9, 1], [179.9, 0]]],
        }
    )
    cut = parse_geometry(
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179.95, 0.5], [180, 0.5], [180, 0.6], [179.95, 0.6], [179.95, 0.5]]],
                [[[-180, 0.5], [-179.95, 0.5], [-179.95, 0.6], [-180, 0.6], [-180, 0.5]]],
            ],
        }
    )
    assert nearest(box, cut).distance_m == 0.0  # type: ignore[union-attr]
    east = parse_geometry(point(-179.5, 0.5))
    got = nearest(box, east)
    assert got is not None
    assert got.distance_m == pytest.approx(Geodesic.WGS84.Inverse(0.5, -179.9, 0.5, -179.5)["s12"], rel=1e-3)


def test_large_shapes_take_the_indexed_path_and_agree() -> None:
    rng = random.Random(3)
    for centre in ((40.0, 35.0), (179.8, -20.0), (30.0, 89.0)):
        ga = star_polygon(rng, centre[0], centre[1], 80_000, n=150)
        lon_b, lat_b = _fwd(centre[0], centre[1], rng.uniform(0, 360), 230_000)
        gb = star_polygon(rng, lon_b, lat_b, 80_000, n=120)
        a, b = parse_geometry(ga), parse_geometry(gb)
        assert len(a.xyz) * len(b.edges) > 600
        got = nearest(a, b)
        ref = brute_distance(ga, gb, per_edge=40)
        assert got is not None and abs(got.distance_m - ref) <= max(1.0, 1e-3 * ref)
    big = parse_geometry(star_polygon(rng, 10.0, 10.0, 100_000, n=200))
    assert nearest(big, parse_geometry(point(10.0, 10.0))).distance_m == 0.0  # type: ignore[union-attr]


def test_far_apart_shapes_still_get_a_distance() -> None:
    a = parse_geometry(star_polygon(random.Random(1), 0.0, 0.0, 10_000))
    b = parse_geometry(star_polygon(random.Random(2), 179.0, 1.0, 10_000))
    got = nearest(a, b)
    assert got is not None and 19_000_000 < got.distance_m < 20_100_000


# -- properties
# --------------------------------------------------------------------------------------------

lon_st = st.floats(-180, 180)
lat_st = st.floats(-89.9, 89.9)


@st.composite
def shape_pair(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    lon, lat = draw(lon_st), draw(lat_st)
    gap = draw(st.floats(0, 300_000))
    makers = [
        lambda lo, la, s: point(lo, la),
        lambda lo, la, s: line(rng, lo, la, s),
        lambda lo, la, s: star_polygon(rng, lo, la, s),
    ]
    size_a, size_b = draw(st.floats(100, 50_000)), draw(st.floats(100, 50_000))
    lon_b, lat_b = _fwd(lon, lat, draw(st.floats(0, 360)), gap)
    return draw(st.sampled_from(makers))(lon, lat, size_a), draw(st.sampled_from(makers))(lon_b, lat_b, size_b)


@settings(max_examples=150, deadline=None)
@given(shape_pair())
def test_symmetric(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = parse_geometry(pair[0]), parse_geometry(pair[1])
    ab, ba = nearest(a, b), nearest(b, a)
    assert ab is not None and ba is not None
    assert ab.distance_m == pytest.approx(ba.distance_m, rel=1e-9, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(shape_pair(), st.floats(1, 600_000))
def test_early_return_never_drops_a_near_pair(pair: tuple[dict[str, Any], dict[str, Any]], within_m: float) -> None:
    a, b = parse_geometry(pair[0]), parse_geometry(pair[1])
    full = nearest(a, b)
    assert full is not None
    quick = nearest(a, b, within_m=within_m)
    if full.distance_m < within_m:
        assert quick == full
    if quick is None:
        assert full.distance_m >= within_m
