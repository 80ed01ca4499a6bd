"""PostgreSQL implementation of declarations and conflicts: PostGIS boxes and float8 ranges under GiST indexes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.domain.conflicts import Conflict
from deconfliction.domain.declarations import (
    AUDIENCE_ALL,
    Declaration,
)
from deconfliction.domain.probing import Ended
from deconfliction.storage import rows as from_row
from deconfliction.storage.base import Box, DeclarationQuery
from deconfliction.storage.pgtime import TIMES
from deconfliction.storage.pgtime import ts as _ts

_BATCH = 2_000
_ENVELOPE = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"


def _during(query: DeclarationQuery, args: list[Any]) -> list[str]:
    """The time filter: windows (half-open) that overlap the query's open interval, exactly as SQLite's
    `start_s < end AND (end_s IS NULL OR end_s > start)` — one range when it is one, which the planner estimates
    well; two half-bounded ones otherwise (an end before the start still means what it means to SQLite)."""
    start_s, end_s = query.start_s, query.end_s
    if start_s is not None and end_s is not None and start_s < end_s:
        args.extend([start_s, end_s])
        return ["during_s && deconf_float8range(%s, %s, '()')"]
    out = []
    if end_s is not None:
        out.append("during_s && deconf_float8range(NULL, %s, '()')")
        args.append(end_s)
    if start_s is not None:
        out.append("during_s && deconf_float8range(%s, NULL, '()')")
        args.append(start_s)
    return out


class PostgresDeclarationsTx:
    c: Connection[DictRow]

    # declarations ----------------------------------------------------------------------------------------------
    def next_declaration_key(self) -> int:
        row = self.c.execute("SELECT COALESCE(MAX(key), 0) + 1 AS key FROM declarations").fetchone()
        assert row is not None
        return int(row["key"])

    def save_declaration(self, declaration: Declaration, boxes: Sequence[Box]) -> None:
        d, s = declaration, declaration.spec
        feature = json.dumps(d.to_feature(), separators=(",", ":"))
        b2: Sequence[float | None] = boxes[1] if len(boxes) > 1 else (None, None, None, None)
        end_s = None if s.window.end is None else s.window.end_s
        self.c.execute(
            "INSERT INTO declarations (key, id, party, version, status, kind, feature, audience_all, box1, box2,"
            f" during_s, altitude_m, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {_ENVELOPE},"
            f" {_ENVELOPE}, deconf_float8range(%s, %s, '[)'), deconf_float8range(%s, %s, '[]'), %s, %s)"
            " ON CONFLICT (key) DO UPDATE SET version = excluded.version, status = excluded.status,"
            " kind = excluded.kind, feature = excluded.feature, audience_all = excluded.audience_all,"
            " box1 = excluded.box1, box2 = excluded.box2, during_s = excluded.during_s,"
            " altitude_m = excluded.altitude_m, updated_at = excluded.updated_at",
            (
                d.key,
                d.id,
                d.party,
                d.version,
                d.status.value,
                s.kind.value,
                feature,
                s.audience == AUDIENCE_ALL,
                *boxes[0],
                *b2,
                s.window.start_s,
                end_s,
                s.altitude.lower_m,
                s.altitude.upper_m,
                _ts(d.created_at),
                _ts(d.updated_at),
            ),
        )
        if d.version > 1:
            self.c.execute("DELETE FROM declaration_audience WHERE key = %s", (d.key,))
        if isinstance(s.audience, tuple):
            with self.c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO declaration_audience (party, key) VALUES (%s, %s)", [(p, d.key) for p in s.audience]
                )
        self.c.execute(
            "INSERT INTO declaration_versions (key, version, status, feature, at) VALUES (%s, %s, %s, %s, %s)",
            (d.key, d.version, d.status.value, feature, _ts(d.updated_at)),
        )

    def get_declaration(self, declaration_id: str) -> Declaration | None:
        row = self.c.execute("SELECT * FROM declarations WHERE id = %s", (declaration_id,)).fetchone()
        return None if row is None else from_row.declaration(row, TIMES)

    def get_declarations(self, declaration_ids: Sequence[str]) -> list[Declaration]:
        if not declaration_ids:
            return []
        rows = self.c.execute("SELECT * FROM declarations WHERE id = ANY(%s)", (list(declaration_ids),)).fetchall()
        return [from_row.declaration(r, TIMES) for r in rows]

    def list_declarations(self, query: DeclarationQuery) -> list[tuple[int, dict[str, Any]]]:
        # Never a scan of the whole table. Given neither place nor time, what the viewer may see is read through the
        # btree indexes (own, shared with all, shared with it), as the SQLite backend does. Given a place or a time,
        # the GiST indexes find the candidates, each checked for visibility (its owner, shared with all, or a hashed
        # look-up of what is shared with the viewer). Those keys are gathered first (MATERIALIZED): offered the
        # LIMIT, the planner would rather walk the primary key in order and filter, which reads the whole table
        # when few rows qualify.
        where: list[str] = []
        args: list[Any] = []
        if query.boxes:
            one = f"box1 && {_ENVELOPE} OR box2 && {_ENVELOPE}"
            where.append("(" + " OR ".join([one] * len(query.boxes)) + ")")
            for box in query.boxes:
                args.extend([*box, *box])
        where.extend(_during(query, args))
        indexed = bool(where)
        if indexed:
            where.append(
                "(party = %s OR audience_all OR key IN (SELECT key FROM declaration_audience WHERE party = %s))"
            )
        else:
            where.append(
                "key IN (SELECT key FROM declarations WHERE party = %s UNION ALL SELECT key FROM declarations"
                " WHERE audience_all UNION ALL SELECT key FROM declaration_audience WHERE party = %s)"
            )
        args.extend([query.viewer, query.viewer, query.after_key])
        where.append("key > %s")
        if query.status is not None:
            where.append("status = %s")
            args.append(query.status)
        if query.party is not None:
            where.append("party = %s")
            args.append(query.party)
        args.append(query.limit)
        if indexed:
            sql = (
                f"WITH hit AS MATERIALIZED (SELECT key FROM declarations WHERE {' AND '.join(where)})"
                " SELECT key, feature FROM declarations WHERE key IN (SELECT key FROM hit ORDER BY key LIMIT %s)"
                " ORDER BY key"
            )
        else:
            sql = f"SELECT key, feature FROM declarations WHERE {' AND '.join(where)} ORDER BY key LIMIT %s"
        # The stored Feature is what the API shows: no need to rebuild the declaration to list it.
        return [(int(r["key"]), json.loads(r["feature"])) for r in self.c.execute(sql, args)]

    def visible_declaration_ids(self, viewer: str, declaration_ids: Sequence[str]) -> set[str]:
        if not declaration_ids:
            return set()
        rows = self.c.execute(
            "SELECT id FROM declarations WHERE id = ANY(%s) AND (party = %s OR audience_all OR key IN"
            " (SELECT key FROM declaration_audience WHERE party = %s))",
            (list(declaration_ids), viewer, viewer),
        )
        return {str(r["id"]) for r in rows}

    def active_declarations(self) -> Iterator[Declaration]:
        # In batches, by key: a large channel is never held twice in memory, and no cursor outlives a batch.
        after = 0
        while True:
            rows = self.c.execute(
                "SELECT * FROM declarations WHERE status = 'active' AND key > %s ORDER BY key LIMIT %s",
                (after, _BATCH),
            ).fetchall()
            for row in rows:
                yield from_row.declaration(row, TIMES)
            if len(rows) < _BATCH:
                return
            after = rows[-1]["key"]

    def count_active_declarations(self) -> int:
        row = self.c.execute("SELECT COUNT(*) AS n FROM declarations WHERE status = 'active'").fetchone()
        assert row is not None
        return int(row["n"])

    # conflicts -------------------------------------------------------------------------------------------------
    def save_conflict(self, conflict: Conflict) -> None:
        k, a, b = conflict, conflict.a, conflict.b
        self.c.execute(
            "INSERT INTO conflicts (seq, id, kind, a_party, a_decl, a_version, a_lon, a_lat, a_ack_at, b_party,"
            " b_decl, b_version, b_lon, b_lat, b_ack_at, distance_m, required_m, start_at, end_at, opened_at,"
            " resolved_at, resolved_reason, a_ack_sig, b_ack_sig, a_uncertainty_m, b_uncertainty_m, resolved_by) VALUES"
            " ((SELECT COALESCE(MAX(seq), 0) + 1 FROM conflicts), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " a_ack_at = excluded.a_ack_at, b_ack_at = excluded.b_ack_at, a_ack_sig = excluded.a_ack_sig,"
            " b_ack_sig = excluded.b_ack_sig, resolved_at = excluded.resolved_at,"
            " resolved_reason = excluded.resolved_reason, resolved_by = excluded.resolved_by",
            (
                k.id,
                k.kind.value,
                a.party,
                a.declaration,
                a.declaration_version,
                a.location[0],
                a.location[1],
                _ts(a.acknowledged_at),
                b.party,
                b.declaration,
                b.declaration_version,
                b.location[0],
                b.location[1],
                _ts(b.acknowledged_at),
                k.distance_m,
                k.required_m,
                _ts(k.window.start),
                _ts(k.window.end),
                _ts(k.opened_at),
                _ts(k.resolved_at),
                None if k.resolved_reason is None else k.resolved_reason.value,
                a.ack_signature,
                b.ack_signature,
                a.uncertainty_m,
                b.uncertainty_m,
                k.resolved_by,
            ),
        )

    def get_conflict(self, conflict_id: str) -> Conflict | None:
        row = self.c.execute("SELECT * FROM conflicts WHERE id = %s", (conflict_id,)).fetchone()
        return None if row is None else from_row.conflict(row, TIMES)

    def conflicts_opened(self) -> int:
        # seq is one more than the largest, and conflicts are never deleted: the largest is how many were opened
        row = self.c.execute("SELECT COALESCE(MAX(seq), 0) AS n FROM conflicts").fetchone()
        assert row is not None
        return int(row["n"])

    def ended_probes(self, party: str, since: datetime) -> list[Ended]:
        rows = self.c.execute(
            "SELECT b_decl, opened_at, resolved_at FROM conflicts WHERE a_party = %s AND opened_at >= %s"
            " AND resolved_by = a_party AND a_uncertainty_m > 0",
            (party, _ts(since)),
        )
        return [Ended(r["b_decl"], TIMES.req(r["opened_at"]), TIMES.req(r["resolved_at"])) for r in rows]

    def last_declaration_write(self, party: str) -> datetime | None:
        row = self.c.execute("SELECT MAX(updated_at) AS at FROM declarations WHERE party = %s", (party,)).fetchone()
        return None if row is None else TIMES.dt(row["at"])

    def open_conflicts_of_declaration(self, declaration_id: str) -> list[Conflict]:
        rows = self.c.execute(
            "SELECT * FROM conflicts WHERE resolved_at IS NULL AND a_decl = %s UNION ALL "
            "SELECT * FROM conflicts WHERE resolved_at IS NULL AND b_decl = %s ORDER BY seq",
            (declaration_id, declaration_id),
        )
        return [from_row.conflict(r, TIMES) for r in rows]

    def list_conflicts(
        self, party: str, status: str | None, limit: int, before_seq: int | None = None
    ) -> list[Conflict]:
        out: list[tuple[int, Conflict]] = []
        for side, other in (("a", "b"), ("b", "a")):
            where = [f"{side}_party = %s", f"{other}_party <> %s"]
            args: list[Any] = [party, party]
            if before_seq is not None:
                where.append("seq < %s")
                args.append(before_seq)
            if status == "resolved":
                where.append("resolved_at IS NOT NULL")
            elif status == "open":
                where.append(f"resolved_at IS NULL AND {side}_ack_at IS NULL")
            elif status == "acknowledged":
                where.append(f"resolved_at IS NULL AND {side}_ack_at IS NOT NULL")
            sql = f"SELECT * FROM conflicts WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s"
            args.append(limit)
            out.extend((int(r["seq"]), from_row.conflict(r, TIMES)) for r in self.c.execute(sql, args))
        out.sort(key=lambda pair: pair[0], reverse=True)
        return [c for _, c in out[:limit]]
