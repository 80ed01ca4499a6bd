"""Coverings (domain/covering.py): conservative — every pair that conflicts exactly still conflicts when either side
is compared as its covering — and coarse: nothing in a covering changes while a vertex stays in its cell."""

from __future__ import annotations

import random

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.domain.conflicts import assess, assess_shown
from deconfliction.domain.covering import (
    DisclosureSteps,
    cell_reach_m,
    covering,
    coverings,
    growth_bound_m,
    resolution_for,
)
from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
from deconfliction.domain.geodesy import distance_m
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.timewindow import parse_time

STEPS = DisclosureSteps()
LIMITS = DeclarationLimits()
POLICY = SeparationPolicy()
AT = parse_time("2017-09-09T00:00:00Z", "t")


def declaration(party: str, geometry: dict[str, object], kind: str, **props: object) -> Declaration:
    properties = {"kind": kind, "start": "2017-09-09T05:17:00Z", "end": "2017-09-09T09:41:00Z", **props}
    spec = parse_feature({"type": "Feature", "geometry": geometry, "properties": properties}, LIMITS)
    return Declaration(1, party + "-d", party, 1, spec, DeclarationStatus.ACTIVE, AT, AT)


def test_resolution_follows_the_precision() -> None:
    assert [resolution_for(p) for p in (100, 1000, 5000, 50_000)] == [9, 7, 5, 3]


def test_a_cells_corners_lie_within_the_growth_bound_everywhere_pentagons_included() -> None:
    rng = random.Random(7)
    for precision in (100, 1000, 50_000):
        res = resolution_for(precision)
        cells = list(h3.get_pentagons(res)) + [
            h3.latlng_to_cell(rng.uniform(-89, 89), rng.uniform(-180, 180), res) for _ in range(200)
        ]
        for cell in cells:
            lat, lon = h3.cell_to_latlng(cell)
            reach = max(distance_m(lon, lat, b, a) for a, b in h3.cell_to_boundary(cell))
            assert reach * 1.1 + 1 <= cell_reach_m(resolution_for(precision))
            assert 2 * reach <= growth_bound_m(precision) - 2 * precision


positions = st.tuples(st.floats(-179.9, 179.9), st.floats(-85, 85))


@settings(max_examples=150, deadline=None)
@given(
    a=positions,
    bearing=st.floats(0, 360),
    gap_m=st.floats(0, 8000),
    radius_a=st.floats(0, 3000),
    radius_b=st.floats(0, 3000),
    separation=st.floats(0, 5000),
    precision=st.sampled_from([100.0, 1000.0, 5000.0]),
)
def test_privacy_never_costs_safety(
    a: tuple[float, float], bearing: float, gap_m: float, radius_a: float, radius_b: float, separation: float,
    precision: float,
) -> None:  # fmt: skip
    """Two sites (a square area for b) that conflict exactly still conflict when compared as coverings."""
    from deconfliction.domain.geodesy import destination

    b = destination(*a, bearing, gap_m)
    da = declaration("sdf", {"type": "Point", "coordinates": list(a)}, "site", radius_m=radius_a,
                     separation_m=separation, precision_m=precision)  # fmt: skip
    ring = [list(destination(*b, az, 400.0)) for az in (45, 135, 225, 315)]
    db = declaration("saa", {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, "area", radius_m=radius_b)
    exact = assess(da, db, POLICY)
    if exact is None:
        return
    ca, cb = coverings(da.spec, STEPS), coverings(db.spec, STEPS)
    for shown_a, shown_b in ((ca, (db.spec,)), ((da.spec,), cb), (ca, cb)):
        found = assess_shown(da, db, shown_a, shown_b, POLICY)
        assert found is not None, (shown_a is ca, shown_b is cb)
        assert found.distance_m <= exact.distance_m
        assert found.required_m >= exact.required_m


def test_a_covering_is_the_same_wherever_the_vertex_lies_in_its_cell() -> None:
    cell = h3.latlng_to_cell(35.3352, 40.1405, 7)
    lat, lon = h3.cell_to_latlng(cell)
    boundary = h3.cell_to_boundary(cell)
    inside = [(lon + (b[1] - lon) * 0.9, lat + (b[0] - lat) * 0.9) for b in boundary] + [(lon, lat)]
    made = {
        repr(covering(declaration("sdf", {"type": "Point", "coordinates": list(p)}, "site", radius_m=120).spec, STEPS))
        for p in inside
    }
    assert len(made) == 1


def test_window_and_band_widen_to_whole_steps() -> None:
    d = declaration("sdf", {"type": "Point", "coordinates": [40, 35]}, "site",
                    altitude={"lower_m": 130, "upper_m": 1210})  # fmt: skip
    c = covering(d.spec, STEPS)
    assert (c.window.start.hour, c.window.start.minute, c.window.end and c.window.end.hour) == (5, 0, 10)
    assert (c.altitude.lower_m, c.altitude.upper_m) == (100, 1300)
    assert c.timing is None and c.name == "" and c.radius_m % 1000 == 0


@settings(max_examples=60, deadline=None)
@given(
    depart_h=st.floats(0, 20),
    duration_s=st.floats(60, 30_000),
    offset_h=st.floats(-3, 3),
    gap_m=st.floats(0, 5000),
)
def test_a_timed_route_conflicts_as_its_pieces_whenever_it_does_exactly(
    depart_h: float, duration_s: float, offset_h: float, gap_m: float
) -> None:
    """A site beside a timed route for 20 minutes: whenever the route passes within separation in that time, its
    pieces — each the part of the path it travels in an hour, untimed over that hour — conflict with it too."""
    from datetime import timedelta

    from deconfliction.domain.timewindow import format_time

    base = parse_time("2017-09-09T00:00:00Z", "t") + timedelta(hours=depart_h)
    times = [format_time(base), format_time(base + timedelta(seconds=duration_s))]
    route = declaration("sdf", {"type": "LineString", "coordinates": [[40.0, 35.0], [40.6, 35.2]]}, "route",
                        times=times, start=format_time(base - timedelta(hours=2)),
                        end=format_time(base + timedelta(hours=12)))  # fmt: skip
    other_start = base + timedelta(hours=offset_h)
    crossing = declaration("saa", {"type": "Point", "coordinates": [40.3, 35.1 + gap_m / 111_000]}, "site",
                           start=format_time(other_start),
                           end=format_time(other_start + timedelta(minutes=20)))  # fmt: skip
    exact = assess(route, crossing, POLICY)
    pieces = coverings(route.spec, STEPS)
    assert len(pieces) >= 3 and all(p.timing is None for p in pieces)
    if exact is not None:
        assert assess_shown(route, crossing, pieces, (crossing.spec,), POLICY) is not None
