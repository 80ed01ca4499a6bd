"""F3548-21 Volume4D parsing and 4-D intersection, from the standard's text (quoted per test)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.domain.altitude import MIN_ALTITUDE_M
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.f3548.volumes import (
    CONSTRAINT_LIMITS,
    EARLIEST,
    OI_LIMITS,
    AreaTooLarge,
    Volume,
    VolumeLimits,
    any_intersect,
    intersects,
    parse_extents,
    parse_volume4d,
    time_json,
    to_geojson_feature_parts,
    union_window,
)
from deconfliction.domain.geodesy import destination, distance_m

T0 = datetime(2030, 1, 1, tzinfo=UTC)
F = "extents[1]"
V = f"{F}.volume"
P = f"{V}.outline_polygon"
C = f"{V}.outline_circle"


def alt(value: float) -> dict[str, Any]:
    return {"value": value, "reference": "W84", "units": "M"}


def tm(at: datetime | str) -> dict[str, Any]:
    return {"value": at if isinstance(at, str) else at.isoformat().replace("+00:00", "Z"), "format": "RFC3339"}


def square(lng: float = 0.0, lat: float = 0.0, side: float = 0.01) -> list[dict[str, float]]:
    return [
        {"lat": lat, "lng": lng},
        {"lat": lat, "lng": lng + side},
        {"lat": lat + side, "lng": lng + side},
        {"lat": lat + side, "lng": lng},
    ]


def polygon4d(vertices: list[dict[str, float]] | None = None, **kw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "volume": {
            "outline_polygon": {"vertices": vertices if vertices is not None else square()},
            "altitude_lower": alt(kw.get("lower", 0.0)),
            "altitude_upper": alt(kw.get("upper", 120.0)),
        },
        "time_start": tm(kw.get("start", T0)),
        "time_end": tm(kw.get("end", T0 + timedelta(hours=1))),
    }
    return obj


def circle4d(lng: float, lat: float, radius_m: float, **kw: Any) -> dict[str, Any]:
    obj = polygon4d(**kw)
    del obj["volume"]["outline_polygon"]
    obj["volume"]["outline_circle"] = {"center": {"lat": lat, "lng": lng}, "radius": {"value": radius_m, "units": "M"}}
    return obj


def write(obj: Any, limits: VolumeLimits | None = None) -> Volume:
    if limits is None:
        return parse_volume4d(obj, F, require_time=True, require_altitude=True)
    return parse_volume4d(obj, F, require_time=True, require_altitude=True, limits=limits)


def query(obj: Any) -> Volume:
    return parse_volume4d(obj, F, require_time=False, require_altitude=False)


def mutated(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a valid polygon Volume4D with `path` (dotted, [i] for list items) set to value (or deleted)."""
    obj = copy.deepcopy(base if base is not None else polygon4d())
    keys: list[Any] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        keys.append(name)
        if rest:
            keys.append(int(rest.rstrip("]")))
    target: Any = obj
    for k in keys[:-1]:
        target = target[k]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return obj


_DELETE = object()


# --- parsing what is valid ---------------------------------------------------------------------------------------


def test_polygon_is_read_lat_lng_and_closed_for_geojson() -> None:
    # "Vertices may not be duplicated. In particular, the final polygon vertex must not be identical to the first"
    v = write(polygon4d(square(10.0, 50.0)))
    geometry, radius = to_geojson_feature_parts(v)
    ring = geometry["coordinates"][0]
    assert geometry["type"] == "Polygon" and radius == 0.0
    assert ring[0] == ring[-1] == [10.0, 50.0]  # [lng, lat] in GeoJSON
    assert len(ring) == 5 and v.vertex_count == 4
    assert v.altitude.lower_m == 0.0 and v.altitude.upper_m == 120.0
    assert v.window.start == T0 and v.window.end == T0 + timedelta(hours=1)


def test_circle_is_a_point_with_a_radius() -> None:
    # Circle: "A circular geographic shape on the surface of the earth."
    v = write(circle4d(2.35, 48.85, 250.0))
    geometry, radius = to_geojson_feature_parts(v)
    assert geometry == {"type": "Point", "coordinates": [2.35, 48.85]} and radius == 250.0
    assert v.vertex_count == 0


def test_time_offsets_are_accepted_and_converted_to_utc() -> None:
    # "RFC3339-formatted time/date string. The time zone must be 'Z'." — choice: any RFC 3339 offset, as the
    # reference DSS (Go's RFC3339Nano) accepts, normalised to UTC.
    v = write(polygon4d(start="2030-01-01T02:00:00+02:00", end="2030-01-01T01:00:00.5Z"))
    assert v.window.start == T0 and v.window.end == T0 + timedelta(hours=1, milliseconds=500)


def test_absent_time_format_and_radius_units_take_the_openapi_default() -> None:
    obj = circle4d(0.0, 0.0, 10.0)
    del obj["time_start"]["format"]
    del obj["volume"]["outline_circle"]["radius"]["units"]
    assert write(obj).radius_m == 10.0


def test_query_bounds_are_optional_and_mean_unbounded() -> None:
    # area_of_interest / subscription extents: time and altitude bounds are optional
    obj = polygon4d()
    for k in ("time_start", "time_end"):
        del obj[k]
    for k in ("altitude_lower", "altitude_upper"):
        del obj["volume"][k]
    v = query(obj)
    assert v.window.start == EARLIEST and v.window.end is None and v.time_start is None and v.time_end is None
    assert v.altitude.lower_m == MIN_ALTITUDE_M and v.altitude.upper_m is None


def test_query_accepts_an_instant_and_a_level() -> None:
    v = query(polygon4d(start=T0, end=T0, lower=50.0, upper=50.0))
    assert v.window.start == v.window.end == T0 and v.altitude.lower_m == v.altitude.upper_m == 50.0


def test_parse_extents_names_each_volume() -> None:
    vs = parse_extents([polygon4d(), circle4d(0, 0, 5)], require_time=True, require_altitude=True)
    assert [v.radius_m for v in vs] == [0.0, 5.0]
    with pytest.raises(InvalidInput) as e:
        parse_extents([polygon4d(), mutated("time_end", _DELETE)], require_time=True, require_altitude=True)
    assert e.value.field == "extents[1].time_end"


# --- every validation error, with its field ----------------------------------------------------------------------

REQUIRED = "'Start and end times, as well as lower and upper altitudes, are required for each volume'"
CASES: list[tuple[str, Any, str, str]] = [
    # (path mutated, new value, expected field, substring of the detail)
    ("volume", _DELETE, V, "required"),
    ("volume", [1], V, "must be a Volume3D"),
    # "Exactly one outline must be specified."
    ("volume.outline_polygon", _DELETE, V, "neither"),
    ("volume.outline_circle", {"center": {"lat": 0, "lng": 0}, "radius": {"value": 1, "units": "M"}}, V, "both"),
    ("volume.outline_polygon.vertices", "x", f"{P}.vertices", "array"),
    ("volume.outline_polygon.vertices", square()[:2], f"{P}.vertices", "at least 3"),
    ("volume.outline_polygon.vertices[3].lat", _DELETE, f"{P}.vertices[3].lat", "required"),
    ("volume.outline_polygon.vertices[3].lat", "1", f"{P}.vertices[3].lat", "finite number"),
    ("volume.outline_polygon.vertices[3].lat", True, f"{P}.vertices[3].lat", "finite number"),
    ("volume.outline_polygon.vertices[3].lat", 91.0, f"{P}.vertices[3].lat", "outside -90..90"),
    ("volume.outline_polygon.vertices[2].lng", -180.5, f"{P}.vertices[2].lng", "outside -180..180"),
    ("volume.outline_polygon.vertices[2]", None, f"{P}.vertices[2]", "required"),
    # "Vertices may not be duplicated."
    ("volume.outline_polygon.vertices[2]", {"lat": 0.0, "lng": 0.0}, f"{P}.vertices[2]", "duplicates"),
    # "Edges may not cross."
    ("volume.outline_polygon.vertices", [square()[i] for i in (0, 2, 1, 3)], f"{P}.vertices", "self-intersects"),
    # Altitude: reference "Currently, UTM only allows WGS84"; units "Currently, UTM only allows meters"
    ("volume.altitude_lower.reference", "SFC", f"{V}.altitude_lower.reference", "'W84'"),
    ("volume.altitude_upper.reference", _DELETE, f"{V}.altitude_upper.reference", "'W84'"),
    ("volume.altitude_upper.units", "FT", f"{V}.altitude_upper.units", "'M'"),
    ("volume.altitude_upper.value", "high", f"{V}.altitude_upper.value", "number of meters"),
    ("volume.altitude_lower.value", -5000.0, f"{V}.altitude_lower.value", "between"),
    ("volume.altitude_lower", 3, f"{V}.altitude_lower", "must be an Altitude"),
    # "Minimum bounding altitude of this volume. Must be less than altitude_upper, if specified."
    ("volume.altitude_lower.value", 120.0, f"{V}.altitude_lower", "less than"),
    ("volume.altitude_lower.value", 121.0, f"{V}.altitude_lower", "less than"),
    # "Start and end times, as well as lower and upper altitudes, are required for each volume."
    ("volume.altitude_lower", _DELETE, f"{V}.altitude_lower", REQUIRED),
    ("volume.altitude_upper", _DELETE, f"{V}.altitude_upper", REQUIRED),
    ("time_start", _DELETE, f"{F}.time_start", REQUIRED),
    ("time_end", _DELETE, f"{F}.time_end", REQUIRED),
    ("time_start.format", "ISO8601", f"{F}.time_start.format", "'RFC3339'"),
    ("time_start.value", _DELETE, f"{F}.time_start.value", "required"),
    ("time_start.value", "2030-01-01T00:00:00", f"{F}.time_start.value", "RFC 3339"),
    ("time_start.value", "tomorrow", f"{F}.time_start.value", "RFC 3339"),
    # "Beginning time of this volume. Must be before time_end."
    ("time_end", tm(T0), f"{F}.time_end", "must be after"),
    ("time_end", tm(T0 - timedelta(seconds=1)), f"{F}.time_end", "must be after"),
]


@pytest.mark.parametrize(("path", "value", "field", "detail"), CASES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in CASES])
def test_each_violation_names_its_field(path: str, value: Any, field: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as e:
        write(mutated(path, value))
    assert e.value.field == field
    assert detail in e.value.detail
    assert e.value.status in (400, 422)  # 422 is answered as 400 under /dss


CIRCLE_CASES: list[tuple[str, Any, str, str]] = [
    ("volume.outline_circle.center", _DELETE, f"{C}.center", "required"),
    ("volume.outline_circle.center.lng", 181, f"{C}.center.lng", "outside"),
    ("volume.outline_circle.radius", _DELETE, f"{C}.radius", "required"),
    # Radius: "FIXM-compatible units. Only meters ("M") are acceptable for UTM."
    ("volume.outline_circle.radius.units", "NM", f"{C}.radius.units", "'M'"),
    ("volume.outline_circle.radius.value", 0, f"{C}.radius.value", "greater than 0"),
    ("volume.outline_circle.radius.value", -3.0, f"{C}.radius.value", "greater than 0"),
    ("volume.outline_circle.radius.value", float("nan"), f"{C}.radius.value", "greater than 0"),
]


@pytest.mark.parametrize(("path", "value", "field", "detail"), CIRCLE_CASES, ids=[c[0] for c in CIRCLE_CASES])
def test_each_circle_violation_names_its_field(path: str, value: Any, field: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as e:
        write(mutated(path, value, circle4d(0.0, 0.0, 10.0)))
    assert e.value.field == field and detail in e.value.detail


def test_closing_vertex_is_refused() -> None:
    # "In particular, the final polygon vertex must not be identical to the first vertex."
    closed = [*square(), square()[0]]
    with pytest.raises(InvalidInput) as e:
        write(polygon4d(closed))
    assert e.value.field == f"{P}.vertices[4]" and "duplicates" in e.value.detail


def test_vertex_limit_counts_every_volume() -> None:
    # OiMaxVertices / CstrMaxVertices
    limits = VolumeLimits(max_vertices=6)
    with pytest.raises(InvalidInput) as e:
        write(polygon4d(square() + [{"lat": 0.005, "lng": -0.005}] * 3), limits)
    assert e.value.field == f"{P}.vertices" and "limit is 6" in e.value.detail
    two = [polygon4d(), polygon4d()]
    with pytest.raises(InvalidInput) as e:
        parse_extents(two, require_time=True, require_altitude=True, limits=limits)
    assert e.value.field == "extents" and "8 vertices in all" in e.value.detail
    assert CONSTRAINT_LIMITS.max_vertices == 1000


def test_area_limit_is_a_413() -> None:
    # The reference DSS's 2 500 km² per footprint, for intents, constraints and queries alike: a 0.5° square at
    # the equator is about 3 090 km², a 0.4° one about 1 980 km²; π·28² ≈ 2 463 km², π·29² ≈ 2 642 km²
    for limits in (OI_LIMITS, CONSTRAINT_LIMITS):
        with pytest.raises(AreaTooLarge) as e:
            write(polygon4d(square(side=0.5)), limits)
        assert e.value.status == 413 and e.value.field == P
        write(polygon4d(square(side=0.4)), limits)
        with pytest.raises(AreaTooLarge) as e:
            write(circle4d(0, 0, 29_000.0), limits)
        assert e.value.field == f"{C}.radius.value"
        write(circle4d(0, 0, 28_000.0), limits)
    with pytest.raises(AreaTooLarge):
        parse_volume4d(circle4d(0, 0, 29_000.0), F, require_time=False, require_altitude=False)  # a query too


def test_extents_must_be_a_non_empty_array() -> None:
    for bad, detail in (({}, "array"), ([], "at least one")):
        with pytest.raises(InvalidInput) as e:
            parse_extents(bad, require_time=True, require_altitude=True)
        assert e.value.field == "extents" and detail in e.value.detail
    with pytest.raises(InvalidInput) as e:
        parse_volume4d("x", F, require_time=False, require_altitude=False)
    assert e.value.field == F


# --- union and intersection ---------------------------------------------------------------------------------------


def test_union_window() -> None:
    a = write(polygon4d(start=T0, end=T0 + timedelta(hours=1)))
    b = write(polygon4d(start=T0 + timedelta(minutes=30), end=T0 + timedelta(hours=3)))
    w = union_window([a, b])
    assert w.start == T0 and w.end == T0 + timedelta(hours=3)
    open_ended = query(mutated("time_end", _DELETE))
    assert union_window([a, open_ended]).end is None
    with pytest.raises(ValueError):
        union_window([])


def _circles_at(gap_m: float) -> tuple[Volume, Volume]:
    """Two circles of 100 m whose edges are gap_m apart (negative: overlapping)."""
    east = destination(0.0, 45.0, 90.0, 200.0 + gap_m)
    a = write(circle4d(0.0, 45.0, 100.0))
    b = write(circle4d(east[0], east[1], 100.0))
    assert abs(distance_m(0.0, 45.0, *east) - (200.0 + gap_m)) < 1e-6
    return a, b


@pytest.mark.parametrize(("gap_m", "expected"), [(-1.0, True), (0.0, True), (0.009, True), (0.02, False)])
def test_circles_touching_within_one_centimetre_intersect(gap_m: float, expected: bool) -> None:
    # IntersectionMinimumPrecisionCm = 1: within 1 cm of touching counts as intersecting
    a, b = _circles_at(gap_m)
    assert intersects(a, b) is expected and intersects(b, a) is expected


def test_circle_and_polygon() -> None:
    poly = write(polygon4d(square(0.0, 0.0, 0.01)))
    inside = write(circle4d(0.005, 0.005, 1.0))
    assert intersects(poly, inside)
    # a circle centred 100 m west of the polygon's western edge
    west = destination(0.0, 0.005, 270.0, 100.0)
    assert not intersects(poly, write(circle4d(west[0], west[1], 99.98)))
    assert intersects(poly, write(circle4d(west[0], west[1], 99.995)))
    assert intersects(poly, write(circle4d(west[0], west[1], 100.5)))


def test_polygons_sharing_an_edge_intersect() -> None:
    a = write(polygon4d(square(0.0, 0.0)))
    b = write(polygon4d(square(0.01, 0.0)))
    c = write(polygon4d(square(0.0101, 0.0)))
    assert intersects(a, b) and not intersects(a, c)


def test_across_the_antimeridian() -> None:
    # "The bounding edges of this polygon are defined to be the shortest paths between connected vertices."
    straddling = [
        {"lat": 0.0, "lng": 179.995},
        {"lat": 0.0, "lng": -179.995},
        {"lat": 0.01, "lng": -179.995},
        {"lat": 0.01, "lng": 179.995},
    ]
    poly = write(polygon4d(straddling))
    assert poly.shape.area_m2 < 2e6  # the 1.1 km square, not the rest of the world
    assert intersects(poly, write(circle4d(180.0, 0.005, 1.0)))
    assert intersects(poly, write(circle4d(-180.0, 0.005, 1.0)))
    assert not intersects(poly, write(circle4d(179.98, 0.005, 1_000.0)))  # 1.67 km west of its western edge
    assert intersects(poly, write(circle4d(179.98, 0.005, 1_700.0)))


def test_time_windows_that_touch_intersect() -> None:
    # Choice: closed intervals, as the reference DSS's searches (starts_at <= end AND ends_at >= start)
    a = write(polygon4d(start=T0, end=T0 + timedelta(hours=1)))
    touching = write(polygon4d(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2)))
    apart = write(polygon4d(start=T0 + timedelta(hours=1, microseconds=1), end=T0 + timedelta(hours=2)))
    assert intersects(a, touching) and not intersects(a, apart)


def test_altitude_bands_that_touch_intersect() -> None:
    a = write(polygon4d(lower=0.0, upper=100.0))
    assert intersects(a, write(polygon4d(lower=100.0, upper=200.0)))
    assert not intersects(a, write(polygon4d(lower=100.01, upper=200.0)))


def test_unbounded_query_meets_everything_in_its_area() -> None:
    obj = polygon4d()
    for k in ("time_start", "time_end"):
        del obj[k]
    for k in ("altitude_lower", "altitude_upper"):
        del obj["volume"][k]
    aoi = query(obj)
    late = write(polygon4d(start=T0 + timedelta(days=300), end=T0 + timedelta(days=301), lower=9000.0, upper=9100.0))
    assert intersects(aoi, late)
    assert any_intersect([write(circle4d(1.0, 1.0, 5.0))], [aoi, late]) is False
    inside_now = write(circle4d(0.005, 0.005, 5.0))
    assert not any_intersect([inside_now], [late])  # same place, other day
    assert any_intersect([inside_now], [late, aoi])


def test_time_json() -> None:
    assert time_json(T0) == {"value": "2030-01-01T00:00:00Z", "format": "RFC3339"}


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-60.0, 60.0),
    st.floats(-179.0, 179.0),
    st.floats(0.0, 360.0),
    st.floats(1.0, 5_000.0),
    st.floats(1.0, 2_000.0),
    st.floats(1.0, 2_000.0),
)
def test_circles_intersect_exactly_when_their_centres_are_within_the_radii(
    lat: float, lng: float, azimuth: float, apart_m: float, r1: float, r2: float
) -> None:
    other = destination(lng, lat, azimuth, apart_m)
    a, b = write(circle4d(lng, lat, r1)), write(circle4d(other[0], other[1], r2))
    d = distance_m(lng, lat, other[0], other[1])
    if abs(d - (r1 + r2)) < 0.02:
        return  # within the 1 cm tolerance band
    assert intersects(a, b) is (d <= r1 + r2) is intersects(b, a)
