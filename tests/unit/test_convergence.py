"""Timed routes conflict through where they are *when*: closest approach, exact per piece, geodesic."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.domain.conflicts import ConflictKind, assess
from deconfliction.domain.convergence import closest_approach, trajectory
from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
from deconfliction.domain.geodesy import distance_m, to_lonlat
from deconfliction.domain.separation import SeparationPolicy

POLICY = SeparationPolicy.with_overrides({})
NOW = datetime(2017, 11, 1, tzinfo=UTC)


def declaration(party: str, geometry: dict[str, Any], **props: Any) -> Declaration:
    properties: dict[str, Any] = {"kind": "route", "name": party, "start": "2017-11-01T00:00:00Z",
                                  "end": "2017-11-02T00:00:00Z"}  # fmt: skip
    properties.update(props)
    spec = parse_feature({"type": "Feature", "geometry": geometry, "properties": properties}, DeclarationLimits())
    return Declaration(1, f"{party}-1", party, 1, spec, DeclarationStatus.ACTIVE, NOW, NOW)


def line(*coords: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def hours(*hh: str) -> list[str]:
    return [f"2017-11-01T{h}:00Z" for h in hh]


def test_paths_that_cross_at_the_same_time_converge_and_report_when_and_where() -> None:
    a = declaration("sdf", line((40.0, 34.5), (41.0, 34.5)), times=hours("05:00", "07:00"))
    b = declaration("saa", line((40.5, 34.0), (40.5, 35.0)), times=hours("05:00", "07:00"))
    found = assess(a, b, POLICY)
    assert found is not None and found.kind is ConflictKind.CONVERGENCE
    assert found.window.start == found.window.end  # the instant of closest approach
    assert abs((found.window.start - datetime(2017, 11, 1, 6, tzinfo=UTC)).total_seconds()) < 60
    assert distance_m(*found.location_a, 40.5, 34.5) < 200


def test_paths_that_cross_hours_apart_do_not_conflict() -> None:
    a = declaration("sdf", line((40.0, 34.5), (41.0, 34.5)), times=hours("05:00", "07:00"))
    b = declaration("saa", line((40.5, 34.0), (40.5, 35.0)), times=hours("11:00", "13:00"))
    assert assess(a, b, POLICY) is None


def test_an_untimed_route_still_occupies_its_whole_shape() -> None:
    a = declaration("sdf", line((40.0, 34.5), (41.0, 34.5)))
    b = declaration("saa", line((40.5, 34.0), (40.5, 35.0)))
    found = assess(a, b, POLICY)
    assert found is not None and found.kind is ConflictKind.PROXIMITY


def test_head_on_movers_meet_where_and_when_the_arithmetic_says() -> None:
    # 100 km apart on the equator, closing at 10 + 15 m/s: they meet after 4000 s, 40 km from a's start
    a = declaration("sdf", line((0.0, 0.0), (0.898, 0.0)), speed_mps=10, start="2017-11-01T06:00:00Z")
    b = declaration("saa", line((0.898, 0.0), (0.0, 0.0)), speed_mps=15, start="2017-11-01T06:00:00Z")
    found = assess(a, b, POLICY)
    assert found is not None and found.distance_m < 0.01
    met_after_s = (found.window.start - datetime(2017, 11, 1, 6, tzinfo=UTC)).total_seconds()
    total_m = distance_m(0.0, 0.0, 0.898, 0.0)
    assert abs(met_after_s - total_m / 25) <= 2
    assert abs(distance_m(0.0, 0.0, *found.location_a) - 10 * total_m / 25) < 50


def test_a_mover_waits_at_its_start_before_it_sets_off() -> None:
    # b sets off at 10:00 but its window opens at 00:00: until then it waits at its first vertex, on a's path
    a = declaration("sdf", line((40.0, 34.5), (41.0, 34.5)), times=hours("05:00", "07:00"))
    b = declaration("saa", line((40.5, 34.5), (40.5, 35.5)), times=hours("10:00", "12:00"))
    found = assess(a, b, POLICY)
    assert found is not None and found.kind is ConflictKind.CONVERGENCE
    assert abs((found.window.start - datetime(2017, 11, 1, 6, tzinfo=UTC)).total_seconds()) < 120


def test_a_route_through_an_area_conflicts_when_it_passes_only_while_the_area_is_active() -> None:
    square = {"type": "Polygon", "coordinates": [[[40.4, 34.4], [40.6, 34.4], [40.6, 34.6], [40.4, 34.6],
                                                  [40.4, 34.4]]]}  # fmt: skip
    route = declaration("sdf", line((40.0, 34.5), (41.0, 34.5)), times=hours("05:00", "07:00"))
    during = declaration("saa", square, kind="area", start="2017-11-01T05:30:00Z", end="2017-11-01T06:30:00Z")
    after = declaration("saa", square, kind="area", start="2017-11-01T08:00:00Z", end="2017-11-01T09:00:00Z")
    found = assess(route, during, POLICY)
    assert found is not None and found.kind is ConflictKind.CONVERGENCE and found.distance_m == 0
    assert datetime(2017, 11, 1, 5, 30, tzinfo=UTC) <= found.window.start <= datetime(2017, 11, 1, 6, 30, tzinfo=UTC)
    # the route's window lasts all day: after arriving it waits at its end, 40 km from the area: no conflict
    assert assess(route, after, POLICY) is None
    assert assess(after, route, POLICY) is None  # either order


def test_movers_across_the_antimeridian() -> None:
    a = declaration("sdf", line((179.5, -0.5), (-179.5, 0.5)), times=hours("05:00", "07:00"))
    b = declaration("saa", line((179.5, 0.5), (-179.5, -0.5)), times=hours("05:00", "07:00"))
    found = assess(a, b, POLICY)
    assert found is not None and found.distance_m < 0.01
    lon, lat = found.location_a
    assert abs(abs(lon) - 180) < 0.01 and abs(lat) < 0.01


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_closest_approach_agrees_with_fine_sampling_of_geodesic_distances(seed: int) -> None:
    rng = random.Random(seed)
    lon0, lat0 = rng.uniform(-180, 180), rng.uniform(-80, 80)

    def route(party: str) -> Declaration:
        pts = [(lon0 + rng.uniform(-0.5, 0.5), lat0 + rng.uniform(-0.5, 0.5)) for _ in range(rng.randint(2, 4))]
        pts = [((lon + 180) % 360 - 180, lat) for lon, lat in pts]
        times = sorted(rng.sample(range(5 * 60, 9 * 60), len(pts)))
        return declaration(party, line(*pts), times=[f"2017-11-01T{m // 60:02d}:{m % 60:02d}:00Z" for m in times])

    a, b = route("a"), route("b")
    ta, tb = trajectory(a.spec), trajectory(b.spec)
    assert ta is not None and tb is not None
    start, end = NOW.timestamp(), NOW.timestamp() + 86_400
    found = closest_approach(ta, tb, start, end, reach_m=1e7)
    assert found is not None
    sampled = min(
        distance_m(*to_lonlat(ta.at(t)), *to_lonlat(tb.at(t)))
        for t in (start + 5 * 3600 + i * 2.0 for i in range(2 * 3600))
    )
    assert found.distance_m <= sampled + 1.0  # never worse than sampling every 2 s (allowing 1 m)
    # and it is a real distance between the two positions at the reported time
    again = distance_m(*to_lonlat(ta.at(found.t_s)), *to_lonlat(tb.at(found.t_s)))
    assert abs(again - found.distance_m) < 1e-6
