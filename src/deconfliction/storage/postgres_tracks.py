"""PostgreSQL implementation of the live tracks' storage (migration 0004)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.domain.conflicts import ConflictKind
from deconfliction.domain.tracks import Report, Track
from deconfliction.storage import rows as from_row
from deconfliction.storage.pgtime import TIMES, ts
from deconfliction.storage.tracks import TracksTx

_BATCH = 2_000


class PostgresTracksTx(TracksTx):
    c: Connection[DictRow]

    def insert_track_reports(self, party: str, track_id: str, reports: Sequence[Report], received_at: datetime) -> int:
        received_us = round(received_at.timestamp() * 1e6)
        with self.c.cursor() as cur:
            cur.executemany(
                "INSERT INTO track_reports (party, track_id, t_us, lon, lat, alt_m, speed_mps, course_deg,"
                " separation_m, stale_us, received_us) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
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
            return max(cur.rowcount, 0)

    def save_track(self, track: Track) -> None:
        self.c.execute(
            "INSERT INTO tracks (party, track_id, status, source, latest, previous, reports, first_us, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (party, track_id) DO UPDATE SET"
            " status = excluded.status, source = excluded.source, latest = excluded.latest,"
            " previous = excluded.previous, reports = excluded.reports, first_us = excluded.first_us,"
            " updated_at = excluded.updated_at",
            (
                track.party,
                track.track_id,
                track.status.value,
                track.source,
                from_row.report_json(track.latest),
                from_row.report_json(track.previous),
                track.reports,
                track.first_us,
                ts(track.updated_at),
            ),
        )

    def get_track(self, party: str, track_id: str) -> Track | None:
        row = self.c.execute("SELECT * FROM tracks WHERE party = %s AND track_id = %s", (party, track_id)).fetchone()
        return None if row is None else from_row.track(row, TIMES)

    def list_tracks(self, party: str, statuses: Sequence[str], limit: int) -> list[Track]:
        rows = self.c.execute(
            "SELECT * FROM tracks WHERE party = %s AND status = ANY(%s) ORDER BY track_id LIMIT %s",
            (party, list(statuses), limit),
        )
        return [from_row.track(r, TIMES) for r in rows]

    def track_reports(self, party: str, track_id: str, limit: int) -> list[Report]:
        rows = self.c.execute(
            "SELECT * FROM track_reports WHERE party = %s AND track_id = %s ORDER BY t_us DESC LIMIT %s",
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
        # In batches, by key: the live picture is never held twice in memory, and no cursor outlives a batch.
        after = ("", "")
        while True:
            rows = self.c.execute(
                "SELECT * FROM tracks WHERE status <> 'removed' AND (party, track_id) > (%s, %s)"
                " ORDER BY party, track_id LIMIT %s",
                (*after, _BATCH),
            ).fetchall()
            for row in rows:
                yield from_row.track(row, TIMES)
            if len(rows) < _BATCH:
                return
            after = (rows[-1]["party"], rows[-1]["track_id"])

    def open_track_conflict_ids(self) -> list[str]:
        # LIKE, as SQLite's, matches 'track:' whatever the case of its ASCII letters
        rows = self.c.execute(
            "SELECT id FROM conflicts WHERE resolved_at IS NULL AND kind IN (%s, %s) AND"
            " (a_decl ILIKE %s OR b_decl ILIKE %s) ORDER BY seq",
            (ConflictKind.CONVERGENCE.value, ConflictKind.LINE.value, "track:%", "track:%"),
        )
        return [str(r["id"]) for r in rows]
