"""The channel's picture as Cursor-on-Target events, for TAK clients to display: pure, from what the caller may see.

- A declaration's polygons become closed shapes and its lines open ones (`u-d-f`, a `<link point="lat,lon"/>` per
  vertex; holes are left out, TAK shapes have none); a point with a radius becomes a circle (`u-d-c-c`).
- A site, and any point without a radius, also gets a marker at a representative point: `a-f-G` for the caller's
  own, `a-n-G` (neutral) for another party's — the channel takes no side.
- An open or acknowledged conflict becomes a red spot marker (`b-m-p-s-m`) at its location on the caller's shape.
- The caller's tracks become friendly points (`a-f-G`) with their course and speed.

Every uid starts with `deconf.`, so that a client echoing the picture back is never taken for a track.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from deconfliction.adapters.cot import EXPORT_PREFIX, UNKNOWN, cot_time, event_element, to_bytes
from deconfliction.domain.text import for_xml
from deconfliction.domain.timewindow import parse_time

# TAK colours are signed 32-bit ARGB integers.
OWN_STROKE, OWN_FILL = -16776961, 1073742079  # blue, and blue at a quarter opacity
OTHER_STROKE, OTHER_FILL = -256, 1090518784  # yellow, likewise
CONFLICT = -65536  # red
TRACK_STALE_S = 120.0  # a track with no stale time of its own is shown this long after its last report


def picture_events(
    viewer: str,
    features: Iterable[Mapping[str, Any]],
    conflicts: Iterable[Mapping[str, Any]],
    tracks: Iterable[Mapping[str, Any]],
    now: datetime,
    stale_s: float = 86_400.0,
) -> list[ET.Element]:
    """The events showing `viewer` its picture: declarations it may see, its conflicts and its tracks.

    The picture is a snapshot: declarations and conflicts stay on a client's map for `stale_s` (their own time
    windows are in the remarks), tracks until their own stale time.
    """
    stale = now + timedelta(seconds=stale_s)
    events: list[ET.Element] = []
    for feature in features:
        events.extend(declaration_events(viewer, feature, now, stale))
    for conflict in conflicts:
        if conflict.get("status") != "resolved":
            events.append(conflict_event(conflict, now, stale))
    for track in tracks:
        events.append(track_event(track, now))
    return events


def declaration_events(viewer: str, feature: Mapping[str, Any], now: datetime, stale: datetime) -> list[ET.Element]:
    props = feature.get("properties") or {}
    geometry = feature.get("geometry") or {}
    own = props.get("party") == viewer
    base = for_xml(f"{EXPORT_PREFIX}declaration.{feature.get('id')}")
    label = str(props.get("name") or props.get("kind") or "declaration")
    if not own:
        label = f"{label} ({props.get('party')})"
    remarks = _remarks(props)
    stroke, fill = (OWN_STROKE, OWN_FILL) if own else (OTHER_STROKE, OTHER_FILL)
    radius_m = float(props.get("radius_m") or 0.0)
    kind: Any = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    events: list[ET.Element] = []
    if kind == "Polygon":
        events.append(_shape(f"{base}.shape", coords[0], True, label, remarks, now, stale, stroke, fill))
    elif kind == "MultiPolygon":
        for i, polygon in enumerate(coords):
            events.append(_shape(f"{base}.shape.{i}", polygon[0], True, label, remarks, now, stale, stroke, fill))
    elif kind == "LineString":
        events.append(_shape(f"{base}.shape", coords, False, label, remarks, now, stale, stroke, None))
    elif kind == "Point" and radius_m > 0:
        events.append(_circle(f"{base}.shape", coords, radius_m, label, remarks, now, stale, stroke, fill))
    if kind in ("Polygon", "MultiPolygon", "LineString", "Point") and (
        props.get("kind") == "site" or (kind == "Point" and radius_m <= 0)
    ):
        lon, lat = representative_point(geometry)
        marker = event_element(f"{base}.marker", "a-f-G" if own else "a-n-G", now, stale, lat, lon)
        _describe(marker, label, remarks)
        events.append(marker)
    return events


def _remarks(props: Mapping[str, Any]) -> str:
    window = f"{props.get('start')} – {props.get('end') or 'open-ended'}"
    altitude = props.get("altitude") or {}
    band = f"altitude {altitude.get('lower_m', 0)}–{altitude.get('upper_m', '∞')} m" if altitude else ""
    parts = [f"{props.get('kind')} of {props.get('party')}", window, band]
    if props.get("separation_m"):
        parts.append(f"separation {props['separation_m']} m")
    return "; ".join(p for p in parts if p)


def _describe(event: ET.Element, callsign: str, remarks: str) -> ET.Element:
    detail = event.find("detail")
    assert detail is not None
    # Names stored before text was checked may hold what XML cannot (ElementTree writes it anyway, malformed).
    ET.SubElement(detail, "contact", {"callsign": for_xml(callsign)})
    ET.SubElement(detail, "remarks").text = for_xml(remarks)
    return detail


def _shape(
    uid: str,
    ring: Sequence[Sequence[float]],
    closed: bool,
    label: str,
    remarks: str,
    now: datetime,
    stale: datetime,
    stroke: int,
    fill: int | None,
) -> ET.Element:
    lon, lat = ring[0][0], ring[0][1]
    event = event_element(uid, "u-d-f", now, stale, lat, lon)
    detail = _describe(event, label, remarks)
    vertices = list(ring)
    if closed and vertices and list(vertices[0]) != list(vertices[-1]):
        vertices.append(vertices[0])
    for vertex in vertices:
        ET.SubElement(detail, "link", {"point": f"{vertex[1]:.7f},{vertex[0]:.7f}"})
    ET.SubElement(detail, "strokeColor", {"value": str(stroke)})
    ET.SubElement(detail, "strokeWeight", {"value": "3.0"})
    if fill is not None:
        ET.SubElement(detail, "fillColor", {"value": str(fill)})
    ET.SubElement(detail, "labels_on", {"value": "true"})
    return event


def _circle(
    uid: str,
    center: Sequence[float],
    radius_m: float,
    label: str,
    remarks: str,
    now: datetime,
    stale: datetime,
    stroke: int,
    fill: int,
) -> ET.Element:
    event = event_element(uid, "u-d-c-c", now, stale, center[1], center[0])
    detail = _describe(event, label, remarks)
    shape = ET.SubElement(detail, "shape")
    ET.SubElement(shape, "ellipse", {"major": f"{radius_m:.1f}", "minor": f"{radius_m:.1f}", "angle": "360"})
    ET.SubElement(detail, "strokeColor", {"value": str(stroke)})
    ET.SubElement(detail, "fillColor", {"value": str(fill)})
    ET.SubElement(detail, "labels_on", {"value": "true"})
    return event


def representative_point(geometry: Mapping[str, Any]) -> tuple[float, float]:
    """(lon, lat): the point itself, else the mean of the first ring's or line's vertices (unwrapped across ±180°)."""
    kind: Any = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    if kind == "Point":
        return float(coords[0]), float(coords[1])
    if kind == "Polygon":
        vertices = coords[0][:-1] or coords[0]
    elif kind == "MultiPolygon":
        vertices = coords[0][0][:-1] or coords[0][0]
    else:
        vertices = coords
    ref = float(vertices[0][0])
    lons = [ref + ((float(v[0]) - ref + 180.0) % 360.0 - 180.0) for v in vertices]
    lon = sum(lons) / len(lons)
    lat = sum(float(v[1]) for v in vertices) / len(vertices)
    return (lon + 180.0) % 360.0 - 180.0, lat


def conflict_event(conflict: Mapping[str, Any], now: datetime, stale: datetime) -> ET.Element:
    lon, lat = conflict["location"]["coordinates"][:2]
    event = event_element(f"{EXPORT_PREFIX}conflict.{conflict['id']}", "b-m-p-s-m", now, stale, lat, lon)
    window = conflict.get("time") or {}
    remarks = (
        f"{conflict.get('kind')} conflict with {conflict.get('other_party')}: {conflict.get('distance_m')} m where "
        f"{conflict.get('required_m')} m are required; {window.get('start')} – {window.get('end') or 'open-ended'}; "
        f"{conflict.get('status')}"
    )
    detail = _describe(event, f"Conflict: {conflict.get('other_party')}", remarks)
    ET.SubElement(detail, "color", {"argb": str(CONFLICT)})
    return event


def track_event(track: Mapping[str, Any], now: datetime) -> ET.Element:
    """One of the caller's tracks, as the tracks service shows it to its owner: {"id", "t", "position" (a GeoJSON
    Point, with altitude when known), "course_deg"?, "speed_mps"?, "stale"?}."""
    track_id = for_xml(str(track["id"]))
    coordinates = track["position"]["coordinates"]
    at = parse_time(track["t"], "t") if track.get("t") else now
    stale = parse_time(track["stale"], "stale") if track.get("stale") else at + timedelta(seconds=TRACK_STALE_S)
    event = event_element(
        f"{EXPORT_PREFIX}track.{track_id}", "a-f-G", at, stale, float(coordinates[1]), float(coordinates[0]), how="m-g"
    )
    point = event.find("point")
    if point is not None and len(coordinates) > 2 and coordinates[2] is not None:
        point.set("hae", f"{float(coordinates[2]):.1f}")
    detail = _describe(event, str(track_id), f"track {track_id}; last report {cot_time(at)}")
    if track.get("course_deg") is not None or track.get("speed_mps") is not None:
        ET.SubElement(
            detail,
            "track",
            {
                "course": f"{float(track.get('course_deg') or 0.0):.1f}",
                "speed": str(UNKNOWN) if track.get("speed_mps") is None else f"{float(track['speed_mps']):.2f}",
            },
        )
    return event


def _one_line(event: ET.Element) -> bytes:
    """The event on one line: a line break in a name or remarks written as a character reference (ElementTree
    writes them raw), so that a reader taking one event per line never gets half of one."""
    return to_bytes(event).replace(b"\r", b"&#13;").replace(b"\n", b"&#10;")


def document(events: Iterable[ET.Element]) -> bytes:
    """One XML document: `<events>` holding every event, one per line."""
    body = b"".join(b"  " + _one_line(e) + b"\n" for e in events)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<events>\n' + body + b"</events>\n"


def stream(events: Iterable[ET.Element]) -> bytes:
    """The events back to back, as a TAK server streams them (each one whole, one per line)."""
    return b"".join(_one_line(e) + b"\n" for e in events)
