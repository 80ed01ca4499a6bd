"""PostgreSQL implementation of the change feed and the idempotency keys (migration 0007)."""

from __future__ import annotations

from datetime import datetime
from typing import LiteralString

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.storage.pgtime import dt_req, ts
from deconfliction.storage.sync import ChangeRow, IdempotencyRecord, SyncTx


class PostgresSyncTx(SyncTx):
    c: Connection[DictRow]

    def record_change(self, kind: str, ref: str, at: datetime) -> int:
        # one more than the largest: write transactions run one at a time (the write lock), so this is commit order
        row = self.c.execute(
            "INSERT INTO changes (seq, kind, ref, at) VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM changes),"
            " %s, %s, %s) RETURNING seq",
            (kind, ref, ts(at)),
        ).fetchone()
        assert row is not None
        return int(row["seq"])

    def changes_after(self, seq: int, limit: int) -> list[ChangeRow]:
        rows = self.c.execute("SELECT seq, kind, ref FROM changes WHERE seq > %s ORDER BY seq LIMIT %s", (seq, limit))
        return [ChangeRow(int(r["seq"]), str(r["kind"]), str(r["ref"])) for r in rows]

    def last_change_seq(self) -> int:
        return self._scalar("SELECT COALESCE(MAX(seq), 0) AS n FROM changes")

    def first_change_seq(self) -> int:
        return self._scalar("SELECT COALESCE(MIN(seq), 0) AS n FROM changes")

    def _scalar(self, query: LiteralString) -> int:
        row = self.c.execute(query).fetchone()
        assert row is not None
        return int(row["n"])

    def prune_changes(self, before: datetime) -> int:
        cur = self.c.execute(
            "DELETE FROM changes WHERE at < %s AND seq < (SELECT MAX(seq) FROM changes)", (ts(before),)
        )
        return cur.rowcount

    def claim_idempotency(self, scope: str, key: str, fingerprint: str, at: datetime) -> bool:
        cur = self.c.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (scope, key) DO NOTHING",
            (scope, key, fingerprint, ts(at)),
        )
        return cur.rowcount == 1

    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = self.c.execute(
            "SELECT fingerprint, created_at, status, body, headers FROM idempotency_keys WHERE scope = %s AND key = %s",
            (scope, key),
        ).fetchone()
        if row is None:
            return None
        body = None if row["body"] is None else bytes(row["body"])
        return IdempotencyRecord(
            scope, key, str(row["fingerprint"]), dt_req(row["created_at"]), row["status"], body, row["headers"]
        )

    def complete_idempotency(self, scope: str, key: str, status: int, body: bytes, headers: str) -> None:
        self.c.execute(
            "UPDATE idempotency_keys SET status = %s, body = %s, headers = %s WHERE scope = %s AND key = %s",
            (status, body, headers, scope, key),
        )

    def prune_idempotency(self, before: datetime) -> int:
        return self.c.execute("DELETE FROM idempotency_keys WHERE created_at < %s", (ts(before),)).rowcount
