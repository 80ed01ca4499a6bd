"""SQLite implementation of the live tracks' storage (migration 0004)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime

from deconfliction.domain.conflicts import ConflictKind
from deconfliction.domain.timewindow import format_time
from deconfliction.domain.tracks import Report, Track
from deconfliction.storage import rows as from_row
from deconfliction.storage.sqltime import TIMES
from deconfliction.storage.tracks import TracksTx


class SqliteTracksTx(TracksTx):
    c: sqlite3.Connection

    def insert_track_reports(self, party: str, track_id: str, reports: Sequence[Report], received_at: datetime) -> int:
        received_us = round(received_at.timestamp() * 1e6)
        cur = self.c.executemany(
            "INSERT OR IGNORE INTO track_reports (party, track_id, t_us, lon, lat, alt_m, speed_mps, course_deg,"
            " separation_m, stale_us, received_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    party,
                    track_id,
                    r.t_us,
                    r.lon,
                    r.lat,
                    r.alt_m,
                    r.speed_mps,
                    r.course_deg,
                    r.separation_m,
                    r.stale_us,
                    received_us,
                )
                for r in reports
            ],
        )
        return cur.rowcount

    def save_track(self, track: Track) -> None:
        self.c.execute(
            "INSERT INTO tracks (party, track_id, status, source, latest, previous, reports, first_us, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (party, track_id) DO UPDATE SET status = excluded.status,"
            " source = excluded.source, latest = excluded.latest, previous = excluded.previous,"
            " reports = excluded.reports, first_us = excluded.first_us, updated_at = excluded.updated_at",
            (
                track.party,
                track.track_id,
                track.status.value,
                track.source,
                from_row.report_json(track.latest),
                from_row.report_json(track.previous),
                track.reports,
                track.first_us,
                format_time(track.updated_at),
            ),
        )

    def get_track(self, party: str, track_id: str) -> Track | None:
        row = self.c.execute("SELECT * FROM tracks WHERE party = ? AND track_id = ?", (party, track_id)).fetchone()
        return None if row is None else from_row.track(row, TIMES)

    def list_tracks(self, party: str, statuses: Sequence[str], limit: int) -> list[Track]:
        marks = ", ".join("?" * len(statuses))
        rows = self.c.execute(
            f"SELECT * FROM tracks WHERE party = ? AND status IN ({marks}) ORDER BY track_id LIMIT ?",
            (party, *statuses, limit),
        )
        return [from_row.track(r, TIMES) for r in rows]

    def track_reports(self, party: str, track_id: str, limit: int) -> list[Report]:
        rows = self.c.execute(
            "SELECT * FROM track_reports WHERE party = ? AND track_id = ? ORDER BY t_us DESC LIMIT ?",
            (party, track_id, limit),
        )
        return [
            Report(
                r["t_us"],
                r["lon"],
                r["lat"],
                r["alt_m"],
                r["speed_mps"],
                r["course_deg"],
                r["separation_m"],
                r["stale_us"],
            )
            for r in rows
        ]

    def live_tracks(self) -> Iterator[Track]:
        for row in self.c.execute("SELECT * FROM tracks WHERE status != 'removed' ORDER BY party, track_id"):
            yield from_row.track(row, TIMES)

    def open_track_conflict_ids(self) -> list[str]:
        rows = self.c.execute(
            "SELECT id FROM conflicts WHERE resolved_at IS NULL AND kind IN (?, ?) AND"
            " (a_decl LIKE 'track:%' OR b_decl LIKE 'track:%') ORDER BY seq",
            (ConflictKind.CONVERGENCE.value, ConflictKind.LINE.value),
        )
        return [str(r[0]) for r in rows]
