"""The conflict rule of API.md: time, altitude, separation, different parties — on real geodesic distances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.domain.conflicts import assess
from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
from deconfliction.domain.separation import SeparationPolicy

POLICY = SeparationPolicy()
T0 = datetime(2017, 9, 9, tzinfo=UTC)
_keys = iter(range(1, 10**9))


def decl(party: str, geometry: dict[str, Any], **props: Any) -> Declaration:
    properties: dict[str, Any] = {"kind": "site", "start": "2017-09-09T00:00:00Z", "end": "2017-09-10T00:00:00Z"}
    properties.update(props)
    spec = parse_feature({"type": "Feature", "geometry": geometry, "properties": properties}, DeclarationLimits())
    key = next(_keys)
    return Declaration(key, f"d{key}", party, 1, spec, DeclarationStatus.ACTIVE, T0, T0)


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(Geodesic.WGS84.Inverse(a[1], a[0], b[1], b[0])["s12"])


def test_points_closer_than_separation_conflict_with_geodesic_distance() -> None:
    a, b = (40.14, 35.34), (40.16, 35.35)
    d = geodesic_m(a, b)
    found = assess(decl("sdf", point(*a), separation_m=d + 10), decl("saa", point(*b)), POLICY)
    assert found is not None
    assert found.distance_m == pytest.approx(d, abs=0.01)
    assert found.required_m == pytest.approx(d + 10)


def test_distance_equal_to_separation_is_not_a_conflict() -> None:
    a, b = (40.14, 35.34), (40.16, 35.35)
    d = geodesic_m(a, b)
    assert assess(decl("sdf", point(*a), separation_m=d - 0.5), decl("saa", point(*b)), POLICY) is None


def test_radius_grows_each_shape() -> None:
    a, b = (40.0, 35.0), (40.1, 35.0)
    d = geodesic_m(a, b)
    found = assess(
        decl("sdf", point(*a), radius_m=1000, separation_m=500), decl("saa", point(*b), radius_m=2000), POLICY
    )
    if d - 3000 < 500:
        assert found is not None
    found = assess(
        decl("sdf", point(*a), radius_m=d / 2, separation_m=100), decl("saa", point(*b), radius_m=d / 2 - 50), POLICY
    )
    assert found is not None
    assert found.distance_m == pytest.approx(50, abs=0.5)


def test_overlap_conflicts_even_at_zero_separation() -> None:
    a = decl("sdf", point(40.0, 35.0), radius_m=500, separation_m=0)
    b = decl("saa", point(40.001, 35.0), radius_m=500, separation_m=0)
    found = assess(a, b, POLICY)
    assert found is not None and found.distance_m == 0 and found.required_m == 0
    apart = decl("saa", point(40.02, 35.0), radius_m=500, separation_m=0)
    assert assess(a, apart, POLICY) is None


def test_same_party_never_conflicts() -> None:
    assert assess(decl("sdf", point(40, 35)), decl("sdf", point(40, 35)), POLICY) is None


def test_time_windows_that_only_touch_do_not_conflict() -> None:
    a = decl("sdf", point(40, 35), start="2017-09-09T00:00:00Z", end="2017-09-10T00:00:00Z")
    b = decl("saa", point(40, 35), start="2017-09-10T00:00:00Z", end="2017-09-11T00:00:00Z")
    assert assess(a, b, POLICY) is None
    c = decl("saa", point(40, 35), start="2017-09-09T23:59:59Z", end=None)
    found = assess(a, c, POLICY)
    assert found is not None
    assert found.window.start == datetime(2017, 9, 9, 23, 59, 59, tzinfo=UTC)
    assert found.window.end == datetime(2017, 9, 10, tzinfo=UTC)


def test_open_ended_windows_overlap_forever() -> None:
    a = decl("sdf", point(40, 35), start="2017-09-09T00:00:00Z", end=None)
    b = decl("saa", point(40, 35), start="2030-01-01T00:00:00+03:00", end=None)
    found = assess(a, b, POLICY)
    assert found is not None and found.window.end is None


@pytest.mark.parametrize(
    ("band_a", "band_b", "conflict"),
    [
        ({"lower_m": 0, "upper_m": 500}, {"lower_m": 1500, "upper_m": 9000}, False),
        ({"lower_m": 0, "upper_m": 1500}, {"lower_m": 1500, "upper_m": 9000}, True),  # touching: no vertical gap
        ({"lower_m": 2000, "upper_m": None}, {"lower_m": 1500, "upper_m": 9000}, True),
        (None, {"lower_m": 10_000, "upper_m": None}, True),  # absent band: surface to unlimited
    ],
)
def test_altitude_bands(band_a: Any, band_b: Any, conflict: bool) -> None:
    a = decl("sdf", point(40, 35), altitude=band_a)
    b = decl("saa", point(40, 35), altitude=band_b)
    assert (assess(a, b, POLICY) is not None) is conflict


def test_required_separation_is_the_larger_stated_else_the_kind_default() -> None:
    a, b = (40.0, 35.0), (40.0, 35.02)  # ~2.2 km apart
    d = geodesic_m(a, b)
    none_stated = assess(decl("sdf", point(*a), kind="area"), decl("saa", point(*b), kind="site"), POLICY)
    assert none_stated is not None and none_stated.required_m == POLICY.default_m(*_kinds("area", "site"))
    one_stated = assess(decl("sdf", point(*a), separation_m=d + 100), decl("saa", point(*b)), POLICY)
    assert one_stated is not None and one_stated.required_m == pytest.approx(d + 100)
    both = assess(decl("sdf", point(*a), separation_m=100), decl("saa", point(*b), separation_m=d + 5), POLICY)
    assert both is not None and both.required_m == pytest.approx(d + 5)
    small = assess(decl("sdf", point(*a), separation_m=100), decl("saa", point(*b), separation_m=200), POLICY)
    assert small is None


def _kinds(a: str, b: str) -> tuple[Any, Any]:
    from deconfliction.domain.declarations import Kind

    return Kind(a), Kind(b)


def test_location_lies_on_each_partys_own_grown_shape() -> None:
    a = decl("sdf", point(40.0, 35.0), radius_m=300, separation_m=5000)
    b = decl("saa", point(40.03, 35.0), radius_m=200)
    found = assess(a, b, POLICY)
    assert found is not None
    assert geodesic_m((40.0, 35.0), found.location_a) == pytest.approx(300, abs=0.5)
    assert geodesic_m((40.03, 35.0), found.location_b) == pytest.approx(200, abs=0.5)
    assert found.location_a[0] > 40.0 and found.location_b[0] < 40.03


def test_overlapping_polygons_are_at_distance_zero() -> None:
    poly_a = {"type": "Polygon", "coordinates": [[[40, 35], [40.2, 35], [40.2, 35.2], [40, 35.2], [40, 35]]]}
    poly_b = {
        "type": "Polygon",
        "coordinates": [[[40.1, 35.1], [40.3, 35.1], [40.3, 35.3], [40.1, 35.3], [40.1, 35.1]]],
    }
    found = assess(decl("sdf", poly_a, kind="area"), decl("saa", poly_b, kind="area"), POLICY)
    assert found is not None and found.distance_m == 0


def test_across_the_antimeridian() -> None:
    a, b = (179.99, -16.5), (-179.99, -16.5)
    d = geodesic_m(a, b)
    found = assess(decl("sdf", point(*a), separation_m=5000), decl("saa", point(*b)), POLICY)
    assert found is not None and found.distance_m == pytest.approx(d, rel=1e-3)


lon = st.floats(-179.5, 179.5)
lat = st.floats(-85, 85)
offset = st.floats(-0.05, 0.05)


@settings(max_examples=150, deadline=None)
@given(lon, lat, offset, offset, st.floats(0, 3000), st.floats(0, 3000), st.floats(1, 20_000))
def test_rule_is_symmetric(x: float, y: float, dx: float, dy: float, ra: float, rb: float, sep: float) -> None:
    a = decl("sdf", point(x, y), radius_m=ra, separation_m=sep)
    b = decl("saa", point(x + dx, y + dy), radius_m=rb)
    ab, ba = assess(a, b, POLICY), assess(b, a, POLICY)
    assert (ab is None) == (ba is None)
    if ab is not None and ba is not None:
        assert ab.distance_m == pytest.approx(ba.distance_m, abs=1e-6)
        assert ab.location_a == pytest.approx(ba.location_b, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(lon, lat, offset, offset, st.floats(0, 20_000), st.floats(0, 20_000))
def test_rule_is_monotone_in_separation(x: float, y: float, dx: float, dy: float, s1: float, s2: float) -> None:
    small, large = sorted((s1, s2))
    b = decl("saa", point(x + dx, y + dy))
    if assess(decl("sdf", point(x, y), separation_m=small), b, POLICY) is not None:
        assert assess(decl("sdf", point(x, y), separation_m=large), b, POLICY) is not None
