"""Geodesy helpers against GeographicLib, and the gnomonic plane's defining properties."""

from __future__ import annotations

import math
import random

import pytest
from geographiclib.geodesic import Geodesic

from deconfliction.domain.geodesy import (
    Gnomonic,
    advance,
    angle_rad,
    destination,
    distance_m,
    normalized,
    to_lonlat,
    unit_vector,
)

G = Geodesic.WGS84


def _random_pairs(n: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Pairs up to 500 km apart: anywhere, straddling ±180°, and within 1° of each pole."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        region = k % 4
        if region == 0:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-90, 90)
        elif region == 1:
            lon, lat = (
                rng.choice([rng.uniform(179, 180), rng.uniform(-180, -179)]),
                rng.uniform(-80, 80),
            )
        elif region == 2:
            lon, lat = rng.uniform(-180, 180), rng.uniform(89, 90)
        else:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-90, -89)
        d = G.Direct(lat, lon, rng.uniform(0, 360), rng.uniform(0, 500_000))
        out.append((lon, lat, d["lon2"], d["lat2"]))
    return out


def test_distance_matches_geographiclib() -> None:
    for lon1, lat1, lon2, lat2 in _random_pairs(2000, seed=1):
        assert distance_m(lon1, lat1, lon2, lat2) == pytest.approx(G.Inverse(lat1, lon1, lat2, lon2)["s12"], abs=1e-6)


def test_destination_matches_geographiclib() -> None:
    rng = random.Random(2)
    for lon, lat, _, _ in _random_pairs(500, seed=3):
        az, s = rng.uniform(-180, 180), rng.uniform(0, 500_000)
        d = G.Direct(lat, lon, az, s)
        lon2, lat2 = destination(lon, lat, az, s)
        assert G.Inverse(lat2, lon2, d["lat2"], d["lon2"])["s12"] < 1e-6


def test_advance_moves_along_and_stops_at_the_target() -> None:
    for lon1, lat1, lon2, lat2 in _random_pairs(300, seed=4):
        total = G.Inverse(lat1, lon1, lat2, lon2)["s12"]
        if total < 1:
            continue
        mid = advance((lon1, lat1), (lon2, lat2), total / 3)
        assert distance_m(lon1, lat1, *mid) == pytest.approx(total / 3, abs=1e-6)
        assert distance_m(*mid, lon2, lat2) == pytest.approx(2 * total / 3, abs=1e-3)
        assert advance((lon1, lat1), (lon2, lat2), total * 2) == (lon2, lat2)
        assert advance((lon1, lat1), (lon2, lat2), 0.0) == (lon1, lat1)


def test_unit_vectors_round_trip_across_the_antimeridian_and_poles() -> None:
    for lon, lat in [(180.0, 10.0), (-179.999, -3.0), (0.0, 90.0), (45.0, -89.9999), (-180.0, 0.0)]:
        v = unit_vector(lon, lat)
        assert math.isclose(sum(c * c for c in v), 1.0)
        back_lon, back_lat = to_lonlat(v)
        assert back_lat == pytest.approx(lat, abs=1e-12)
        if abs(lat) < 90:
            assert angle_rad(v, unit_vector(back_lon, back_lat)) < 1e-14
    assert angle_rad(unit_vector(180, 0), unit_vector(-180, 0)) < 1e-15
    with pytest.raises(ValueError):
        normalized((0.0, 0.0, 0.0))


@pytest.mark.parametrize("centre", [(40.3, 35.4), (180.0, 0.0), (-179.9, 60.0), (0.0, 90.0), (123.0, -89.5)])
def test_gnomonic_round_trip_and_great_circles_are_straight(centre: tuple[float, float]) -> None:
    plane = Gnomonic.at(unit_vector(*centre))
    rng = random.Random(5)
    for _ in range(200):
        lon, lat = to_lonlat(unit_vector(*centre))
        d = G.Direct(lat, lon, rng.uniform(0, 360), rng.uniform(0, 1_500_000))
        x, y = plane.forward(unit_vector(d["lon2"], d["lat2"]))
        back = plane.inverse(x, y)
        assert angle_rad(unit_vector(*back), unit_vector(d["lon2"], d["lat2"])) < 1e-13
    # three points of one great circle project onto one line
    u, v = (
        unit_vector(centre[0] + 3, max(-89.0, centre[1] - 2)),
        unit_vector(centre[0] - 2, min(89.0, centre[1] + 1)),
    )
    m = normalized((u[0] + 2 * v[0], u[1] + 2 * v[1], u[2] + 2 * v[2]))
    (x0, y0), (x1, y1), (x2, y2) = plane.forward(u), plane.forward(m), plane.forward(v)
    cross = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    assert abs(cross) <= 1e-9 * math.hypot(x2 - x0, y2 - y0) ** 2


def test_gnomonic_plane_is_metric_near_its_centre() -> None:
    for lon, lat in [(40.0, 35.0), (0.0, 0.0), (100.0, 89.9), (-60.0, -70.0)]:
        plane = Gnomonic.at(unit_vector(lon, lat))
        for az in range(0, 360, 30):
            d = G.Direct(lat, lon, az, 1000.0)
            x, y = plane.forward(unit_vector(d["lon2"], d["lat2"]))
            assert math.hypot(x, y) == pytest.approx(1000.0, rel=1e-4)
