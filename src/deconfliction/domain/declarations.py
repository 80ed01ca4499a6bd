"""Declarations: where and when a party operates — shape, altitude band, time window — and who may see it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from deconfliction.domain.altitude import AltitudeBand
from deconfliction.domain.errors import InvalidInput, TooLarge
from deconfliction.domain.geodesy import distance_m
from deconfliction.domain.geometry import Shape, parse_geometry
from deconfliction.domain.numbers import finite_float
from deconfliction.domain.text import check_text
from deconfliction.domain.timewindow import TimeWindow, format_time, parse_time


class Kind(StrEnum):
    SITE = "site"  # a static place: a hospital, a camp, a warehouse
    AREA = "area"  # an operating area
    ROUTE = "route"  # movement along a LineString
    FLIGHT = "flight"  # a UAS operational intent's volume (F3548-21), declared by the DSS for its USS


class DeclarationStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


AUDIENCE_ALL = "all"
AUDIENCE_CONFLICTS = "conflicts"
Audience = str | tuple[str, ...]  # "all", "conflicts", or the sorted party ids it is shared with


@dataclass(frozen=True, slots=True)
class DeclarationLimits:
    """Input limits; configurable (see config.py), enforced at parse time."""

    max_vertices: int = 10_000
    max_area_m2: float = 2e11
    max_radius_m: float = 100_000.0
    max_separation_m: float = 50_000.0
    precision_m: float = 1_000.0  # a declaration's precision_m when it states none (disclosure_precision_m)
    max_name_chars: int = 200
    max_audience: int = 1_000


@dataclass(frozen=True, slots=True)
class RouteTiming:
    """How a route is travelled: a constant speed from `start`, or one time per vertex."""

    speed_mps: float | None = None
    times: tuple[datetime, ...] | None = None

    def to_properties(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.speed_mps is not None:
            out["speed_mps"] = self.speed_mps
        if self.times is not None:
            out["times"] = [format_time(t) for t in self.times]
        return out


@dataclass(frozen=True, slots=True)
class DeclarationSpec:
    """What a party asks to declare: everything but identity and bookkeeping."""

    kind: Kind
    name: str
    shape: Shape
    window: TimeWindow
    altitude: AltitudeBand = field(default_factory=AltitudeBand)
    radius_m: float = 0.0
    separation_m: float | None = None
    audience: Audience = AUDIENCE_CONFLICTS
    timing: RouteTiming | None = None
    precision_m: float | None = None  # how finely parties outside the audience may learn it; None: the default


@dataclass(frozen=True, slots=True)
class Declaration:
    """A stored declaration: a spec with its id, owner, version and status."""

    key: int  # internal, dense: the index's key
    id: str
    party: str
    version: int
    spec: DeclarationSpec
    status: DeclarationStatus
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status is DeclarationStatus.ACTIVE

    def revised(self, spec: DeclarationSpec, at: datetime) -> Declaration:
        return replace(self, spec=spec, version=self.version + 1, updated_at=at)

    def cancelled(self, at: datetime) -> Declaration:
        return replace(self, status=DeclarationStatus.CANCELLED, version=self.version + 1, updated_at=at)

    def to_feature(self) -> dict[str, Any]:
        """The GeoJSON Feature as stored — only ever given to parties allowed to see it."""
        s = self.spec
        props: dict[str, Any] = {
            "kind": s.kind.value,
            "name": s.name,
            "party": self.party,
            "version": self.version,
            "status": self.status.value,
            "start": format_time(s.window.start),
            "end": None if s.window.end is None else format_time(s.window.end),
            "altitude": s.altitude.to_json(),
            "radius_m": s.radius_m,
            "separation_m": s.separation_m,
            "audience": s.audience if isinstance(s.audience, str) else list(s.audience),
            "precision_m": s.precision_m,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
        }
        if s.timing is not None:
            props.update(s.timing.to_properties())
        return {"type": "Feature", "id": self.id, "geometry": s.shape.geojson(), "properties": props}


# How finely a declaration may be disclosed to parties outside its audience (see domain/covering.py)
PRECISION_MIN_M = 100.0
PRECISION_MAX_M = 50_000.0

_LAST_S = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()

_KNOWN_PROPERTIES = {
    "kind", "name", "start", "end", "altitude", "radius_m", "separation_m", "audience",
    "speed_mps", "times", "precision_m",
    # echoed back by the server; accepted so that a client may PUT what it read
    "party", "version", "status", "created_at", "updated_at",
}  # fmt: skip


def _number(value: object, field: str, *, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a number", field=field)
    number = finite_float(value)
    if number is None:
        raise InvalidInput(f"{field} must be a finite number", field=field)
    if number < minimum or number > maximum:
        raise InvalidInput(f"{field} is {number:g}; it must be between {minimum:g} and {maximum:g}", field=field)
    return number


def _parse_altitude(value: object) -> AltitudeBand:
    if value is None:
        return AltitudeBand()
    if not isinstance(value, dict):
        raise InvalidInput("properties.altitude must be an object {lower_m, upper_m}", field="properties.altitude")
    unknown = set(value) - {"lower_m", "upper_m"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(
            f"properties.altitude.{name} is not a known field (lower_m, upper_m)", field=f"properties.altitude.{name}"
        )
    lower = value.get("lower_m", 0.0)
    upper = value.get("upper_m")
    lower_m = _number(lower, "properties.altitude.lower_m", minimum=-math.inf, maximum=math.inf)
    upper_m = (
        None if upper is None else _number(upper, "properties.altitude.upper_m", minimum=-math.inf, maximum=math.inf)
    )
    return AltitudeBand(lower_m, upper_m)


def _parse_audience(value: object, limits: DeclarationLimits) -> Audience:
    if value is None:
        return AUDIENCE_CONFLICTS
    if value in (AUDIENCE_ALL, AUDIENCE_CONFLICTS):
        return str(value)
    if isinstance(value, list):
        if len(value) > limits.max_audience:
            raise InvalidInput(
                f"properties.audience names {len(value)} parties; the limit is {limits.max_audience}",
                field="properties.audience",
            )
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise InvalidInput(
                    "properties.audience must list party ids (strings)", field=f"properties.audience[{i}]"
                )
        return tuple(sorted(set(value)))
    raise InvalidInput(
        'properties.audience must be "all", "conflicts" or a list of party ids', field="properties.audience"
    )


def _parse_timing(props: Mapping[str, Any], kind: Kind, shape: Shape, start: datetime) -> RouteTiming | None:
    speed, times = props.get("speed_mps"), props.get("times")
    if speed is None and times is None:
        return None
    if kind is not Kind.ROUTE:
        name = "speed_mps" if speed is not None else "times"
        raise InvalidInput(f'properties.{name} applies only to kind "route"', field=f"properties.{name}")
    if speed is not None and times is not None:
        raise InvalidInput("give either properties.speed_mps or properties.times, not both", field="properties.times")
    if speed is not None:
        speed_mps = _number(speed, "properties.speed_mps", minimum=1e-3, maximum=1e4)
        _check_arrival(shape, start, speed_mps)
        return RouteTiming(speed_mps=speed_mps)
    if not isinstance(times, list):
        raise InvalidInput(
            "properties.times must be a list of RFC 3339 times, one per vertex", field="properties.times"
        )
    if len(times) != shape.vertex_count:
        raise InvalidInput(
            f"properties.times has {len(times)} times; the route has {shape.vertex_count} vertices",
            field="properties.times",
        )
    parsed = tuple(parse_time(t, f"properties.times[{i}]") for i, t in enumerate(times))
    for i in range(1, len(parsed)):
        if parsed[i] < parsed[i - 1]:
            raise InvalidInput(
                f"properties.times[{i}] is earlier than the time before it", field=f"properties.times[{i}]"
            )
    return RouteTiming(times=parsed)


def _check_arrival(shape: Shape, start: datetime, speed_mps: float) -> None:
    """The route's schedule must end where times can be told (year 9999): its conflicts carry times on it."""
    length_m = sum(distance_m(*a, *b) for a, b in itertools.pairwise(shape.lonlat))
    if start.timestamp() + length_m / speed_mps > _LAST_S:
        raise InvalidInput(
            f"at properties.speed_mps {speed_mps:g} the route would arrive after the year 9999",
            field="properties.speed_mps",
        )


def parse_feature(obj: object, limits: DeclarationLimits, *, trusted: bool = False) -> DeclarationSpec:
    """Validate a GeoJSON Feature into a DeclarationSpec; every error names its field.

    trusted: `obj` is a stored declaration's `to_feature()`, validated when written; rebuild the same
    spec without re-validating it (limits are then ignored). Given anything else the result is undefined.
    """
    if trusted:
        return _trusted_spec(obj)
    if not isinstance(obj, dict):
        raise InvalidInput("the body must be a GeoJSON Feature object", field="")
    if obj.get("type") != "Feature":
        raise InvalidInput('type must be "Feature"', field="type")
    props = obj.get("properties")
    if not isinstance(props, dict):
        raise InvalidInput("properties must be an object", field="properties")
    unknown = set(props) - _KNOWN_PROPERTIES
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"properties.{name} is not a known property", field=f"properties.{name}")
    kind_value = props.get("kind")
    try:
        kind = Kind(str(kind_value)) if isinstance(kind_value, str) else Kind("")
    except ValueError:
        raise InvalidInput(
            f"properties.kind {kind_value!r} is not one of site, area, route", field="properties.kind"
        ) from None
    name = props.get("name", "")
    if not isinstance(name, str) or len(name) > limits.max_name_chars:
        raise InvalidInput(
            f"properties.name must be a string of at most {limits.max_name_chars} characters", field="properties.name"
        )
    check_text(name, "properties.name")  # an import's file reaches here without the HTTP edge's check
    if "geometry" not in obj or obj["geometry"] is None:
        raise InvalidInput("geometry is required", field="geometry")
    shape = parse_geometry(obj["geometry"], max_vertices=limits.max_vertices, max_area_m2=limits.max_area_m2)
    if kind is Kind.ROUTE and shape.geom_type != "LineString":
        raise InvalidInput(f"a route needs a LineString geometry, not {shape.geom_type}", field="geometry.type")
    if "start" not in props or props["start"] is None:
        raise InvalidInput("properties.start is required", field="properties.start")
    start = parse_time(props["start"], "properties.start")
    end_value = props.get("end")
    end = None if end_value is None else parse_time(end_value, "properties.end")
    radius = props.get("radius_m", 0)
    radius_m = 0.0 if radius is None else _number(radius, "properties.radius_m", minimum=0, maximum=limits.max_radius_m)
    sep = props.get("separation_m")
    separation_m = (
        None if sep is None else _number(sep, "properties.separation_m", minimum=0, maximum=limits.max_separation_m)
    )
    _check_reach(shape, radius_m, separation_m or 0.0, limits)
    return DeclarationSpec(
        kind=kind,
        name=name,
        shape=shape,
        window=TimeWindow(start, end),
        altitude=_parse_altitude(props.get("altitude")),
        radius_m=radius_m,
        separation_m=separation_m,
        audience=_parse_audience(props.get("audience"), limits),
        timing=_parse_timing(props, kind, shape, start),
        precision_m=_parse_precision(props.get("precision_m"), limits),
    )


def grown_area_m2(shape: Shape, grow_m: float) -> float:
    """An upper bound of the area of `shape` grown by `grow_m` (Steiner's formula: area + perimeter × grow + π grow²,
    exact for convex shapes, an overestimate otherwise; a line's perimeter counts both of its sides)."""
    length_m = sum(distance_m(*shape.lonlat[i], *shape.lonlat[j]) for i, j in shape.edges)
    perimeter_m = length_m if shape.is_areal else 2 * length_m
    return shape.area_m2 + perimeter_m * grow_m + math.pi * grow_m * grow_m


def _check_reach(shape: Shape, radius_m: float, separation_m: float, limits: DeclarationLimits) -> None:
    """The area limit holds for the shape as grown by its radius and separation: a 100 km-wide route is no way
    around it."""
    grow_m = radius_m + separation_m
    if grow_m <= 0:
        return
    area_m2 = grown_area_m2(shape, grow_m)
    if area_m2 > limits.max_area_m2:
        raise TooLarge(
            f"grown by its radius_m and separation_m ({grow_m:g} m) the shape covers {area_m2 / 1e6:.0f} km², over "
            f"the limit of {limits.max_area_m2 / 1e6:.0f} km²; lower properties.radius_m or properties.separation_m, "
            "or split it",
            field="properties.separation_m" if separation_m > radius_m else "properties.radius_m",
        )


def _parse_precision(value: object, limits: DeclarationLimits) -> float:
    if value is None:
        return limits.precision_m
    return _number(value, "properties.precision_m", minimum=PRECISION_MIN_M, maximum=PRECISION_MAX_M)


def _trusted_spec(obj: Any) -> DeclarationSpec:
    """What parse_feature builds from a feature it accepted, without the checks."""
    props = obj["properties"]
    kind = Kind(props["kind"])
    shape = parse_geometry(obj["geometry"], trusted=True)
    end, radius, sep = props.get("end"), props.get("radius_m"), props.get("separation_m")
    audience, precision = props.get("audience"), props.get("precision_m")
    if audience is not None and not isinstance(audience, str):
        audience = tuple(sorted(set(audience)))
    timing = None
    if props.get("speed_mps") is not None:
        timing = RouteTiming(speed_mps=float(props["speed_mps"]))
    elif props.get("times") is not None:
        timing = RouteTiming(times=tuple([_stored_time(t) for t in props["times"]]))
    return DeclarationSpec(
        kind=kind,
        name=props.get("name", ""),
        shape=shape,
        window=TimeWindow(_stored_time(props["start"]), None if end is None else _stored_time(end)),
        altitude=_trusted_altitude(props.get("altitude")),
        radius_m=0.0 if radius is None else float(radius),
        separation_m=None if sep is None else float(sep),
        audience=AUDIENCE_CONFLICTS if audience is None else audience,
        timing=timing,
        precision_m=None if precision is None else float(precision),
    )


def _trusted_altitude(value: Any) -> AltitudeBand:
    """What _parse_altitude returns for a band it accepted."""
    if value is None:
        return AltitudeBand()
    upper = value.get("upper_m")
    return AltitudeBand(float(value.get("lower_m", 0.0)), None if upper is None else float(upper))


def _stored_time(value: str) -> datetime:
    """A time as `format_time` wrote it (…Z); anything else goes through the full parser."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return parse_time(value, "properties")
    return parsed.astimezone(UTC)
