"""What every reader yields: rows, each a GeoJSON Feature in the API's shape or the errors that stop it being one."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("site", "area", "route", "flight")
# Properties a declaration takes on import; the rest of an exported Feature is the server's bookkeeping.
IMPORTABLE = ("kind", "name", "start", "end", "altitude", "radius_m", "separation_m", "audience", "speed_mps", "times")
ECHOED = ("id", "party", "version", "status", "created_at", "updated_at")  # written by an export, dropped on import
NUMBERS = ("radius_m", "separation_m", "speed_mps", "lower_m", "upper_m")

# Column (CSV) and data (KML ExtendedData, GPX extensions) names people use, folded to lowercase with `_`.
ALIASES: dict[str, str] = {
    "lat": "lat", "latitude": "lat", "y": "lat",
    "lon": "lon", "long": "lon", "longitude": "lon", "lng": "lon", "x": "lon",
    "name": "name", "title": "name", "label": "name",
    "kind": "kind",
    "start": "start", "begin": "start", "from": "start", "start_time": "start",
    "end": "end", "until": "end", "to": "end", "end_time": "end",
    "radius_m": "radius_m", "radius": "radius_m",
    "separation_m": "separation_m", "separation": "separation_m",
    "audience": "audience", "shared_with": "audience",
    "lower_m": "lower_m", "altitude_lower_m": "lower_m", "upper_m": "upper_m", "altitude_upper_m": "upper_m",
    "speed_mps": "speed_mps", "times": "times",
    "wkt": "wkt", "geometry": "geometry", "geojson": "geometry",
    "id": "id", "party": "party", "version": "version", "status": "status",
    "created_at": "created_at", "updated_at": "updated_at",
}  # fmt: skip


class FormatError(ValueError):
    """The file as a whole cannot be read (not the format it claims, malformed, unsafe, too large)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One declaration read from a file: `label` says where it was (line 5, a placemark's path, wpt[2])."""

    label: str
    feature: dict[str, Any] | None
    errors: tuple[tuple[str, str], ...] = ()  # (field within the row, message): why it is not a Feature


@dataclass(slots=True)
class ReadResult:
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Defaults:
    """Per-file values for properties a row lacks (the row's own win)."""

    kind: str | None = None
    start: str | None = None
    end: str | None = None
    radius_m: float | None = None
    separation_m: float | None = None
    audience: str | list[str] | None = None
    lower_m: float | None = None
    upper_m: float | None = None

    def fill(self, props: dict[str, Any]) -> None:
        for name in ("kind", "start", "end", "radius_m", "separation_m", "audience"):
            value = getattr(self, name)
            if name not in props and value is not None:
                props[name] = value
        if "altitude" not in props and (self.lower_m is not None or self.upper_m is not None):
            band: dict[str, float] = {"lower_m": 0.0 if self.lower_m is None else self.lower_m}
            if self.upper_m is not None:
                band["upper_m"] = self.upper_m
            props["altitude"] = band


def fold(name: str) -> str:
    """A column or data name as looked up in ALIASES: `Start Time` → `start_time`."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


def infer_kind(geometry: Mapping[str, Any] | None) -> str:
    gtype = None if geometry is None else geometry.get("type")
    return {"Point": "site", "LineString": "route"}.get(str(gtype), "area")


def finish(label: str, geometry: dict[str, Any] | None, props: dict[str, Any], defaults: Defaults) -> Row:
    """Fill defaults, infer the kind from the geometry, drop what the kind does not take: the row's Feature."""
    defaults.fill(props)
    if "kind" not in props:
        props["kind"] = infer_kind(geometry)
    if props.get("kind") != "route":
        props.pop("times", None)  # a track's clock, when the file's kind makes it a site or an area
    return Row(label, {"type": "Feature", "geometry": geometry, "properties": props})


def number(text: str, decimal_comma: bool = False) -> float:
    """A number as a spreadsheet writes it (`35,34` too where the delimiter is not a comma)."""
    cleaned = text.strip()
    if decimal_comma and cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    value = float(cleaned)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def audience(text: str) -> str | list[str]:
    """`all`, `conflicts`, `a;b` (or `a,b`, or a JSON list) → the API's audience."""
    value = text.strip()
    if value.lower() in ("all", "conflicts"):
        return value.lower()
    if value.startswith("["):
        parsed = json.loads(value)
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return [p.strip() for p in parsed]
        raise ValueError(value)
    return [p.strip() for p in re.split(r"[;,|]", value) if p.strip()]


def from_text(
    pairs: Iterable[tuple[str, str]], decimal_comma: bool = False
) -> tuple[dict[str, Any], list[str], list[tuple[str, str]]]:
    """Properties from name=text pairs (CSV cells, KML Data, GPX extensions): (properties, ignored names, errors)."""
    props: dict[str, Any] = {}
    band: dict[str, float] = {}
    ignored: list[str] = []
    errors: list[tuple[str, str]] = []
    for raw_name, raw in pairs:
        name = ALIASES.get(fold(raw_name))
        text = raw.strip()
        if name is None:
            ignored.append(raw_name)
            continue
        if not text or name in ECHOED or name in ("lat", "lon", "wkt", "geometry"):
            continue
        try:
            if name in NUMBERS:
                value: Any = number(text, decimal_comma)
            elif name == "audience":
                value = audience(text)
            elif name == "times":
                value = [t for t in re.split(r"[\s;,]+", text) if t]
            else:
                value = text
        except ValueError:
            field_name = f"properties.altitude.{name}" if name in ("lower_m", "upper_m") else f"properties.{name}"
            errors.append((field_name, f"{raw_name} {text!r} is not {_expected(name)}"))
            continue
        if name in ("lower_m", "upper_m"):
            band[name] = value
        else:
            props[name] = value
    if band:
        props["altitude"] = {
            "lower_m": band.get("lower_m", 0.0),
            **({"upper_m": band["upper_m"]} if "upper_m" in band else {}),
        }
    return props, ignored, errors


def _expected(name: str) -> str:
    if name == "audience":
        return 'an audience: "all", "conflicts" or party ids separated by ";"'
    return "a number"


def plain(value: Any) -> Any:
    """Tuples (shapely, pygeoif) as lists, coordinates cut to lon, lat: GeoJSON as the API takes it."""
    if isinstance(value, list | tuple):
        if value and all(_coordinate(v) for v in value):
            return [float(v) for v in value[:2]]
        return [plain(v) for v in value]
    return value


def _coordinate(value: object) -> bool:
    return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53)
