"""ASTM F3548-21 volumes: parsing a Volume4D into a validated `Volume`, and 4-D intersection.

An operational intent's or constraint's extents, a subscription's extents and an area of interest all arrive as
Volume4D objects (a Volume3D — exactly one of `outline_circle` / `outline_polygon`, optional `altitude_lower` /
`altitude_upper` — plus optional `time_start` / `time_end`). `parse_volume4d` checks everything the standard
says and raises `InvalidInput` (400 under /dss) or `AreaTooLarge` (413) whose `field` names the exact place,
e.g. ``extents[1].volume.outline_polygon.vertices[3].lat``.

Choices (where the standard is silent or ambiguous; "the reference" is the InterUSS DSS):

* Time zone. The standard says "The time zone must be 'Z'"; the reference parses any RFC 3339 date-time
  (Go's RFC3339Nano) and the conformance suite only ever sends 'Z'. We accept any RFC 3339 offset and convert to
  UTC: refusing "+02:00" would reject a well-defined instant for no safety gain. A time without offset is refused.
* `format` of a Time may be absent (the OpenAPI default is "RFC3339"; the reference ignores it); if given it must
  be "RFC3339". Radius `units` likewise defaults to "M" (the reference ignores it) but must be "M" when given.
  Altitude `reference` and `units` are required and must be "W84" and "M" (the reference refuses them absent).
* Ordering. For writes (OI, constraint: `require_time` / `require_altitude`), time_start < time_end and
  altitude_lower < altitude_upper strictly, as the standard words it ("Must be before time_end", "Must be less
  than altitude_upper"); the reference only refuses start > end and lower > upper. For queries and subscriptions
  equal bounds are accepted (an instant, a level), since an area of interest is a filter.
* Absent bounds (queries, subscriptions only): an absent time_start is `EARLIEST`, an absent time_end an
  open-ended window; an absent altitude_lower is `MIN_ALTITUDE_M`, an absent altitude_upper unlimited.
  `Volume.time_start` / `Volume.time_end` give back None for an absent bound.
* Altitudes must lie in [MIN_ALTITUDE_M, MAX_ALTITUDE_M] (-1 000 m .. 100 000 m, WGS84): the channel's altitude
  band; the OpenAPI allows down to -8 000 m, which no aircraft flies at.
* Polygons: "Vertices may not be duplicated. In particular, the final polygon vertex must not be identical to the
  first vertex" — enforced (the reference does not check). Edges are shortest paths (great-circle arcs) and the
  winding is irrelevant: the smaller of the two areas is meant, which is how `parse_geometry` reads a ring.
  Self-intersection, zero area and the 20° span limit are `parse_geometry`'s. The vertex limit (OiMaxVertices,
  CstrMaxVertices) counts every vertex of the request's volumes together; exceeding it is a 400. A footprint
  over 2 500 km² — the reference DSS's limit, for every volume written or queried, below CstrMaxAreaKm2 — is a
  413, the OpenAPI's "area too large" (the reference answers 400). A circle's area is π r².
* Intersection: closed intervals, as the reference's searches (``starts_at <= $end AND ends_at >= $start``):
  windows that touch (end == start) and bands that touch intersect. Shapes intersect when their geodesic distance
  is at most the sum of their radii plus IntersectionMinimumPrecisionCm (1 cm): erring by 1 cm toward "relevant".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deconfliction.domain.altitude import MAX_ALTITUDE_M, MIN_ALTITUDE_M, AltitudeBand
from deconfliction.domain.errors import InvalidInput, TooLarge
from deconfliction.domain.geometry import Shape, nearest, parse_geometry
from deconfliction.domain.numbers import finite_float
from deconfliction.domain.timewindow import TimeWindow, format_time, parse_time

INTERSECTION_MINIMUM_PRECISION_M = 0.01  # IntersectionMinimumPrecisionCm = 1
OI_MAX_VERTICES = 10_000  # OiMaxVertices
CSTR_MAX_VERTICES = 1_000  # CstrMaxVertices
CSTR_MAX_AREA_M2 = 10_000 * 1e6  # CstrMaxAreaKm2
# The reference DSS refuses any footprint (a polygon's loop, a circle) over 2 500 km² (its maxAllowedAreaKm2), for
# writes and queries alike; CstrMaxAreaKm2 (10 000 km²) is thus never reached.
MAX_AREA_M2 = 2_500 * 1e6
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # the start of a window whose time_start was absent
_REQUIRED_BY_WRITES = "'Start and end times, as well as lower and upper altitudes, are required for each volume'"


class AreaTooLarge(TooLarge):
    """The area of a volume exceeds the limit: the OpenAPI's 413."""

    status = 413
    title = "Area too large"
    slug = "area-too-large"


@dataclass(frozen=True, slots=True)
class VolumeLimits:
    """Input limits for one request's volumes (all of them together for `max_vertices`)."""

    max_vertices: int = OI_MAX_VERTICES
    max_area_m2: float = MAX_AREA_M2
    max_radius_m: float = 100_000.0
    max_volumes: int = 1_000


OI_LIMITS = VolumeLimits()
CONSTRAINT_LIMITS = VolumeLimits(max_vertices=CSTR_MAX_VERTICES, max_area_m2=min(MAX_AREA_M2, CSTR_MAX_AREA_M2))


@dataclass(frozen=True, slots=True)
class Volume:
    """One Volume4D: a Polygon (radius 0) or a Point grown by `radius_m`, a WGS84 band, a time window."""

    shape: Shape
    radius_m: float
    altitude: AltitudeBand
    window: TimeWindow

    @property
    def time_start(self) -> datetime | None:
        """The given time_start, None when it was absent."""
        return None if self.window.start == EARLIEST else self.window.start

    @property
    def time_end(self) -> datetime | None:
        return self.window.end

    @property
    def vertex_count(self) -> int:
        """Polygon vertices as the standard counts them (no closing vertex); 0 for a circle."""
        return self.shape.vertex_count - 1 if self.shape.geom_type == "Polygon" else 0


def parse_extents(
    obj: object,
    field: str = "extents",
    *,
    require_time: bool,
    require_altitude: bool,
    limits: VolumeLimits = OI_LIMITS,
) -> list[Volume]:
    """A non-empty array of Volume4D, each validated (see the module doc); errors name `field[i]...`."""
    if not isinstance(obj, list):
        raise InvalidInput(f"{field} must be an array of Volume4D", field=field)
    if not obj:
        raise InvalidInput(f"{field} must hold at least one Volume4D", field=field)
    if len(obj) > limits.max_volumes:
        raise InvalidInput(f"{field} holds {len(obj)} volumes; the limit is {limits.max_volumes}", field=field)
    volumes = [
        parse_volume4d(v, f"{field}[{i}]", require_time=require_time, require_altitude=require_altitude, limits=limits)
        for i, v in enumerate(obj)
    ]
    total = sum(v.vertex_count for v in volumes)
    if total > limits.max_vertices:
        raise InvalidInput(f"{field} has {total} vertices in all; the limit is {limits.max_vertices}", field=field)
    return volumes


def parse_volume4d(
    obj: object,
    field: str,
    *,
    require_time: bool,
    require_altitude: bool,
    limits: VolumeLimits = OI_LIMITS,
) -> Volume:
    """One Volume4D as a `Volume`; InvalidInput / AreaTooLarge naming the exact field otherwise."""
    o = _object(obj, field, "a Volume4D")
    v3 = _object(o.get("volume"), f"{field}.volume", "a Volume3D")
    shape, radius_m = _parse_outline(v3, f"{field}.volume", limits)
    altitude = _parse_band(v3, f"{field}.volume", required=require_altitude)
    window = _parse_window(o, field, required=require_time)
    return Volume(shape, radius_m, altitude, window)


def _object(value: object, field: str, what: str) -> Mapping[str, Any]:
    if value is None:
        raise InvalidInput(f"{field} is required", field=field)
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be {what} object", field=field)
    return value


def _parse_outline(v3: Mapping[str, Any], field: str, limits: VolumeLimits) -> tuple[Shape, float]:
    circle, polygon = v3.get("outline_circle"), v3.get("outline_polygon")
    if (circle is None) == (polygon is None):
        given = "both" if circle is not None else "neither"
        raise InvalidInput(
            f"{field} gives {given} of outline_circle and outline_polygon; 'Exactly one outline must be specified'",
            field=field,
        )
    if polygon is not None:
        return _parse_polygon(polygon, f"{field}.outline_polygon", limits), 0.0
    return _parse_circle(circle, f"{field}.outline_circle", limits)


def _latlng(value: object, field: str) -> tuple[float, float]:
    """A LatLngPoint as (lng, lat)."""
    p = _object(value, field, "a LatLngPoint {lat, lng}")
    out = []
    for name, limit in (("lng", 180.0), ("lat", 90.0)):
        raw, where = p.get(name), f"{field}.{name}"
        if raw is None:
            raise InvalidInput(f"{where} is required", field=where)
        number = finite_float(raw)
        if number is None:
            raise InvalidInput(f"{where} must be a finite number of degrees, not {raw!r}", field=where)
        if not -limit <= number <= limit:
            raise InvalidInput(f"{where} {number!r} is outside -{limit:g}..{limit:g}", field=where)
        out.append(number)
    return out[0], out[1]


def _point_key(lng: float, lat: float) -> tuple[float, float]:
    """Equal keys for equal points on the Earth: 180° is -180°, every longitude meets at a pole."""
    if abs(lat) == 90.0:
        return 0.0, lat
    return (-180.0 if lng == 180.0 else lng) + 0.0, lat + 0.0


def _parse_polygon(value: object, field: str, limits: VolumeLimits) -> Shape:
    p = _object(value, field, "a Polygon {vertices}")
    raw = p.get("vertices")
    vfield = f"{field}.vertices"
    if not isinstance(raw, list):
        raise InvalidInput(f"{vfield} must be an array of LatLngPoint", field=vfield)
    if len(raw) < 3:
        raise InvalidInput(f"{vfield} has {len(raw)} vertices; a polygon needs at least 3", field=vfield)
    if len(raw) > limits.max_vertices:
        raise InvalidInput(f"{vfield} has {len(raw)} vertices; the limit is {limits.max_vertices}", field=vfield)
    points = [_latlng(v, f"{vfield}[{i}]") for i, v in enumerate(raw)]
    seen: dict[tuple[float, float], int] = {}
    for i, (lng, lat) in enumerate(points):
        first = seen.setdefault(_point_key(lng, lat), i)
        if first != i:
            raise InvalidInput(
                f"{vfield}[{i}] duplicates {vfield}[{first}]; 'Vertices may not be duplicated. In particular, "
                "the final polygon vertex must not be identical to the first vertex'",
                field=f"{vfield}[{i}]",
            )
    ring = [[lng, lat] for lng, lat in points]
    ring.append(ring[0])  # F3548 rings are open; GeoJSON's are closed
    try:
        return parse_geometry(
            {"type": "Polygon", "coordinates": [ring]}, max_vertices=len(ring), max_area_m2=limits.max_area_m2
        )
    except TooLarge as exc:
        raise AreaTooLarge(f"{field}: {exc.detail}", field=field) from exc
    except InvalidInput as exc:
        detail = exc.detail.replace("ring 0 ", "the polygon ").replace("geometry.coordinates[0]", vfield)
        raise InvalidInput(f"{field}: {detail}", field=_polygon_field(exc.field, vfield, len(points))) from exc


def _polygon_field(geojson_field: str | None, vfield: str, n: int) -> str:
    """parse_geometry's field (geometry.coordinates[0][k]) as the F3548 one (…vertices[k])."""
    prefix = "geometry.coordinates[0]"
    if geojson_field is None or not geojson_field.startswith(prefix):
        return vfield.removesuffix(".vertices")
    rest = geojson_field.removeprefix(prefix)
    if rest.startswith("[") and rest.endswith("]") and rest[1:-1].isdigit():
        return f"{vfield}[{int(rest[1:-1]) % n}]"
    return vfield


def _parse_circle(value: object, field: str, limits: VolumeLimits) -> tuple[Shape, float]:
    c = _object(value, field, "a Circle {center, radius}")
    lng, lat = _latlng(c.get("center"), f"{field}.center")
    r = _object(c.get("radius"), f"{field}.radius", "a Radius {value, units}")
    units = r.get("units", "M")
    if units != "M":
        raise InvalidInput(f"{field}.radius.units must be 'M' (RadiusUnits: only meters), not {units!r}",
                           field=f"{field}.radius.units")  # fmt: skip
    radius = finite_float(r.get("value"))
    vfield = f"{field}.radius.value"
    if radius is None or radius <= 0:
        raise InvalidInput(f"{vfield} must be a number of meters greater than 0, not {r.get('value')!r}", field=vfield)
    if radius > limits.max_radius_m:
        raise AreaTooLarge(f"{vfield} {radius:g} m exceeds the limit of {limits.max_radius_m:g} m", field=vfield)
    area_m2 = math.pi * radius * radius
    if area_m2 > limits.max_area_m2:
        raise AreaTooLarge(
            f"{field}: area {area_m2 / 1e6:.0f} km² exceeds the limit of {limits.max_area_m2 / 1e6:.0f} km²",
            field=vfield,
        )
    return parse_geometry({"type": "Point", "coordinates": [lng, lat]}), radius


def _parse_altitude(value: object, field: str, required: bool) -> float | None:
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required: {_REQUIRED_BY_WRITES}", field=field)
        return None
    a = _object(value, field, "an Altitude {value, reference, units}")
    if a.get("reference") != "W84":
        raise InvalidInput(f"{field}.reference must be 'W84' (AltitudeReference: UTM only allows WGS84), "
                           f"not {a.get('reference')!r}", field=f"{field}.reference")  # fmt: skip
    if a.get("units") != "M":
        raise InvalidInput(f"{field}.units must be 'M' (AltitudeUnits: UTM only allows meters), "
                           f"not {a.get('units')!r}", field=f"{field}.units")  # fmt: skip
    number = finite_float(a.get("value"))
    if number is None or not MIN_ALTITUDE_M <= number <= MAX_ALTITUDE_M:
        raise InvalidInput(
            f"{field}.value must be a number of meters (WGS84) between {MIN_ALTITUDE_M:g} and "
            f"{MAX_ALTITUDE_M:g}, not {a.get('value')!r}",
            field=f"{field}.value",
        )
    return number


def _parse_band(v3: Mapping[str, Any], field: str, *, required: bool) -> AltitudeBand:
    lower = _parse_altitude(v3.get("altitude_lower"), f"{field}.altitude_lower", required)
    upper = _parse_altitude(v3.get("altitude_upper"), f"{field}.altitude_upper", required)
    if lower is not None and upper is not None and (upper < lower or (required and upper == lower)):
        raise InvalidInput(
            f"{field}.altitude_lower ({lower:g} m) must be less than altitude_upper ({upper:g} m)",
            field=f"{field}.altitude_lower",
        )
    return AltitudeBand(MIN_ALTITUDE_M if lower is None else lower, upper)


def _parse_time(value: object, field: str, required: bool) -> datetime | None:
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required: {_REQUIRED_BY_WRITES}", field=field)
        return None
    t = _object(value, field, "a Time {value, format}")
    fmt = t.get("format", "RFC3339")
    if fmt != "RFC3339":
        raise InvalidInput(f"{field}.format must be 'RFC3339', not {fmt!r}", field=f"{field}.format")
    if t.get("value") is None:
        raise InvalidInput(f"{field}.value is required", field=f"{field}.value")
    return parse_time(t["value"], f"{field}.value")


def _parse_window(o: Mapping[str, Any], field: str, *, required: bool) -> TimeWindow:
    start = _parse_time(o.get("time_start"), f"{field}.time_start", required)
    end = _parse_time(o.get("time_end"), f"{field}.time_end", required)
    if start is not None and end is not None and (end < start or (required and end == start)):
        raise InvalidInput(
            f"{field}.time_end ({format_time(end)}) must be after time_start ({format_time(start)})",
            field=f"{field}.time_end",
        )
    begin = EARLIEST if start is None else start
    if end is not None and end <= begin:
        return TimeWindow.instant(begin)
    return TimeWindow(begin, end)


def union_window(volumes: Iterable[Volume]) -> TimeWindow:
    """The smallest window holding every volume's: min start, max end (None if any is open-ended)."""
    windows = [v.window for v in volumes]
    if not windows:
        raise ValueError("union_window of no volumes")
    start = min(w.start for w in windows)
    end = None if any(w.end is None for w in windows) else max(w.end for w in windows if w.end is not None)
    if end is not None and end <= start:
        return TimeWindow.instant(start)
    return TimeWindow(start, end)


def _windows_meet(a: TimeWindow, b: TimeWindow) -> bool:
    """Closed intervals, as the reference DSS: touching windows meet."""
    return a.start_s <= b.end_s and b.start_s <= a.end_s


def intersects(a: Volume, b: Volume) -> bool:
    """4-D overlap: windows and bands meet (touching counts) and the shapes are within 1 cm of touching."""
    if not _windows_meet(a.window, b.window) or not a.altitude.overlaps(b.altitude):
        return False
    reach_m = a.radius_m + b.radius_m + INTERSECTION_MINIMUM_PRECISION_M
    found = nearest(a.shape, b.shape, within_m=reach_m)
    return found is not None and found.distance_m <= reach_m


def any_intersect(vs1: Sequence[Volume], vs2: Sequence[Volume]) -> bool:
    """Whether some volume of vs1 intersects some volume of vs2."""
    return any(intersects(a, b) for a in vs1 for b in vs2)


def to_geojson_feature_parts(volume: Volume) -> tuple[dict[str, Any], float]:
    """The volume's footprint as a GeoJSON geometry and its radius_m, as a declaration stores them."""
    return volume.shape.geojson(), volume.radius_m


def time_json(at: datetime) -> dict[str, str]:
    """A datetime as an F3548 Time object (UTC, 'Z')."""
    return {"value": format_time(at), "format": "RFC3339"}
