"""parse_geometry(): what is accepted, how it is normalised, and a corpus of invalid input with
precise errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pyproj import Geod

from deconfliction.domain.errors import InvalidInput, TooLarge
from deconfliction.domain.geometry import nearest, parse_geometry

GEOD = Geod(ellps="WGS84")
SQUARE = [[40.30, 35.45], [40.55, 35.45], [40.55, 35.70], [40.30, 35.70], [40.30, 35.45]]


def poly(*rings: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def test_polygon_is_parsed_with_area_count_and_centroid() -> None:
    s = parse_geometry(poly(SQUARE))
    assert s.geom_type == "Polygon"
    assert s.vertex_count == 5
    expected, _ = GEOD.polygon_area_perimeter([p[0] for p in SQUARE], [p[1] for p in SQUARE])
    assert s.area_m2 == pytest.approx(abs(expected))
    lon, lat = s.centroid()
    assert 40.30 < lon < 40.55 and 35.45 < lat < 35.70
    assert s.geojson() == {"type": "Polygon", "coordinates": [SQUARE]}


def test_geojson_keeps_positions_as_given_and_drops_altitude() -> None:
    coords = [[10, 1, 300], [10, 1], [11, 1.5, 0]]
    s = parse_geometry({"type": "LineString", "coordinates": coords})
    assert s.geojson() == {
        "type": "LineString",
        "coordinates": [[10.0, 1.0], [10.0, 1.0], [11.0, 1.5]],
    }
    assert all(isinstance(v, float) for p in s.geojson()["coordinates"] for v in p)
    assert s.vertex_count == 3 and s.area_m2 == 0.0


def test_holes_reduce_area() -> None:
    hole = [[40.35, 35.50], [40.45, 35.50], [40.45, 35.60], [40.35, 35.60], [40.35, 35.50]]
    assert parse_geometry(poly(SQUARE, hole)).area_m2 < parse_geometry(poly(SQUARE)).area_m2


def test_ring_across_the_antimeridian_is_a_small_box() -> None:
    s = parse_geometry(poly([[179.9, 0], [-179.9, 0], [-179.9, 1], [179.9, 1], [179.9, 0]]))
    assert s.area_m2 == pytest.approx(0.2 * 111_320 * 110_574, rel=0.01)
    lon, _ = s.centroid()
    assert abs(lon) > 179.9


def test_cut_multipolygon_is_accepted() -> None:
    s = parse_geometry(
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179.9, 0], [180, 0], [180, 1], [179.9, 1], [179.9, 0]]],
                [[[-180, 0], [-179.9, 0], [-179.9, 1], [-180, 1], [-180, 0]]],
            ],
        }
    )
    assert s.area_m2 == pytest.approx(0.2 * 111_320 * 110_574, rel=0.01)


def test_ring_around_a_pole() -> None:
    ring = [[lon, 88.0] for lon in range(-180, 180, 30)] + [[-180, 88.0]]
    s = parse_geometry(poly(ring))
    inside = parse_geometry({"type": "Point", "coordinates": [0, 90]})
    assert nearest(s, inside).distance_m == 0.0  # type: ignore[union-attr]
    assert s.area_m2 > 0


def test_consecutive_duplicates_are_tolerated() -> None:
    ring = [SQUARE[0], SQUARE[1], SQUARE[1], SQUARE[2], SQUARE[3], SQUARE[4]]
    s = parse_geometry(poly(ring))
    assert s.vertex_count == 6
    assert s.area_m2 == pytest.approx(parse_geometry(poly(SQUARE)).area_m2)


def _error(geometry: Any, **limits: Any) -> InvalidInput | TooLarge:
    with pytest.raises((InvalidInput, TooLarge)) as info:
        parse_geometry(geometry, **limits)
    err = info.value
    assert isinstance(err, InvalidInput | TooLarge)
    assert err.field is not None and err.field.startswith("geometry")
    return err


NAN, INF = float("nan"), float("inf")
CORPUS: list[tuple[str, Any, type[Exception], str, list[str]]] = [
    (
        "unclosed ring",
        poly([*SQUARE[:-1], [40.5, 35.7]]),
        InvalidInput,
        "geometry.coordinates[0]",
        ["ring 0 is not closed", "[40.3, 35.45]", "[40.5, 35.7]"],
    ),
    (
        "bow-tie",
        poly([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]),
        InvalidInput,
        "geometry.coordinates[0]",
        ["ring 0 self-intersects near [0.5", ", 0.5"],
    ),
    (
        "lat 91",
        {"type": "Point", "coordinates": [10, 91]},
        InvalidInput,
        "geometry.coordinates",
        ["latitude 91.0", "outside -90..90"],
    ),
    (
        "lon 181",
        {"type": "LineString", "coordinates": [[0, 0], [181, 0]]},
        InvalidInput,
        "geometry.coordinates[1]",
        ["longitude 181.0", "outside -180..180"],
    ),
    (
        "NaN",
        poly([[0, 0], [1, 0], [1, NAN], [0, 0]]),
        InvalidInput,
        "geometry.coordinates[0][2]",
        ["latitude", "not a finite number (NaN)"],
    ),
    (
        "inf",
        {"type": "Point", "coordinates": [INF, 0]},
        InvalidInput,
        "geometry.coordinates",
        ["longitude", "not a finite number (inf)"],
    ),
    (
        "string",
        {"type": "Point", "coordinates": ["10", 0]},
        InvalidInput,
        "geometry.coordinates",
        ["longitude", "a string, not a number"],
    ),
    (
        "bool",
        {"type": "Point", "coordinates": [10, True]},
        InvalidInput,
        "geometry.coordinates",
        ["latitude", "a boolean, not a number"],
    ),
    (
        "None",
        {"type": "Point", "coordinates": [None, 1]},
        InvalidInput,
        "geometry.coordinates",
        ["longitude", "null"],
    ),
    (
        "4 numbers",
        {"type": "Point", "coordinates": [1, 2, 3, 4]},
        InvalidInput,
        "geometry.coordinates",
        ["2 or 3 numbers", "has 4"],
    ),
    (
        "3-point ring",
        poly([[0, 0], [1, 0], [0, 0]]),
        InvalidInput,
        "geometry.coordinates[0]",
        ["ring 0 has 3 positions; a linear ring needs at least 4"],
    ),
    ("empty", poly(), InvalidInput, "geometry.coordinates", ["is empty"]),
    ("empty ring", poly([]), InvalidInput, "geometry.coordinates[0]", ["is empty"]),
    (
        "nested wrongly",
        {"type": "Polygon", "coordinates": [[0, 0], [1, 0], [1, 1], [0, 0]]},
        InvalidInput,
        "geometry.coordinates[0][0]",
        ["must be a position", "the number 0"],
    ),
    (
        "point as list of lists",
        {"type": "Point", "coordinates": [[1, 2]]},
        InvalidInput,
        "geometry.coordinates",
        ["2 or 3 numbers", "has 1"],
    ),
    ("no coordinates", {"type": "Point"}, InvalidInput, "geometry.coordinates", ["no coordinates"]),
    (
        "hole outside shell",
        poly(SQUARE, [[41, 36], [41.1, 36], [41.1, 36.1], [41, 36]]),
        InvalidInput,
        "geometry.coordinates[1]",
        ["ring 1 (a hole) lies outside its shell"],
    ),
    (
        "hole crossing shell",
        poly(SQUARE, [[40.5, 35.5], [40.6, 35.5], [40.6, 35.6], [40.5, 35.5]]),
        InvalidInput,
        "geometry.coordinates[1]",
        ["ring 1 (a hole) crosses its shell", "near ["],
    ),
    (
        "zero area",
        poly([[0, 0], [1, 0], [2, 0], [0, 0]]),
        InvalidInput,
        "geometry.coordinates[0]",
        ["ring 0"],
    ),
    (
        "degenerate ring",
        poly([[0, 0], [1, 0], [1, 0], [0, 0]]),
        InvalidInput,
        "geometry.coordinates[0]",
        ["fewer than 3 distinct positions"],
    ),
    (
        "one-point line",
        {"type": "LineString", "coordinates": [[1, 1], [1, 1]]},
        InvalidInput,
        "geometry.coordinates",
        ["at least 2 distinct positions"],
    ),
    (
        "unknown type",
        {"type": "Circle", "coordinates": [0, 0]},
        InvalidInput,
        "geometry.type",
        ["'Circle' is not supported"],
    ),
    (
        "collection",
        {"type": "GeometryCollection", "geometries": []},
        InvalidInput,
        "geometry.type",
        ["'GeometryCollection' is not supported"],
    ),
    (
        "multipoint",
        {"type": "MultiPoint", "coordinates": [[0, 0]]},
        InvalidInput,
        "geometry.type",
        ["'MultiPoint'"],
    ),
    ("not an object", [1, 2], InvalidInput, "geometry", ["GeoJSON geometry object"]),
    (
        "too wide",
        {"type": "LineString", "coordinates": [[0, 0], [60, 0]]},
        InvalidInput,
        "geometry.coordinates",
        ["too large to be one declaration", "30.0°"],
    ),
    (
        "antipodal edge",
        {"type": "LineString", "coordinates": [[0, 0], [180, 0]]},
        InvalidInput,
        "geometry.coordinates",
        ["too large to be one declaration"],
    ),
    (
        "multipolygon part",
        {
            "type": "MultiPolygon",
            "coordinates": [[SQUARE], [[[41, 35], [42, 36], [42, 35], [41, 36], [41, 35]]]],
        },
        InvalidInput,
        "geometry.coordinates[1][0]",
        ["polygon 1 ring 0 self-intersects"],
    ),
]


@pytest.mark.parametrize(("name", "geometry", "error", "field", "words"), CORPUS, ids=[c[0] for c in CORPUS])
def test_invalid_geometry_is_rejected_precisely(
    name: str, geometry: Any, error: type[Exception], field: str, words: list[str]
) -> None:
    err = _error(geometry)
    assert type(err) is error
    assert err.field == field
    for w in words:
        assert w in err.detail, (name, err.detail)


def test_too_many_vertices_is_too_large() -> None:
    ring = [[40 + 0.001 * math.cos(k / 20), 35 + 0.001 * math.sin(k / 20)] for k in range(125)]
    err = _error(poly([*ring, ring[0]]), max_vertices=100)
    assert isinstance(err, TooLarge) and err.status == 422
    assert err.detail == "Polygon has 126 vertices; the limit is 100"


def test_too_large_an_area_is_too_large() -> None:
    big = [[0, 0], [6, 0], [6, 6], [0, 6], [0, 0]]  # about 440000 km²
    err = _error(poly(big))
    assert isinstance(err, TooLarge)
    assert "exceeds the limit of 200000 km²" in err.detail and err.detail.startswith("area 44")
    assert parse_geometry(poly(big), max_area_m2=5e11).area_m2 > 2e11


def test_limits_are_parameters() -> None:
    assert parse_geometry(poly(SQUARE), max_vertices=5).vertex_count == 5
    with pytest.raises(TooLarge):
        parse_geometry(poly(SQUARE), max_vertices=4)
