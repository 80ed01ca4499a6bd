"""Agreed lines, pure: which side a shape is on, how far it reaches across, the rule, validation of a line.

Figures are checked against brute force: the line's arcs (and their continuations) sampled every few metres on the
sphere of geodetic coordinates, and GeographicLib distances from the shape's point to every sample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from deconfliction.domain.errors import InvalidInput, TooLarge
from deconfliction.domain.geodesy import WGS84, angle_rad, to_lonlat, unit_vector
from deconfliction.domain.geometry import Shape, parse_geometry
from deconfliction.domain.line_sides import Keep, LineGeometry
from deconfliction.domain.lines import LineLimits, LineTerms, parse_proposal

EUPHRATES = [(39.01, 35.95), (39.66, 35.74), (40.14, 35.34), (40.43, 35.16), (40.45, 35.02), (40.59, 34.92),
             (40.92, 34.45)]  # fmt: skip
LonLat = tuple[float, float]


def line_of(coords: Sequence[Sequence[float]]) -> LineGeometry:
    geometry = LineGeometry(parse_geometry({"type": "LineString", "coordinates": [list(c) for c in coords]}))
    geometry.check("geometry")
    return geometry


def point(lon: float, lat: float) -> Shape:
    return parse_geometry({"type": "Point", "coordinates": [lon, lat]})


def polygon(ring: Sequence[LonLat]) -> Shape:
    return parse_geometry({"type": "Polygon", "coordinates": [[list(p) for p in [*ring, ring[0]]]]})


def great_circle(a: LonLat, b: LonLat, start_rad: float, stop_rad: float, step_m: float) -> list[LonLat]:
    """Points of the great circle from a toward b at arcs start..stop from a (negative: behind a)."""
    u, v = unit_vector(*a), unit_vector(*b)
    k = sum(x * y for x, y in zip(u, v, strict=True))
    t = [y - k * x for x, y in zip(u, v, strict=True)]
    norm = math.sqrt(sum(x * x for x in t))
    t = [x / norm for x in t]
    n = max(2, int((stop_rad - start_rad) * 6.37e6 / step_m))
    out = []
    for theta in np.linspace(start_rad, stop_rad, n):
        c, s = math.cos(theta), math.sin(theta)
        out.append(to_lonlat((u[0] * c + t[0] * s, u[1] * c + t[1] * s, u[2] * c + t[2] * s)))
    return out


def samples(coords: Sequence[LonLat], step_m: float = 20.0, beyond_rad: float = 0.02) -> tuple[Any, Any]:
    """The continued line, sampled: its arcs, and `beyond_rad` of arc past each end."""
    pts = great_circle(coords[0], coords[1], -beyond_rad, 0.0, step_m)
    for a, b in itertools.pairwise(coords):
        pts += great_circle(a, b, 0.0, angle_rad(unit_vector(*a), unit_vector(*b)), step_m)
    pts += great_circle(coords[-1], coords[-2], -beyond_rad, 0.0, step_m)
    arr = np.array(pts)
    return arr[:, 0], arr[:, 1]


def brute_m(p: LonLat, line_samples: tuple[Any, Any]) -> float:
    lons, lats = line_samples
    _, _, d = WGS84.inv(np.full_like(lons, p[0]), np.full_like(lats, p[1]), lons, lats)
    return float(np.min(d))


def close(ours: float, brute: float) -> bool:
    """Within 0.1 % or 1 m; the brute force's sampling overestimates by a few centimetres at most."""
    return abs(abs(ours) - brute) <= max(1.0, 1e-3 * brute)


def test_sides_of_a_straight_line_along_the_equator_and_beyond_its_ends() -> None:
    line = line_of([(0.0, 0.0), (1.0, 0.0)])  # walking east: north is on the left
    north_m = float(WGS84.inv(0.5, 0.01, 0.5, 0.0)[2])
    for lon in (0.5, 3.0, -2.0):  # on the line's span, and beyond each end: the continued line still divides
        north = line.reach(point(lon, 0.01), 0.0, Keep.RIGHT)
        south = line.reach(point(lon, -0.01), 0.0, Keep.RIGHT)
        assert north is not None and south is not None
        assert north.depth_m == pytest.approx(north_m, rel=1e-6)  # to the continued line, not the end vertex
        assert south.depth_m == pytest.approx(-north_m, rel=1e-6)
        assert north.on_line[1] == pytest.approx(0.0, abs=1e-9) and north.on_line[0] == pytest.approx(lon)
        keeping_left = line.reach(point(lon, 0.01), 0.0, Keep.LEFT)
        assert keeping_left is not None and keeping_left.depth_m == pytest.approx(-north_m, rel=1e-6)
    on = line.reach(point(0.25, 0.0), 0.0, Keep.LEFT)
    assert on is not None and on.depth_m == 0.0


def test_the_extension_follows_the_great_circle_of_the_end_segment() -> None:
    line = line_of([(0.0, 0.0), (1.0, 1.0)])  # heading north-east: beyond (1, 1) the line goes on north-east
    beyond = line.reach(point(2.0, 2.1), 0.0, Keep.RIGHT)  # just left (north-west) of the continuation
    assert beyond is not None and beyond.depth_m > 0
    assert close(beyond.depth_m, brute_m((2.0, 2.1), samples([(0.0, 0.0), (1.0, 1.0)], beyond_rad=0.05)))
    assert angle_rad(unit_vector(*beyond.on_line), unit_vector(2.05, 2.05)) < 1e-3


def test_a_polygon_whose_vertices_keep_to_their_side_still_crosses_at_a_bend() -> None:
    v_line = [(-1.0, -1.0), (0.0, 0.0), (1.0, -1.0)]  # up to the apex and down: left is above
    line = line_of(v_line)
    ring = [(-0.2, -0.1), (0.2, -0.1), (0.2, 0.5), (-0.2, 0.5)]  # its lower edge passes under the apex
    for vertex in ring:
        alone = line.reach(point(*vertex), 0.0, Keep.LEFT)
        assert alone is not None and alone.depth_m < 0  # every vertex on the left
    crossing = line.reach(polygon(ring), 0.0, Keep.LEFT)
    assert crossing is not None and crossing.depth_m > 7000
    assert crossing.location == pytest.approx((0.0, -0.1), abs=1e-6)  # right under the apex
    assert close(crossing.depth_m, brute_m((0.0, -0.1), samples(v_line)))


def test_the_euphrates_figures_match_brute_force() -> None:
    line = line_of(EUPHRATES)
    dense = samples(EUPHRATES, step_m=25.0)
    airport, east_bank, hasakah = (40.18, 35.28), (40.30, 35.32), (40.75, 36.50)
    for p, sdf_sign in ((airport, 1), (east_bank, -1), (hasakah, -1), ((40.14, 35.32), 1), ((40.46, 35.09), -1)):
        sdf = line.reach(point(*p), 0.0, Keep.LEFT)  # sdf keeps north/east: left going downstream
        saa = line.reach(point(*p), 0.0, Keep.RIGHT)
        assert sdf is not None and saa is not None
        assert sdf.depth_m == pytest.approx(-saa.depth_m)
        assert close(sdf.depth_m, brute_m(p, dense)), p
        assert math.copysign(1, sdf.depth_m) == sdf_sign


def test_a_polygon_across_several_bends_reaches_as_far_as_its_farthest_point() -> None:
    line = line_of(EUPHRATES)
    ring = [(40.10, 35.40), (40.50, 35.25), (40.60, 34.85), (40.40, 35.00)]  # straddles the river's bends
    found = line.reach(polygon(ring), 0.0, Keep.RIGHT)  # for saa: how far north-east it reaches
    assert found is not None
    dense = samples(EUPHRATES, step_m=25.0)
    vertices = [(p, line.reach(point(*p), 0.0, Keep.RIGHT)) for p in ring]
    best = max(vertices, key=lambda v: v[1].depth_m if v[1] else -math.inf)
    assert best[1] is not None and found.depth_m == pytest.approx(best[1].depth_m, rel=1e-6, abs=0.05)
    assert close(found.depth_m, brute_m(found.location, dense))


def test_a_long_winding_line_gives_the_same_figures_as_brute_force() -> None:
    coords = [(39.0 + 1.9 * i / 300, 35.9 - 1.5 * i / 300 + 0.02 * math.sin(i / 3)) for i in range(300)]
    line = line_of(coords)  # 300 vertices: only the segments near a shape are examined
    dense = samples(coords, step_m=25.0)
    ring = [
        (40.0 + 0.1 * math.cos(2 * math.pi * i / 40), 35.2 + 0.08 * math.sin(2 * math.pi * i / 40)) for i in range(40)
    ]
    for keep in Keep:
        found = line.reach(polygon(ring), 100.0, keep)
        assert found is not None and found.depth_m > 100.0
        corners = [line.reach(point(*p), 100.0, keep) for p in ring]
        assert found.depth_m >= max(c.depth_m for c in corners if c is not None) - 0.01
        # the location: the farthest point moved on by the radius (a winding line may come back within it)
        inner = line.reach(point(*found.location), 0.0, keep)
        assert inner is not None and found.depth_m - 100.5 <= inner.depth_m <= found.depth_m + 0.5
    for p in ((40.2, 35.5), (39.5, 35.0), (40.0, 35.2)):
        near = line.reach(point(*p), 0.0, Keep.LEFT)
        assert near is not None and close(near.depth_m, brute_m(p, dense))


def test_the_rule_is_strictly_beyond_the_tolerance_and_the_radius_counts() -> None:
    shape = parse_geometry({"type": "LineString", "coordinates": [list(c) for c in EUPHRATES]})
    airport = point(40.18, 35.28)
    depth = LineGeometry(shape).reach(airport, 0.0, Keep.LEFT)
    assert depth is not None and 3000 < depth.depth_m < 3200
    under = LineTerms("sdf", "saa", shape, "sdf", "saa", depth.depth_m - 0.5)
    over = LineTerms("sdf", "saa", shape, "sdf", "saa", depth.depth_m + 0.5)
    found = under.crossing("sdf", airport, 0.0)
    assert found is not None and found.depth_m == pytest.approx(depth.depth_m)
    assert over.crossing("sdf", airport, 0.0) is None
    assert under.crossing("saa", airport, 0.0) is None  # saa at its own airport
    # saa's airport, grown, reaches across the river by radius - distance
    terms = LineTerms("sdf", "saa", shape, "sdf", "saa", 500.0)
    assert terms.crossing("saa", airport, depth.depth_m + 499.0) is None
    grown = terms.crossing("saa", airport, depth.depth_m + 501.0)
    assert grown is not None and grown.depth_m == pytest.approx(501.0, abs=0.01)
    beyond = LineGeometry(shape).reach(point(*grown.location), 0.0, Keep.RIGHT)
    assert beyond is not None and beyond.depth_m == pytest.approx(501.0, abs=0.5)  # the location is across


def test_a_line_across_the_antimeridian() -> None:
    coords = [(179.8, -0.5), (-179.8, 0.5)]  # north-east across ±180°: north-west is on the left
    line = line_of(coords)
    dense = samples(coords)
    west, east = (179.9, 0.3), (-179.95, -0.3)
    found_west = line.reach(point(*west), 0.0, Keep.RIGHT)
    found_east = line.reach(point(*east), 0.0, Keep.RIGHT)
    assert found_west is not None and found_west.depth_m > 0  # left of the line: across, for the right party
    assert found_east is not None and found_east.depth_m < 0
    assert close(found_west.depth_m, brute_m(west, dense)) and close(found_east.depth_m, brute_m(east, dense))
    across_180 = polygon([(179.99, 0.2), (-179.9, 0.2), (-179.9, 0.3), (179.99, 0.3)])
    found = line.reach(across_180, 0.0, Keep.LEFT)
    assert found is not None and found.depth_m > 0  # its east part is right of the line


def test_a_line_over_the_pole_divides_too() -> None:
    line = line_of([(0.0, 89.0), (180.0, 89.0)])  # north along longitude 0, over the pole: west is on the left
    left = line.reach(point(-90.0, 89.5), 0.0, Keep.RIGHT)
    right = line.reach(point(90.0, 89.5), 0.0, Keep.RIGHT)
    assert left is not None and right is not None
    assert left.depth_m == pytest.approx(-right.depth_m, rel=1e-6) and left.depth_m > 0


def test_a_shape_beyond_the_lines_reach_is_not_judged() -> None:
    line = line_of(EUPHRATES)
    assert line.reach(point(-120.0, 35.0), 0.0, Keep.LEFT) is None


@pytest.mark.parametrize(
    ("coords", "words"),
    [
        ([(0, 0), (1, 0), (1, 1), (0.5, -1)], "crosses itself"),  # a loop
        ([(0, 0), (1, 0), (0.5, 0)], "crosses itself"),  # folds back on itself
        ([(0.2, 1), (0, 0), (1, 0), (0.8, 1)], "crosses itself"),  # its continuations meet
        ([(0, 0), (0.000001, 0), (1, 0)], "less than 1 m apart"),
    ],
)
def test_lines_that_do_not_divide_the_map_are_refused(coords: list[LonLat], words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        line_of(coords)
    assert caught.value.field == "geometry"


def test_parse_proposal_names_fields_and_limits() -> None:
    body = {"with": "saa", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 0]]}, "left": "sdf"}
    proposal = parse_proposal("sdf", body, LineLimits())
    assert (proposal.terms.left, proposal.terms.right, proposal.terms.tolerance_m) == ("sdf", "saa", 0.0)
    many = {**body, "geometry": {"type": "LineString", "coordinates": [[i * 0.001, 0] for i in range(20)]}}
    with pytest.raises(TooLarge) as caught:
        parse_proposal("sdf", many, LineLimits(max_vertices=10))
    assert caught.value.field == "geometry.coordinates"
    with pytest.raises(InvalidInput) as caught:
        parse_proposal("sdf", {**body, "signature": "x", "salt": "0" * 32}, LineLimits())
    assert caught.value.field == "id"


@pytest.mark.parametrize(
    "coords",
    [EUPHRATES, [(39.0 + 1.9 * i / 300, 35.9 - 1.5 * i / 300 + 0.02 * math.sin(i / 3)) for i in range(300)]],
    ids=["euphrates", "winding"],
)
def test_the_planar_depth_bounds_hold_the_geodesic_depth(coords: list[LonLat]) -> None:
    """What lets a moving track skip the exact check: the cheap bounds hold the geodesic signed distance to the
    continued line (brute force on WGS84, sampled every 200 m), near the line and hundreds of km from it, on both
    sides, for both parties; and they agree with the exact rule near the line."""
    line = line_of(coords)
    dense = samples(coords, step_m=200.0, beyond_rad=0.3)
    rng = np.random.default_rng(7)
    near = rng.integers(0, len(dense[0]), 40)  # and points within ~5 km of it
    lons = [*rng.uniform(36.0, 44.0, 60), *(dense[0][near] + rng.uniform(-0.05, 0.05, 40))]
    lats = [*rng.uniform(32.0, 38.5, 60), *(dense[1][near] + rng.uniform(-0.05, 0.05, 40))]
    for lon, lat in zip(lons, lats, strict=True):
        brute = brute_m((lon, lat), dense)
        for keep in Keep:
            bounds = line.depth_bounds(unit_vector(lon, lat), keep)
            exact = line.reach(point(lon, lat), 0.0, keep)
            assert bounds is not None and exact is not None
            low, high = bounds
            signed = math.copysign(brute, exact.depth_m)
            toward_line = signed - math.copysign(min(100.0, brute), signed)  # the samples overestimate by ≤ 100 m
            assert low <= max(signed, toward_line) and high >= min(signed, toward_line), (lon, lat, keep)
            if angle_rad(line.plane.centre, unit_vector(lon, lat)) < 0.05:  # within ~300 km of the line's centre
                assert high - low <= 0.04 * brute + 1.0  # tight enough to decide nearly everywhere
            if brute < 20_000:
                assert low <= exact.depth_m <= high


def test_a_point_beyond_the_lines_reach_has_no_depth_bounds() -> None:
    assert line_of(EUPHRATES).depth_bounds(unit_vector(-140.0, -30.0), Keep.LEFT) is None
