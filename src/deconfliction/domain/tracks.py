"""Live tracks: position reports as a party's sensors send them, and a track's state built from them.

A track belongs to the party that reports it: tracks are keyed by (party, track id), so two parties may use the same
id without ever meeting. Reports may arrive late, out of order or twice: every new report is kept, but only a newer
one moves the track; one with the time of a report already known is a duplicate and is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from deconfliction.domain.cpa import Motion, motion_between
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.numbers import finite_float
from deconfliction.domain.timewindow import format_time, parse_time

MAX_REPORTS = 1_000  # reports in one batch
MAX_FUTURE_S = 300.0  # a report may be this far ahead of the server's clock (clock skew), not more
MAX_SPEED_MPS = 10_000.0
ALT_RANGE_M = (-12_000.0, 1_000_000.0)  # as Cursor-on-Target allows for height above the ellipsoid
TRACK_ID = re.compile(r"^[^\s/]{1,128}$")
FIELDS = frozenset({"t", "lon", "lat", "alt_m", "speed_mps", "course_deg", "separation_m", "stale"})


class TrackStatus(StrEnum):
    ACTIVE = "active"  # reporting: its convergence with others is watched
    LOST = "lost"  # silent longer than `track_lost_s` (or past its report's `stale`): no longer watched
    REMOVED = "removed"  # silent longer than `track_remove_s`: gone from the live picture, kept in the record


@dataclass(frozen=True, slots=True)
class Report:
    """One position report. `t_us` (microseconds since the epoch) identifies it within its track."""

    t_us: int
    lon: float
    lat: float
    alt_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    separation_m: float | None = None
    stale_us: int | None = None  # after this the report no longer stands for the track (Cursor-on-Target `stale`)

    @property
    def t_s(self) -> float:
        return self.t_us / 1e6

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": format_time(_time(self.t_us)), "lon": self.lon, "lat": self.lat}
        for name in ("alt_m", "speed_mps", "course_deg", "separation_m"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.stale_us is not None:
            out["stale"] = format_time(_time(self.stale_us))
        return out


def _time(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


def _us(at: datetime) -> int:
    return round(at.timestamp() * 1e6)


def parse_track_id(value: object) -> str:
    if not isinstance(value, str) or not TRACK_ID.match(value) or not value.isprintable():
        raise InvalidInput(
            "a track id is 1 to 128 printable characters without spaces or '/', e.g. 'convoy-3'", field="track_id"
        )
    return value


def _number(item: Mapping[str, Any], name: str, path: str, low: float, high: float, required: bool) -> float | None:
    value = item.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{path}.{name} is required", field=f"{path}.{name}")
        return None
    number = finite_float(value)
    if number is None:
        raise InvalidInput(f"{path}.{name} must be a finite number", field=f"{path}.{name}")
    if not low <= number <= high:
        raise InvalidInput(f"{path}.{name} must be within [{low:g}, {high:g}]", field=f"{path}.{name}")
    return number


def parse_report(item: object, path: str, now: datetime, max_separation_m: float) -> Report:
    """One report of a batch; `path` names it in errors (`[2]`)."""
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{path} must be an object {{t, lon, lat, ...}}", field=path)
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise InvalidInput(
            f"{path}.{unknown[0]} is not a report field (known: {', '.join(sorted(FIELDS))})",
            field=f"{path}.{unknown[0]}",
        )
    if "t" not in item:
        raise InvalidInput(f"{path}.t is required", field=f"{path}.t")
    t = parse_time(item["t"], f"{path}.t")
    if (t - now).total_seconds() > MAX_FUTURE_S:
        raise InvalidInput(
            f"{path}.t {format_time(t)} is more than {MAX_FUTURE_S:g} s ahead of the server's clock", field=f"{path}.t"
        )
    stale = None if item.get("stale") is None else parse_time(item["stale"], f"{path}.stale")
    if stale is not None and stale < t:
        raise InvalidInput(f"{path}.stale must not be before {path}.t", field=f"{path}.stale")
    lon = _number(item, "lon", path, -180.0, 180.0, True)
    lat = _number(item, "lat", path, -90.0, 90.0, True)
    course = _number(item, "course_deg", path, 0.0, 360.0, False)
    assert lon is not None and lat is not None
    return Report(
        t_us=_us(t),
        lon=lon,
        lat=lat,
        alt_m=_number(item, "alt_m", path, *ALT_RANGE_M, False),
        speed_mps=_number(item, "speed_mps", path, 0.0, MAX_SPEED_MPS, False),
        course_deg=None if course is None else course % 360.0,
        separation_m=_number(item, "separation_m", path, 0.0, max_separation_m, False),
        stale_us=None if stale is None else _us(stale),
    )


def parse_reports(raw: object, now: datetime, max_separation_m: float = 100_000.0) -> list[Report]:
    """Validate a batch `[{"t", "lon", "lat", ...}]`; InvalidInput names the first bad field, e.g. `[2].lat`."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InvalidInput("the body must be a JSON array of position reports", field="body")
    if not raw:
        raise InvalidInput("the body must hold at least one position report", field="body")
    if len(raw) > MAX_REPORTS:
        raise InvalidInput(f"at most {MAX_REPORTS} reports in one batch", field="body")
    return [parse_report(item, f"[{i}]", now, max_separation_m) for i, item in enumerate(raw)]


@dataclass(frozen=True, slots=True)
class Track:
    """A track's state: its newest report and the one before (to derive a motion the reports do not state)."""

    party: str
    track_id: str
    status: TrackStatus
    source: str
    latest: Report
    previous: Report | None
    reports: int  # reports stored for it
    first_us: int  # time of its oldest report
    updated_at: datetime  # when it last changed (a report taken, lost, removed)

    @property
    def key(self) -> tuple[str, str]:
        return self.party, self.track_id

    @property
    def subject(self) -> str:
        """How a conflict names the track (where a declaration id would be)."""
        return f"track:{self.track_id}"

    def motion(self) -> Motion:
        """The motion to dead-reckon: speed and course as reported, each derived from the last two reports when the
        newest does not state it; no motion at all when neither can be known."""
        r, p = self.latest, self.previous
        speed, course = r.speed_mps, r.course_deg
        if (speed is None or course is None) and p is not None:
            derived_speed, derived_course = motion_between(p.lon, p.lat, p.t_s, r.lon, r.lat, r.t_s)
            speed = derived_speed if speed is None else speed
            course = derived_course if course is None else course
        if speed is None or course is None:
            return Motion(r.lon, r.lat, r.t_s)
        return Motion(r.lon, r.lat, r.t_s, speed, course)

    def lost_at_us(self, lost_s: float) -> int:
        """When the track counts as lost unless it reports again: `lost_s` after its newest report, or its `stale`."""
        due = self.latest.t_us + round(lost_s * 1e6)
        stale = self.latest.stale_us
        return due if stale is None else min(due, stale)

    def removed_at_us(self, remove_s: float) -> int:
        return self.latest.t_us + round(remove_s * 1e6)

    def taking(self, reports: Iterable[Report], stored: int, source: str, at: datetime, lost_s: float) -> Track:
        """The track after new reports (already stored, duplicates excluded): moved only by newer ones."""
        latest, previous = merge_newest(self.latest, self.previous, reports)
        updated = replace(
            self, latest=latest, previous=previous, reports=self.reports + stored, source=source, updated_at=at
        )
        first = min([self.first_us, *(r.t_us for r in reports)])
        status = TrackStatus.LOST if updated.lost_at_us(lost_s) <= _us(at) else TrackStatus.ACTIVE
        return replace(updated, first_us=first, status=status)

    def view(self) -> dict[str, Any]:
        """The track as its owner sees it."""
        r, m = self.latest, self.motion()
        position = [r.lon, r.lat] if r.alt_m is None else [r.lon, r.lat, r.alt_m]
        return {
            "id": self.track_id,
            "party": self.party,
            "status": self.status.value,
            "source": self.source,
            "t": format_time(_time(r.t_us)),
            "position": {"type": "Point", "coordinates": position},
            "speed_mps": round(m.speed_mps, 3),
            "course_deg": round(m.course_deg, 3),
            "motion": "reported" if r.speed_mps is not None and r.course_deg is not None else "derived",
            "separation_m": r.separation_m,
            "stale": None if r.stale_us is None else format_time(_time(r.stale_us)),
            "first_t": format_time(_time(self.first_us)),
            "reports": self.reports,
            "updated_at": format_time(self.updated_at),
        }


def merge_newest(
    latest: Report | None, previous: Report | None, reports: Iterable[Report]
) -> tuple[Report, Report | None]:
    """The newest two reports (by time) among the known two and new ones; a time already known keeps its first
    report (the later ones are its duplicates)."""
    by_time: dict[int, Report] = {}
    for r in (latest, previous, *reports):
        if r is not None and r.t_us not in by_time:
            by_time[r.t_us] = r
    newest = sorted(by_time, reverse=True)[:2]
    return by_time[newest[0]], by_time[newest[1]] if len(newest) > 1 else None


def new_track(party: str, track_id: str, reports: Sequence[Report], source: str, at: datetime, lost_s: float) -> Track:
    """A track's first state, from its first batch (duplicates within it already dropped)."""
    latest, previous = merge_newest(None, None, reports)
    track = Track(
        party=party,
        track_id=track_id,
        status=TrackStatus.ACTIVE,
        source=source,
        latest=latest,
        previous=previous,
        reports=len(reports),
        first_us=min(r.t_us for r in reports),
        updated_at=at,
    )
    if track.lost_at_us(lost_s) <= _us(at):
        return replace(track, status=TrackStatus.LOST)
    return track
