"""SQLite implementation of the change feed and the idempotency keys (migration 0007)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from deconfliction.storage.sqltime import dt_req, ts
from deconfliction.storage.sync import ChangeRow, IdempotencyRecord, SyncTx


class SqliteSyncTx(SyncTx):
    c: sqlite3.Connection

    def record_change(self, kind: str, ref: str, at: datetime) -> int:
        cur = self.c.execute("INSERT INTO changes (kind, ref, at) VALUES (?, ?, ?)", (kind, ref, ts(at)))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def changes_after(self, seq: int, limit: int) -> list[ChangeRow]:
        rows = self.c.execute("SELECT seq, kind, ref FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        return [ChangeRow(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def last_change_seq(self) -> int:
        return int(self.c.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])

    def first_change_seq(self) -> int:
        return int(self.c.execute("SELECT COALESCE(MIN(seq), 0) FROM changes").fetchone()[0])

    def prune_changes(self, before: datetime) -> int:
        cur = self.c.execute("DELETE FROM changes WHERE at < ? AND seq < (SELECT MAX(seq) FROM changes)", (ts(before),))
        return cur.rowcount

    def claim_idempotency(self, scope: str, key: str, fingerprint: str, at: datetime) -> bool:
        cur = self.c.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (scope, key) DO NOTHING",
            (scope, key, fingerprint, ts(at)),
        )
        return cur.rowcount == 1

    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = self.c.execute(
            "SELECT fingerprint, created_at, status, body, headers FROM idempotency_keys WHERE scope = ? AND key = ?",
            (scope, key),
        ).fetchone()
        if row is None:
            return None
        body = None if row[3] is None else bytes(row[3])
        return IdempotencyRecord(scope, key, str(row[0]), dt_req(row[1]), row[2], body, row[4])

    def complete_idempotency(self, scope: str, key: str, status: int, body: bytes, headers: str) -> None:
        self.c.execute(
            "UPDATE idempotency_keys SET status = ?, body = ?, headers = ? WHERE scope = ? AND key = ?",
            (status, body, headers, scope, key),
        )

    def prune_idempotency(self, before: datetime) -> int:
        return self.c.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (ts(before),)).rowcount
