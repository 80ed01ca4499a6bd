"""PostgreSQL implementation of the lines' storage (migration 0005)."""

from __future__ import annotations

import json
from typing import Any

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.domain.lines import Line
from deconfliction.storage import rows as from_row
from deconfliction.storage.lines import LinesTx
from deconfliction.storage.pgtime import TIMES
from deconfliction.storage.pgtime import ts as _ts


class PostgresLinesTx(LinesTx):
    c: Connection[DictRow]

    def save_line(self, line: Line) -> None:
        t = line.terms
        self.c.execute(
            "INSERT INTO lines (seq, id, proposer, partner, left_party, right_party, geometry, tolerance_m, salt,"
            " status, proposal_sig, answer_sig, created_at, updated_at, answered_at, withdrawn_by)"
            " VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM lines), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s) ON CONFLICT (id) DO UPDATE SET status = excluded.status, answer_sig = excluded.answer_sig,"
            " updated_at = excluded.updated_at, answered_at = excluded.answered_at,"
            " withdrawn_by = excluded.withdrawn_by",
            (
                line.id,
                t.proposer,
                t.partner,
                t.left,
                t.right,
                json.dumps(t.shape.geojson(), separators=(",", ":")),
                t.tolerance_m,
                line.salt,
                line.status.value,
                line.proposal_signature,
                line.answer_signature,
                _ts(line.created_at),
                _ts(line.updated_at),
                _ts(line.answered_at),
                line.withdrawn_by,
            ),
        )

    def get_line(self, line_id: str) -> Line | None:
        row = self.c.execute("SELECT * FROM lines WHERE id = %s", (line_id,)).fetchone()
        return None if row is None else from_row.line(row, TIMES)

    def list_lines(self, party: str, status: str | None, limit: int, before_seq: int | None) -> list[tuple[int, Line]]:
        where = [
            "seq IN (SELECT seq FROM lines WHERE proposer = %s UNION ALL SELECT seq FROM lines WHERE partner = %s)"
        ]
        args: list[Any] = [party, party]
        if status is not None:
            where.append("status = %s")
            args.append(status)
        if before_seq is not None:
            where.append("seq < %s")
            args.append(before_seq)
        args.append(limit)
        rows = self.c.execute(f"SELECT * FROM lines WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s", args)
        return [(int(r["seq"]), from_row.line(r, TIMES)) for r in rows]

    def accepted_lines_of(self, party: str) -> list[Line]:
        rows = self.c.execute(
            "SELECT * FROM lines WHERE status = 'accepted' AND proposer = %s UNION ALL"
            " SELECT * FROM lines WHERE status = 'accepted' AND partner = %s ORDER BY seq",
            (party, party),
        )
        return [from_row.line(r, TIMES) for r in rows]
