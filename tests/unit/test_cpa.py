"""Closest point of approach: the issue's reference vector on a flat plane and on the ellipsoid (anywhere, across
±180° and near the poles), diverging and parallel movers, the numpy screen, and a mover's time to entry."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from pyproj import Geod, Proj

from deconfliction.domain.cpa import (
    Motion,
    cap_boxes,
    closest_approach,
    may_reach,
    motion_between,
    motion_trajectory,
    path_reaches,
    planar_cpa,
    screen,
    time_to_entry,
)
from deconfliction.domain.geodesy import destination, distance_m, to_lonlat
from deconfliction.domain.geometry import Shape, parse_geometry

NM = 1852.0
KNOT = NM / 3600.0
GEOD = Geod(ellps="WGS84")
# The reference: A at (1, 1) NM moving 6 kn on 045°, B at 8 NM east / 9 NM north moving 6 kn on 270°.
TCPA_MIN, CPA_NM = 51.5685, 4.7122


def _velocity(speed_kn: float, course_deg: float) -> tuple[float, float]:
    c = math.radians(course_deg)
    return speed_kn * KNOT * math.sin(c), speed_kn * KNOT * math.cos(c)


def test_reference_vector_on_a_flat_plane() -> None:
    va, vb = _velocity(6, 45), _velocity(6, 270)
    tcpa_s, cpa_m = planar_cpa(7 * NM, 8 * NM, vb[0] - va[0], vb[1] - va[1])
    assert tcpa_s / 60 == pytest.approx(TCPA_MIN, abs=0.01)
    assert cpa_m / NM == pytest.approx(CPA_NM, abs=0.001)


def _placed(lon0: float, lat0: float) -> tuple[Motion, Motion]:
    """The reference movers laid on the ellipsoid around (lon0, lat0) by an azimuthal equidistant projection; each
    course is the true azimuth, at the mover's own position, of the plane's direction."""
    plane = Proj(proj="aeqd", lon_0=lon0, lat_0=lat0, ellps="WGS84")

    def fix(x_nm: float, y_nm: float, course_deg: float) -> Motion:
        lon, lat = plane(x_nm * NM, y_nm * NM, inverse=True)
        dx, dy = _velocity(1, course_deg)
        lon2, lat2 = plane(x_nm * NM + dx * 10, y_nm * NM + dy * 10, inverse=True)
        azimuth = GEOD.inv(lon, lat, lon2, lat2)[0]
        return Motion(lon, lat, 0.0, 6 * KNOT, azimuth % 360.0)

    return fix(1, 1, 45), fix(8, 9, 270)


@pytest.mark.parametrize(
    ("lon0", "lat0"),
    [
        (40.0, 35.0),  # near 35° N
        (179.95, 10.0),  # B lies across the antimeridian from A
        (-179.99, -60.0),
        (0.0, 89.7),  # a few miles from the North Pole: B's course of 270 is nothing like true west
        (10.0, 89.99),  # B's track passes over the pole
        (120.0, -89.8),
    ],
)
def test_reference_vector_on_the_ellipsoid(lon0: float, lat0: float) -> None:
    a, b = _placed(lon0, lat0)
    found = closest_approach(a, b, 0.0, 2 * 3600.0)
    assert found.tcpa_s / 60 == pytest.approx(TCPA_MIN, abs=0.02)
    assert found.distance_m / NM == pytest.approx(CPA_NM, abs=0.002)
    # the distance reported is the geodesic one between the two positions at the time of closest approach
    assert found.distance_m == pytest.approx(distance_m(*found.on_a, *found.on_b), abs=1e-6)
    assert found.on_a == pytest.approx(a.at(found.t_s))


def test_diverging_movers_have_a_negative_tcpa_and_keep_their_distance() -> None:
    a = Motion(40.0, 35.0, 0.0, 5.0, 270.0)
    b = Motion(40.1, 35.0, 0.0, 5.0, 90.0)
    found = closest_approach(a, b, 0.0, 1800.0)
    assert found.tcpa_s < 0
    assert found.t_s == 0.0  # nothing ahead is closer than now
    assert found.distance_m == pytest.approx(distance_m(40.0, 35.0, 40.1, 35.0), rel=1e-9)
    assert not found.within(found.distance_m)


def test_parallel_movers_keep_their_distance() -> None:
    # one behind the other on the same great circle (the equator): the same velocity, a constant distance
    a = Motion(40.0, 0.0, 0.0, 8.0, 90.0)
    lon_b, lat_b = destination(40.0, 0.0, 90.0, 1500.0)
    b = Motion(lon_b, lat_b, 0.0, 8.0, 90.0)
    found = closest_approach(a, b, 0.0, 1800.0)
    assert found.distance_m == pytest.approx(1500.0, abs=0.01)
    assert found.within(1852.0) and not found.within(1000.0)
    assert planar_cpa(100.0, 0.0, 0.0, 0.0) == (0.0, 100.0)  # |Δv| = 0: no closest time, the distance now


def test_the_horizon_clips_the_time_considered() -> None:
    a = Motion(40.0, 35.0, 0.0, 1.0, 90.0)
    lon_b, lat_b = destination(40.0, 35.0, 90.0, 10_000.0)
    b = Motion(lon_b, lat_b, 0.0, 1.0, 270.0)  # meeting in 5,000 s
    found = closest_approach(a, b, 0.0, 1800.0)
    assert found.tcpa_s == pytest.approx(5000.0, rel=1e-3)
    assert found.t_s == 1800.0
    assert found.distance_m == pytest.approx(10_000.0 - 2 * 1800.0, abs=5.0)


def test_a_motion_derived_from_two_fixes() -> None:
    lon2, lat2 = destination(40.0, 35.0, 30.0, 600.0)
    speed, course = motion_between(40.0, 35.0, 0.0, lon2, lat2, 60.0)
    assert speed == pytest.approx(10.0, rel=1e-9)
    assert course == pytest.approx(30.0, abs=0.01)
    assert motion_between(40.0, 35.0, 60.0, lon2, lat2, 60.0) == (0.0, 0.0)  # no time between them: no motion


def test_the_screen_agrees_with_the_scalar_formula() -> None:
    rng = random.Random(7)
    rows = [[rng.uniform(-5e4, 5e4) for _ in range(4)] for _ in range(200)] + [[3e3, 4e3, 0.0, 0.0]]
    dp = np.array([[r[0], r[1], 0.0] for r in rows])
    dv = np.array([[r[2] / 1e3, r[3] / 1e3, 0.0] for r in rows])
    t, d = screen(dp, dv, 1800.0)
    for i, r in enumerate(rows):
        tcpa, _ = planar_cpa(r[0], r[1], r[2] / 1e3, r[3] / 1e3)
        clipped = min(max(tcpa, 0.0), 1800.0)
        assert t[i] == pytest.approx(clipped)
        assert d[i] == pytest.approx(math.hypot(r[0] + r[2] / 1e3 * clipped, r[1] + r[3] / 1e3 * clipped))


def _square(west: float, south: float, side_deg: float) -> Shape:
    ring = [[west, south], [west + side_deg, south], [west + side_deg, south + side_deg], [west, south + side_deg]]
    return parse_geometry({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


def test_time_to_entry_into_a_separation_zone() -> None:
    place = _square(40.2, -0.05, 0.1)  # on the equator: heading 090 runs along it
    mover = Motion(40.0, 0.0, 1000.0, 15.0, 90.0)
    entry = time_to_entry(mover, place, 2000.0, 1000.0, 1000.0 + 1800.0)
    assert entry is not None
    expected_s = (distance_m(40.0, 0.0, 40.2, 0.0) - 2000.0) / 15.0
    assert entry.t_s - 1000.0 == pytest.approx(expected_s, abs=0.5)
    assert entry.distance_m == pytest.approx(2000.0, abs=2.0)
    assert entry.on_place[0] == pytest.approx(40.2, abs=1e-6)
    # too short a horizon: no entry
    assert time_to_entry(mover, place, 2000.0, 1000.0, 1000.0 + expected_s - 10) is None


def test_no_entry_when_moving_away_or_passing_by() -> None:
    place = _square(40.2, -0.05, 0.1)
    away = Motion(40.0, 0.0, 0.0, 10.0, 270.0)
    assert time_to_entry(away, place, 2000.0, 0.0, 1800.0) is None
    passing = Motion(40.0, 0.2, 0.0, 30.0, 90.0)  # 16 km north of the square's north edge
    assert path_reaches(passing, place, 2000.0, 0.0, 3600.0) is None
    assert path_reaches(passing, place, 20_000.0, 0.0, 3600.0) is not None


def test_already_inside_enters_at_once_and_a_standing_mover_never_enters() -> None:
    place = _square(40.2, -0.05, 0.1)
    inside = Motion(40.25, 0.0, 0.0, 5.0, 0.0)
    entry = time_to_entry(inside, place, 0.0, 0.0, 1800.0)
    assert entry is not None and entry.t_s == 0.0 and entry.distance_m == 0.0
    standing = Motion(40.0, 0.0, 0.0)
    assert time_to_entry(standing, place, 2000.0, 0.0, 1800.0) is None


def test_cap_boxes_cover_the_cap_across_the_antimeridian_and_the_poles() -> None:
    (box,) = cap_boxes(40.0, 35.0, 10_000.0)
    for azimuth in range(0, 360, 15):
        lon, lat = destination(40.0, 35.0, azimuth, 10_000.0)
        assert box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
    east, west = cap_boxes(179.95, 10.0, 20_000.0)
    assert east[2] == 180.0 and west[0] == -180.0 and west[2] > -180.0
    (polar,) = cap_boxes(0.0, 89.9, 20_000.0)
    assert polar[0] == -180.0 and polar[2] == 180.0 and polar[3] == 90.0


def test_the_cheap_reach_test_never_refuses_what_the_exact_one_finds() -> None:
    rng = random.Random(3)
    place = _square(40.2, -0.05, 0.1)
    for _ in range(200):
        mover = Motion(rng.uniform(39.5, 41.0), rng.uniform(-0.6, 0.6), 0.0, rng.uniform(0, 30), rng.uniform(0, 360))
        zone_m = rng.uniform(0, 5_000)
        if path_reaches(mover, place, zone_m, 0.0, 1800.0) is not None:
            assert may_reach(mover, place, zone_m, 0.0, 1800.0)


@pytest.mark.parametrize(
    ("lat", "course_deg"), [(35.0, 45.0), (0.0, 90.0), (60.0, 10.0), (-70.0, 300.0), (89.0, 0.0), (10.0, 270.0)]
)
def test_a_dead_reckoned_path_as_a_trajectory_stays_within_a_metre_of_the_geodesic(
    lat: float, course_deg: float
) -> None:
    # an airliner over a 30-minute horizon: the great-circle pieces between the points hug the dead-reckoned geodesic
    mover = Motion(40.0, lat, 100.0, 260.0, course_deg)
    path = motion_trajectory(mover, 100.0, 1_900.0)
    assert path.times_s[0] == 100.0 and path.times_s[-1] == 1_900.0
    worst_m = max(distance_m(*to_lonlat(path.at(t)), *mover.at(t)) for t in range(100, 1_901, 7))
    assert worst_m < 1.0
    still = motion_trajectory(Motion(40.0, lat, 100.0), 100.0, 1_900.0)
    assert distance_m(*to_lonlat(still.at(1_000.0)), 40.0, lat) < 1e-6
