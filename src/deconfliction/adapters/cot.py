"""Cursor-on-Target (CoT): the XML events TAK clients (ATAK, WinTAK, iTAK) stream, read safely and turned into
position reports; pings answered.

A TAK client sends events back to back on one TCP (or TLS) connection, with no length prefix: `EventFramer` cuts
the byte stream after each `</event>`, carrying the rest over to the next read, and drops an event that grows past
the size limit. `parse_event` reads one event with defusedxml (no DTD, no entities, no external references).
Only friendly atoms (`a-f-…`) are the sender's own positions: other atoms (hostile, unknown, neutral markers a
user places) say where someone else is, and are not the party's tracks.
"""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.timewindow import parse_time

END_TAG = b"</event>"
PING = "t-x-c-t"
PONG = "t-x-c-t-r"
UNKNOWN = 9_999_999.0  # CoT's "not known" for hae, ce, le, speed
EXPORT_PREFIX = "deconf."  # uids of the events this server exports: never taken back in as tracks
_START = re.compile(rb"<\?xml|<!DOCTYPE|<event[\s/>]")
_OFFSET = re.compile(r"([Zz]|[+-]\d{2}:\d{2})$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]")
MAX_TRACK_ID = 64


class CotError(ValueError):
    """An event that cannot be used: not XML, refused (a DTD or entities), or missing what it must carry."""


class EventFramer:
    """Splits a byte stream into whole events, each ending with `</event>`; leftovers wait for the next read.

    An event longer than `max_event_bytes` is dropped — at once if it is still growing, and everything up to its
    `</event>` with it — and counted in `oversized`; the stream goes on with the next event.
    """

    def __init__(self, max_event_bytes: int) -> None:
        self.max_event_bytes = max_event_bytes
        self.oversized = 0
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        """The events completed by `data`, in order."""
        buf = self._buf
        # A terminator may straddle the previous read and this one: search from just before the join.
        search = max(0, len(buf) - len(END_TAG) + 1)
        buf += data
        events: list[bytes] = []
        pos = 0
        while (i := buf.find(END_TAG, search)) >= 0:
            end = i + len(END_TAG)
            if self._discarding:
                self._discarding = False
            elif end - pos > self.max_event_bytes:
                self.oversized += 1
            else:
                events.append(bytes(buf[pos:end]))
            pos = search = end
        del buf[:pos]
        if len(buf) > self.max_event_bytes:
            if not self._discarding:
                self.oversized += 1
                self._discarding = True
            del buf[: len(buf) - (len(END_TAG) - 1)]  # keep what may be the start of `</event>`
        return events

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the end of an event."""
        return len(self._buf)


@dataclass(frozen=True, slots=True)
class CotEvent:
    uid: str
    type: str
    time: datetime | None
    start: datetime | None
    stale: datetime | None
    lat: float | None
    lon: float | None
    hae: float | None
    course_deg: float | None
    speed_mps: float | None
    callsign: str | None

    @property
    def is_ping(self) -> bool:
        return self.type == PING

    @property
    def is_own_position(self) -> bool:
        """A friendly atom not exported by this server: the sender saying where it (or its unit) is."""
        friendly = self.type == "a-f" or self.type.startswith("a-f-")
        return friendly and not self.uid.startswith(EXPORT_PREFIX)


def parse_event(frame: bytes) -> CotEvent:
    """Read one CoT event; raises CotError for anything that is not a safe, well-formed event."""
    found = _START.search(frame)
    if found is None:
        raise CotError("no <event> in the data")
    try:
        root: ET.Element = fromstring(frame[found.start() :], forbid_dtd=True)
    except DefusedXmlException as exc:
        raise CotError(f"refused: {exc!r}") from None
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise CotError(f"not well-formed XML: {exc}") from None
    if root.tag != "event":
        raise CotError(f"the root element is <{root.tag}>, not <event>")
    uid, type_ = root.get("uid", ""), root.get("type", "")
    if not uid or not type_:
        raise CotError("an event needs a uid and a type")
    point = root.find("point")
    track = root.find("detail/track")
    contact = root.find("detail/contact")
    return CotEvent(
        uid=uid,
        type=type_,
        time=_time(root.get("time"), "time"),
        start=_time(root.get("start"), "start"),
        stale=_time(root.get("stale"), "stale"),
        lat=_number(point, "lat", -90.0, 90.0),
        lon=_number(point, "lon", -180.0, 180.0),
        hae=_number(point, "hae", -12_000.0, 1_000_000.0),
        course_deg=_number(track, "course", -360.0, 360.0),
        speed_mps=_number(track, "speed", 0.0, 1_000_000.0),
        callsign=None if contact is None else contact.get("callsign"),
    )


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    # CoT times are UTC; a time without an offset is read as UTC rather than refused.
    text = value.strip() if _OFFSET.search(value.strip()) else value.strip() + "Z"
    try:
        return parse_time(text, name)
    except InvalidInput:
        raise CotError(f"{name}={value[:40]!r} is not a date-time") from None


def _number(element: ET.Element | None, name: str, low: float, high: float) -> float | None:
    """A numeric attribute; None when absent or CoT's 'unknown' (9999999); CotError when out of range."""
    if element is None or (raw := element.get(name)) is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise CotError(f"{element.tag} {name}={raw[:40]!r} is not a number") from None
    if value >= UNKNOWN:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        raise CotError(f"{element.tag} {name}={raw[:40]!r} is out of range [{low}, {high}]")
    return value


def track_id(uid: str) -> str:
    """A safe track id for a CoT uid: letters, digits, '.', '_', '-', at most 64 characters. A uid that had to be
    changed gets a short digest of itself appended, so that two uids never share a track."""
    safe = _SAFE_ID.sub("-", uid).strip(".-") or "track"
    if safe == uid and len(uid) <= MAX_TRACK_ID:
        return uid
    digest = hashlib.sha256(uid.encode("utf-8")).hexdigest()[:10]
    return f"{safe[: MAX_TRACK_ID - 11]}-{digest}"


def position_report(event: CotEvent) -> dict[str, Any]:
    """The position report an event carries, in the shape the tracks service takes; CotError if it carries none."""
    at = event.time or event.start
    if at is None:
        raise CotError(f"event {event.uid!r} has no time")
    if event.lat is None or event.lon is None:
        raise CotError(f"event {event.uid!r} has no point")
    report: dict[str, Any] = {"t": cot_time(at), "lon": event.lon, "lat": event.lat}
    if event.hae is not None:
        report["alt_m"] = event.hae
    if event.speed_mps is not None:
        report["speed_mps"] = event.speed_mps
    if event.course_deg is not None:
        report["course_deg"] = event.course_deg % 360.0
    if event.stale is not None:
        report["stale"] = cot_time(event.stale)
    return report


def cot_time(at: datetime) -> str:
    """A CoT time: UTC, milliseconds, `Z`."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def event_element(
    uid: str, type_: str, now: datetime, stale: datetime, lat: float, lon: float, how: str = "h-g-i-g-o"
) -> ET.Element:
    """An `<event>` with its `<point>` (height and errors unknown) and an empty `<detail>`, to add to."""
    event = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": type_,
            "how": how,
            "time": cot_time(now),
            "start": cot_time(now),
            "stale": cot_time(stale),
        },
    )
    ET.SubElement(
        event,
        "point",
        {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}", "hae": str(UNKNOWN), "ce": str(UNKNOWN), "le": str(UNKNOWN)},
    )
    ET.SubElement(event, "detail")
    return event


def to_bytes(event: ET.Element) -> bytes:
    return ET.tostring(event, encoding="unicode").encode("utf-8")


def pong(now: datetime) -> bytes:
    """The answer to a `t-x-c-t` ping, as a TAK server gives it."""
    return to_bytes(event_element("takPong", PONG, now, now + timedelta(seconds=20), 0.0, 0.0))
