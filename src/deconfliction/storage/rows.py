"""Stored rows back into domain objects, the same for both backends.

A row is read by column name (sqlite3.Row and psycopg's dict rows both allow it). Only times differ: SQLite keeps
RFC 3339 text, PostgreSQL timestamptz; each backend passes its `Times`, which turns what it stored back into an
aware UTC datetime.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconfliction.domain.conflicts import Conflict, ConflictKind, ConflictSide, ResolvedReason
from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
from deconfliction.domain.geometry import parse_geometry
from deconfliction.domain.lines import Line, LineStatus, LineTerms
from deconfliction.domain.messages import Message
from deconfliction.domain.notifications import Notification
from deconfliction.domain.parties import Link, Party, PartyStatus, RelayMode
from deconfliction.domain.timewindow import TimeWindow
from deconfliction.domain.tracks import Report, Track, TrackStatus
from deconfliction.domain.webhooks import Webhook

Row = Any  # sqlite3.Row or psycopg's DictRow: columns by name

# Stored declarations were valid when written; limits may have tightened since, so reload with none.
# Reloading takes parse_feature's trusted path, which re-checks nothing (limits included).
RELOAD_LIMITS = DeclarationLimits(
    max_vertices=10**9,
    max_area_m2=float("inf"),
    max_radius_m=float("inf"),
    max_separation_m=float("inf"),
    max_name_chars=10**9,
    max_audience=10**9,
)


@dataclass(frozen=True, slots=True)
class Times:
    """How a backend reads back a time it stored (None stays None)."""

    dt: Callable[[Any], datetime | None]

    def req(self, value: Any) -> datetime:
        parsed = self.dt(value)
        assert parsed is not None
        return parsed


def window(start: datetime, end: datetime | None) -> TimeWindow:
    """A conflict's window: an instant (a closest approach) when end == start."""
    return TimeWindow.instant(start) if end == start else TimeWindow(start, end)


def party(row: Row, t: Times) -> Party:
    return Party(row["id"], row["name"], PartyStatus(row["status"]), row["public_key"], t.req(row["created_at"]))


def link(row: Row, t: Times) -> Link:
    return Link(row["a"], row["b"], RelayMode(row["relay"]), t.req(row["created_at"]))


def declaration(row: Row, t: Times) -> Declaration:
    spec = parse_feature(json.loads(row["feature"]), RELOAD_LIMITS, trusted=True)
    return Declaration(
        key=row["key"],
        id=row["id"],
        party=row["party"],
        version=row["version"],
        spec=spec,
        status=DeclarationStatus(row["status"]),
        created_at=t.req(row["created_at"]),
        updated_at=t.req(row["updated_at"]),
    )


def conflict(row: Row, t: Times) -> Conflict:
    def side(p: str) -> ConflictSide:
        return ConflictSide(
            row[f"{p}_party"],
            row[f"{p}_decl"],
            row[f"{p}_version"],
            (row[f"{p}_lon"], row[f"{p}_lat"]),
            t.dt(row[f"{p}_ack_at"]),
            row[f"{p}_ack_sig"],
            row[f"{p}_uncertainty_m"],
        )

    reason = row["resolved_reason"]
    return Conflict(
        id=row["id"],
        kind=ConflictKind(row["kind"]),
        a=side("a"),
        b=side("b"),
        distance_m=row["distance_m"],
        required_m=row["required_m"],
        window=window(t.req(row["start_at"]), t.dt(row["end_at"])),
        opened_at=t.req(row["opened_at"]),
        resolved_at=t.dt(row["resolved_at"]),
        resolved_reason=None if reason is None else ResolvedReason(reason),
        resolved_by=row["resolved_by"],
    )


def message(doc: str) -> Message:
    return Message.from_record(json.loads(doc))


def notification(r: Row, t: Times) -> Notification:
    return Notification(
        id=r["id"],
        party=r["party"],
        owner=r["owner"],
        declaration=r["declaration"],
        version=r["version"],
        digest=r["digest"],
        salt=r["salt"],
        created_at=t.req(r["created_at"]),
        ack_by=t.dt(r["ack_by"]),
        acked_at=t.dt(r["acked_at"]),
        ack_signature=r["ack_signature"],
        overdue_at=t.dt(r["overdue_at"]),
        superseded_at=t.dt(r["superseded_at"]),
    )


def webhook(r: Row, t: Times) -> Webhook:
    return Webhook(
        r["id"],
        r["party"],
        r["url"],
        r["secret"],
        t.req(r["created_at"]),
        r["cursor"],
        r["failures"],
        r["next_attempt_s"],
        r["last_error"],
        t.dt(r["last_delivered_at"]),
        t.dt(r["removed_at"]),
    )


def report_json(report: Report | None) -> str | None:
    """A report as a compact JSON array (the track row holds two; written on every report, so kept cheap)."""
    if report is None:
        return None
    r = report
    return json.dumps([r.t_us, r.lon, r.lat, r.alt_m, r.speed_mps, r.course_deg, r.separation_m, r.stale_us])


def report(text: str) -> Report:
    return Report(*json.loads(text))


def track(row: Row, t: Times) -> Track:
    return Track(
        party=row["party"],
        track_id=row["track_id"],
        status=TrackStatus(row["status"]),
        source=row["source"],
        latest=report(row["latest"]),
        previous=None if row["previous"] is None else report(row["previous"]),
        reports=row["reports"],
        first_us=row["first_us"],
        updated_at=t.req(row["updated_at"]),
    )


def line(r: Row, t: Times) -> Line:
    shape = parse_geometry(json.loads(r["geometry"]), trusted=True)
    terms = LineTerms(r["proposer"], r["partner"], shape, r["left_party"], r["right_party"], r["tolerance_m"])
    return Line(
        id=r["id"],
        terms=terms,
        salt=r["salt"],
        status=LineStatus(r["status"]),
        created_at=t.req(r["created_at"]),
        updated_at=t.req(r["updated_at"]),
        proposal_signature=r["proposal_sig"],
        answer_signature=r["answer_sig"],
        answered_at=t.dt(r["answered_at"]),
        withdrawn_by=r["withdrawn_by"],
    )
