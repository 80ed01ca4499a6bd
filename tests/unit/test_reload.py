"""Reloading from the store: the trusted parse builds exactly what the validating parse built."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from deconfliction.bootstrap import wire
from deconfliction.domain.declarations import (
    Declaration,
    DeclarationLimits,
    DeclarationSpec,
    DeclarationStatus,
    parse_feature,
)
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.geodesy import LonLat, Vec3, angle_rad, normalized, to_lonlat, unit_vector
from deconfliction.domain.geometry import Shape, nearest, parse_geometry
from deconfliction.domain.geometry_shape import _lat_extent, _max_angle_rad
from deconfliction.domain.timewindow import parse_time
from deconfliction.services import declarations, parties
from tests.conftest import make_settings

LIMITS = DeclarationLimits()
UNLIMITED = DeclarationLimits(
    max_vertices=10**9,
    max_area_m2=math.inf,
    max_radius_m=math.inf,
    max_separation_m=math.inf,
    max_name_chars=10**9,
    max_audience=10**9,
)
GROW_M = (0.0, 1.0, 250.0, 5_000.0, 120_000.0, 2_000_000.0)
# the cached fields of a Shape; area_m2 and representative are compared through their properties
SHAPE_FIELDS = (
    "geom_type", "coordinates", "vertex_count", "lonlat", "xyz", "edges", "polygon_edges", "component_vertices",
    "cap_centre", "cap_radius_rad", "lat_min", "lat_max", "lon_centre", "dlon_min", "dlon_max",
)  # fmt: skip


def ring(*points: tuple[float, float]) -> list[list[float]]:
    return [[lon, lat] for lon, lat in (*points, points[0])]


def box(lon: float, lat: float, half: float) -> list[list[float]]:
    return ring((lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half), (lon - half, lat + half))


GEOMETRIES: dict[str, dict[str, Any]] = {
    "point": {"type": "Point", "coordinates": [40.5, 35.5]},
    "point-with-altitude": {"type": "Point", "coordinates": [40, 35, 1200]},
    "line": {"type": "LineString", "coordinates": [[40.0, 35.0], [40.0, 35.0], [40.3, 35.2, 10], [40.6, 35.1]]},
    "square": {"type": "Polygon", "coordinates": [box(44.4, 37.6, 0.006)]},
    "integer-square": {"type": "Polygon", "coordinates": [[[10, 1], [11, 1], [11, 2], [10, 2], [10, 1]]]},
    "polygon-with-hole": {"type": "Polygon", "coordinates": [box(40.4, 35.5, 0.2), box(40.45, 35.55, 0.05)]},
    "repeated-vertices": {
        "type": "Polygon",
        "coordinates": [[[30, 10], [30.5, 10], [30.5, 10], [30.5, 10.5], [30, 10.5], [30, 10]]],
    },
    "multipolygon": {
        "type": "MultiPolygon",
        "coordinates": [[box(20.0, 5.0, 0.1)], [box(20.5, 5.0, 0.2), box(20.5, 5.0, 0.05)]],
    },
    "cut-at-antimeridian": {
        "type": "MultiPolygon",
        "coordinates": [
            [ring((179.8, -17.0), (180.0, -17.0), (180.0, -16.5), (179.8, -16.5))],
            [ring((-180.0, -17.0), (-179.7, -17.0), (-179.7, -16.5), (-180.0, -16.5))],
        ],
    },
    "ring-across-antimeridian": {
        "type": "Polygon",
        "coordinates": [ring((179.9, 0), (-179.9, 0), (-179.9, 1), (179.9, 1))],
    },
    "around-north-pole": {
        "type": "Polygon",
        "coordinates": [ring((0.0, 88.0), (90.0, 88.5), (180.0, 88.0), (-90.0, 88.5))],
    },
    "near-south-pole": {
        "type": "Polygon",
        "coordinates": [ring((10.0, -86.0), (40.0, -86.0), (40.0, -85.0), (10.0, -85.0))],
    },
    "concave": {
        "type": "Polygon",
        "coordinates": [ring((0, 0), (1, 0), (1, 1), (0.5, 0.2), (0, 1))],
    },
}
ROUTE = [[10.0, 50.0], [10.1, 50.05], [10.2, 50.1], [10.2, 50.1], [10.4, 50.2]]
ROUTE_TIMES = ["2030-01-10T09:00:00Z", "2030-01-10T09:10:00.250Z", "2030-01-10T09:20:00Z", "2030-01-10T09:20:00Z",
               "2030-01-10T11:40:00+02:00"]  # fmt: skip


def corpus() -> dict[str, dict[str, Any]]:
    """Features as a client sends them."""
    out = {}
    for name, geometry in GEOMETRIES.items():
        kind = "site" if geometry["type"] == "Point" else "area"
        out[name] = {
            "type": "Feature",
            "geometry": geometry,
            "properties": {"kind": kind, "name": name, "start": "2030-01-10T09:00:00Z", "end": "2030-01-11T09:00:00Z"},
        }
    out["route-with-times"] = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": ROUTE},
        "properties": {
            "kind": "route", "name": "timed", "start": "2030-01-10T09:00:00Z", "end": "2030-01-10T10:00:00Z",
            "times": ROUTE_TIMES, "radius_m": 50, "audience": ["p3", "p2", "p3"],
            "altitude": {"lower_m": 100, "upper_m": 900.5},
        },
    }  # fmt: skip
    out["route-with-speed"] = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[-179.9, 10.0], [179.9, 10.1], [179.5, 10.3]]},
        "properties": {
            "kind": "route", "name": "", "start": "2030-01-10T09:00:00.123456Z", "speed_mps": 55,
            "separation_m": 2500, "audience": "all", "altitude": {"upper_m": 120},
        },
    }  # fmt: skip
    out["open-ended-site"] = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-0.1, 51.5]},
        "properties": {
            "kind": "site", "name": "hospital", "start": "2030-01-10T09:00:00-05:00", "end": None,
            "audience": "conflicts", "radius_m": 300.0, "altitude": {"lower_m": 0},
        },
    }  # fmt: skip
    return out


CORPUS = corpus()
OTHERS = [
    parse_geometry(g)
    for g in (
        {"type": "Point", "coordinates": [40.52, 35.52]},
        {"type": "Point", "coordinates": [179.95, -16.7]},
        {"type": "LineString", "coordinates": [[20.2, 4.0], [20.2, 6.0]]},
        {"type": "LineString", "coordinates": [[45.0, 89.0], [-135.0, 89.0]]},
        {"type": "Polygon", "coordinates": [box(44.41, 37.61, 0.003)]},
        {"type": "Polygon", "coordinates": [box(10.3, 50.3, 0.05)]},
        {"type": "Polygon", "coordinates": [box(25.0, -85.5, 0.3)]},
        {"type": "Polygon", "coordinates": [box(-179.95, 0.5, 0.02)]},
        {"type": "Polygon", "coordinates": [box(0.5, 0.5, 0.05)]},
    )
]


def stored(spec: DeclarationSpec) -> dict[str, Any]:
    """The Feature as the store writes and reads it back."""
    at = parse_time("2030-01-01T00:00:00Z", "at")
    d = Declaration(1, "d-1", "p1", 1, spec, DeclarationStatus.ACTIVE, at, at)
    loaded: dict[str, Any] = json.loads(json.dumps(d.to_feature(), separators=(",", ":")))
    return loaded


def assert_same_shape(trusted: Shape, checked: Shape) -> None:
    for name in SHAPE_FIELDS:
        assert getattr(trusted, name) == getattr(checked, name), name
    assert type(trusted.area_m2) is float and trusted.area_m2 == checked.area_m2
    assert trusted.representative == checked.representative
    assert trusted.centroid() == checked.centroid()
    assert trusted.is_areal == checked.is_areal
    assert trusted.geojson() == checked.geojson()
    for grow in GROW_M:
        assert trusted.boxes(grow) == checked.boxes(grow), grow
    for other in OTHERS:
        for within in (None, 1_000.0, 50_000.0):
            assert nearest(trusted, other, within) == nearest(checked, other, within)
            assert nearest(other, trusted, within) == nearest(other, checked, within)
    assert nearest(trusted, checked) == nearest(checked, checked)


def assert_same_spec(trusted: DeclarationSpec, checked: DeclarationSpec) -> None:
    assert_same_shape(trusted.shape, checked.shape)
    for name in ("kind", "name", "window", "altitude", "radius_m", "separation_m", "audience", "timing"):
        a, b = getattr(trusted, name), getattr(checked, name)
        assert a == b and type(a) is type(b), name
    assert trusted.window.start.tzinfo == checked.window.start.tzinfo


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_trusted_parse_of_a_stored_feature_equals_the_validating_parse(name: str) -> None:
    spec = parse_feature(CORPUS[name], LIMITS)
    feature = stored(spec)
    trusted = parse_feature(feature, UNLIMITED, trusted=True)
    assert_same_spec(trusted, spec)
    assert_same_spec(trusted, parse_feature(feature, UNLIMITED))
    at = parse_time("2030-01-01T00:00:00Z", "at")
    again = Declaration(1, "d-1", "p1", 1, trusted, DeclarationStatus.ACTIVE, at, at)
    assert again.to_feature() == feature


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_trusted_geometry_parse_equals_the_validating_parse(name: str) -> None:
    checked = parse_geometry(GEOMETRIES[name])
    trusted = parse_geometry(json.loads(json.dumps(checked.geojson())), trusted=True)
    assert_same_shape(trusted, checked)


def test_a_reloaded_polygon_computes_area_and_representative_only_when_asked() -> None:
    geometry = parse_geometry(GEOMETRIES["polygon-with-hole"]).geojson()
    shape = parse_geometry(geometry, trusted=True)
    assert shape._area_m2 is None and shape._representative is None
    assert shape.area_m2 == parse_geometry(geometry).area_m2
    assert shape._area_m2 is not None and shape._representative is not None
    line = parse_geometry(GEOMETRIES["line"], trusted=True)
    assert line.area_m2 == 0.0 and line.representative == (40.3, 35.2)


def test_ring_ranges_recover_each_polygon_s_rings() -> None:
    shape = parse_geometry(GEOMETRIES["multipolygon"], trusted=True)
    assert shape.ring_ranges() == [[(0, 4)], [(4, 8), (8, 12)]]
    assert parse_geometry(GEOMETRIES["line"]).ring_ranges() == []


def _random_stored_star(rng: random.Random) -> dict[str, Any]:
    lon, lat = rng.uniform(-180, 180), rng.uniform(-89, 89)
    size = rng.choice([0.001, 0.05, 1.0, 8.0])
    n = rng.randint(3, 12)
    pts = []
    for k in range(n):
        az = 2 * math.pi * (k + rng.uniform(0.1, 0.9)) / n
        r = size * rng.uniform(0.4, 1.0)
        plat = max(-90.0, min(90.0, lat + r * math.cos(az)))
        plon = lon + r * math.sin(az) / max(math.cos(math.radians(lat)), 0.05)
        pts.append((round((plon + 180.0) % 360.0 - 180.0, 6), round(plat, 6)))
    return {"type": "Polygon", "coordinates": [ring(*pts)]}


def test_random_polygons_reload_identically() -> None:
    rng = random.Random(7)
    checked_count = 0
    for _ in range(300):
        geometry = _random_stored_star(rng)
        try:
            checked = parse_geometry(geometry, max_area_m2=math.inf)
        except InvalidInput:
            continue  # the random star self-intersects or is too large: not something the store holds
        trusted = parse_geometry(json.loads(json.dumps(checked.geojson())), trusted=True)
        for name in SHAPE_FIELDS:
            assert getattr(trusted, name) == getattr(checked, name), name
        assert (trusted.area_m2, trusted.representative) == (checked.area_m2, checked.representative)
        for grow in GROW_M:
            assert trusted.boxes(grow) == checked.boxes(grow)
        checked_count += 1
    assert checked_count > 150


# The arithmetic of _lat_extent and of the cap radius was written out inline for speed; these are the
# previous, plainly written versions, and the inline ones must agree with them to the last bit.
def _lat_extent_reference(lonlat: list[LonLat], xyz: list[Vec3], edges: list[tuple[int, int]]) -> tuple[float, float]:
    lo = min(lat for _, lat in lonlat)
    hi = max(lat for _, lat in lonlat)
    for i, j in edges:
        u, v = xyz[i], xyz[j]
        n = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
        try:
            n = normalized(n)
        except ValueError:
            continue
        top = (-n[2] * n[0], -n[2] * n[1], 1.0 - n[2] * n[2])
        if top[2] <= 1e-15:
            continue
        for p in (top, (-top[0], -top[1], -top[2])):
            if _between_reference(u, p, v, n):
                lat = to_lonlat(p)[1]
                lo, hi = min(lo, lat), max(hi, lat)
    return lo, hi


def _between_reference(u: Vec3, p: Vec3, v: Vec3, n: Vec3) -> bool:
    c1 = (u[1] * p[2] - u[2] * p[1], u[2] * p[0] - u[0] * p[2], u[0] * p[1] - u[1] * p[0])
    c2 = (p[1] * v[2] - p[2] * v[1], p[2] * v[0] - p[0] * v[2], p[0] * v[1] - p[1] * v[0])
    return (c1[0] * n[0] + c1[1] * n[1] + c1[2] * n[2]) > 0 and (c2[0] * n[0] + c2[1] * n[1] + c2[2] * n[2]) > 0


def test_inline_arithmetic_matches_the_plain_versions_bit_for_bit() -> None:
    rng = random.Random(11)
    specials = [(0.0, 0.0), (0.0, 90.0), (180.0, -90.0), (-180.0, 0.0), (90.0, 45.0), (0.0, -45.0)]
    for trial in range(3000):
        if trial < len(specials) ** 2:
            a, b = specials[trial // len(specials)], specials[trial % len(specials)]
        else:
            a = (rng.uniform(-180, 180), rng.uniform(-90, 90))
            spread = rng.choice([1e-9, 1e-4, 0.1, 5.0, 40.0])
            b = (a[0] + rng.uniform(-spread, spread), max(-90.0, min(90.0, a[1] + rng.uniform(-spread, spread))))
            if rng.random() < 0.2:
                b = (b[0], a[1])  # along a parallel: the arc bulges poleward
        lonlat = [a, b]
        xyz = [unit_vector(*a), unit_vector(*b)]
        edges = [(0, 1), (1, 0)]
        assert _lat_extent(lonlat, xyz, edges) == _lat_extent_reference(lonlat, xyz, edges)
        c = unit_vector(rng.uniform(-180, 180), rng.uniform(-90, 90))
        assert _max_angle_rad(c, xyz) == max(angle_rad(c, v) for v in xyz)


def test_store_round_trip_reloads_equal_declarations(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = wire(settings)
    for party in ("p1", "p2", "p3"):
        parties.create_party(first.ctx, party, party.upper(), None)
    written = {}
    for i, (name, feature) in enumerate(sorted(CORPUS.items())):
        written[name] = declarations.declare(first.ctx, f"p{1 + i % 3}", feature).declaration
    first.ctx.close()

    second = wire(settings)
    try:
        reloaded = {d.id: d for d in second.ctx.picture.declarations.values()}
        assert sorted(reloaded) == sorted(d.id for d in written.values())
        for name, before in written.items():
            after = reloaded[before.id]
            assert (after.key, after.party, after.version, after.status) == (
                before.key,
                before.party,
                before.version,
                before.status,
            ), name
            assert (after.created_at, after.updated_at) == (before.created_at, before.updated_at)
            assert_same_spec(after.spec, before.spec)
            assert after.to_feature() == before.to_feature()
    finally:
        second.ctx.close()
