"""GPX in: waypoints are sites; routes and track segments are routes (timed when every point has a time); a
closed route of type `area` is an area. Properties travel in `<extensions>` (see gpx_write.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import gpxpy
import gpxpy.gpx

from deconfliction.adapters.formats import safexml
from deconfliction.adapters.formats.rows import Defaults, FormatError, ReadResult, Row, finish, from_text

NS = "urn:deconfliction:gpx:1"


def _document(data: bytes) -> gpxpy.gpx.GPX:
    root = safexml.parse(data, "GPX")  # refuses DTDs and entities before gpxpy's own parser sees the file
    if safexml.local(root.tag) != "gpx":
        raise FormatError(f"the root element is <{safexml.local(root.tag)}>, not <gpx>")
    try:
        return gpxpy.parse(data.decode("utf-8-sig", errors="replace"))
    except Exception as exc:  # gpxpy raises GPXException and, on odd values, ValueError and others
        raise FormatError(f"the GPX cannot be read: {exc}") from None


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # GPX times are UTC
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _properties(item: Any) -> tuple[dict[str, Any], dict[str, Any] | None, list[tuple[str, str]]]:
    """(properties, a geometry carried whole in the extensions, errors) of a wpt, rte or trk."""
    pairs: list[tuple[str, str]] = []
    geometry = None
    for element in getattr(item, "extensions", None) or []:
        name = safexml.local(element.tag)
        if name == "geometry" and element.text:
            try:
                geometry = json.loads(element.text)
            except json.JSONDecodeError as exc:
                return {}, None, [("geometry", f"extensions/geometry is not GeoJSON: {exc}")]
        elif str(element.tag).startswith(f"{{{NS}}}"):
            pairs.append((name, element.text or ""))
    props, _, errors = from_text(pairs)
    if item.name and "name" not in props:
        props["name"] = item.name.strip()
    return props, geometry, errors


def _line(label: str, item: Any, points: list[Any], area: bool, defaults: Defaults) -> Row:
    props, carried, errors = _properties(item)
    if errors:
        return Row(label, None, tuple(errors))
    positions = [[float(p.longitude), float(p.latitude)] for p in points]
    if carried is not None:
        geometry = carried
    elif area:
        if positions and positions[0] != positions[-1]:
            positions.append(positions[0])
        geometry = {"type": "Polygon", "coordinates": [positions]}
        props.setdefault("kind", "area")
    else:
        geometry = {"type": "LineString", "coordinates": positions}
        times = [_time(p.time) for p in points]
        if times and all(times):
            props.setdefault("times", times)
            props.setdefault("start", times[0])
            props.setdefault("end", times[-1])
    return finish(label, geometry, props, defaults)


def read(data: bytes, defaults: Defaults) -> ReadResult:
    gpx = _document(data)
    result = ReadResult()
    for i, wpt in enumerate(gpx.waypoints):
        props, carried, errors = _properties(wpt)
        label = f"wpt[{i}]" + (f" {wpt.name!r}" if wpt.name else "")
        if errors:
            result.rows.append(Row(label, None, tuple(errors)))
            continue
        geometry = carried or {"type": "Point", "coordinates": [float(wpt.longitude), float(wpt.latitude)]}
        result.rows.append(finish(label, geometry, props, defaults))
    for i, rte in enumerate(gpx.routes):
        label = f"rte[{i}]" + (f" {rte.name!r}" if rte.name else "")
        result.rows.append(_line(label, rte, rte.points, (rte.type or "").strip().lower() == "area", defaults))
    for i, trk in enumerate(gpx.tracks):
        for j, segment in enumerate(trk.segments):
            label = f"trk[{i}]/trkseg[{j}]" + (f" {trk.name!r}" if trk.name else "")
            row = _line(label, trk, segment.points, False, defaults)
            if len(trk.segments) > 1 and row.feature is not None and row.feature["properties"].get("name"):
                row.feature["properties"]["name"] += f" ({j + 1} of {len(trk.segments)})"
            result.rows.append(row)
    return result
