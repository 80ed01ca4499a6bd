"""Shape.boxes(): conservative lon/lat boxes for the spatial index — never missing a point within
grow_m."""

from __future__ import annotations

import math
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.domain.geometry import Box, Shape, parse_geometry

GEOD = Geod(ellps="WGS84")


def _fwd(lon: float, lat: float, az: float, dist: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, dist)
    return (float(lon2) + 180.0) % 360.0 - 180.0, float(lat2)


def _covered(boxes: list[Box], lon: float, lat: float) -> bool:
    return any(b[0] <= lon <= b[2] and b[1] <= lat <= b[3] for b in boxes)


def _on_edges(shape: Shape, rng: random.Random, n: int) -> list[tuple[float, float]]:
    """Vertices and points along the great-circle arcs (slerp on the sphere of geodetic
    coordinates)."""
    out = list(shape.lonlat)
    for _ in range(n):
        if not shape.edges:
            break
        i, j = rng.choice(shape.edges)
        u, v = shape.xyz[i], shape.xyz[j]
        w = math.acos(max(-1.0, min(1.0, sum(a * b for a, b in zip(u, v, strict=True)))))
        t = rng.random()
        if w < 1e-12:
            continue
        p = [(math.sin((1 - t) * w) * a + math.sin(t * w) * b) / math.sin(w) for a, b in zip(u, v, strict=True)]
        out.append(
            (
                math.degrees(math.atan2(p[1], p[0])),
                math.degrees(math.atan2(p[2], math.hypot(p[0], p[1]))),
            )
        )
    return out


@st.composite
def shapes(draw: st.DrawFn) -> dict[str, Any]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    lon = draw(st.sampled_from([draw(st.floats(-180, 180)), 179.99, -179.99]))
    lat = draw(st.sampled_from([draw(st.floats(-89, 89)), 89.7, -89.5, 0.0]))
    size = draw(st.floats(10, 800_000))
    kind = draw(st.sampled_from(["Point", "LineString", "Polygon"]))
    if kind == "Point":
        return {"type": "Point", "coordinates": [lon, lat]}
    n = rng.randint(3, 8)
    base = rng.uniform(0, 360)
    pts = [_fwd(lon, lat, base + 360.0 * (k + rng.uniform(0.1, 0.9)) / n, size * rng.uniform(0.3, 1)) for k in range(n)]
    if kind == "LineString":
        return {"type": "LineString", "coordinates": [list(p) for p in pts]}
    return {"type": "Polygon", "coordinates": [[*map(list, pts), list(pts[0])]]}


@settings(max_examples=300, deadline=None)
@given(shapes(), st.sampled_from([0.0, 1.0, 500.0, 20_000.0, 300_000.0]), st.integers(0, 2**32))
def test_boxes_cover_every_point_within_grow_m(geometry: dict[str, Any], grow_m: float, seed: int) -> None:
    shape = parse_geometry(geometry, max_area_m2=1e15)
    boxes = shape.boxes(grow_m)
    for b in boxes:
        assert -180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90
    rng = random.Random(seed)
    for lon, lat in _on_edges(shape, rng, 40):
        assert _covered(boxes, lon, lat), (lon, lat, boxes)
        for _ in range(8):
            q = _fwd(
                lon,
                lat,
                rng.uniform(0, 360),
                grow_m * math.sqrt(rng.random()) if rng.random() < 0.7 else grow_m,
            )
            assert _covered(boxes, *q), (lon, lat, q, boxes)


def test_arc_bulging_poleward_is_covered() -> None:
    s = parse_geometry({"type": "LineString", "coordinates": [[-40, 60], [40, 60]]}, max_area_m2=1e15)
    [(_, _, _, max_lat)] = s.boxes(0)
    assert max_lat > 66.0  # the great circle peaks at 66.1° N over lon 0


def test_boxes_split_at_the_antimeridian_and_widen_at_poles() -> None:
    box = parse_geometry(
        {
            "type": "Polygon",
            "coordinates": [[[179.9, 0], [-179.9, 0], [-179.9, 1], [179.9, 1], [179.9, 0]]],
        }
    )
    parts = box.boxes(100)
    assert len(parts) == 2 and parts[0][2] == 180 and parts[1][0] == -180
    assert parts[0][0] < 179.9 and parts[1][2] > -179.9
    near_pole = parse_geometry({"type": "Point", "coordinates": [10, 89.99]})
    assert near_pole.boxes(0)[0][0] > 9.9
    assert near_pole.boxes(5_000) == [(-180.0, near_pole.boxes(5_000)[0][1], 180.0, 90.0)]


def test_small_shape_gets_a_tight_box() -> None:
    s = parse_geometry({"type": "Point", "coordinates": [40.0, 35.0]})
    [(_, _, x1, y1)] = s.boxes(1000)
    assert 0.009 < y1 - 35.0 < 0.0095 and 0.011 < x1 - 40.0 < 0.0115
