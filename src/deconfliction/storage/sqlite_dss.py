"""SQLite implementation of the DSS entities' storage (migration 0008)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from deconfliction.domain.timewindow import format_time
from deconfliction.storage.dss import DssDoc, DssTx

_COMPACT = (",", ":")


def _doc(row: sqlite3.Row) -> DssDoc:
    return DssDoc(str(row["kind"]), str(row["id"]), str(row["manager"]), json.loads(row["doc"]))


class SqliteDssTx(DssTx):
    c: sqlite3.Connection

    def save_dss(self, entry: DssDoc, at: datetime) -> None:
        self.c.execute(
            "INSERT INTO dss_entities (kind, id, manager, doc, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, id) DO UPDATE SET manager = excluded.manager, doc = excluded.doc,"
            " updated_at = excluded.updated_at",
            (entry.kind, entry.id, entry.manager, json.dumps(entry.doc, separators=_COMPACT), format_time(at)),
        )

    def delete_dss(self, kind: str, entity_id: str) -> None:
        self.c.execute("DELETE FROM dss_entities WHERE kind = ? AND id = ?", (kind, entity_id))

    def get_dss(self, kind: str, entity_id: str) -> DssDoc | None:
        row = self.c.execute("SELECT * FROM dss_entities WHERE kind = ? AND id = ?", (kind, entity_id)).fetchone()
        return None if row is None else _doc(row)

    def get_dss_many(self, kind: str, entity_ids: list[str]) -> list[DssDoc]:
        found: list[DssDoc] = []
        for start in range(0, len(entity_ids), 500):
            chunk = entity_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.c.execute(f"SELECT * FROM dss_entities WHERE kind = ? AND id IN ({marks})", (kind, *chunk))
            found.extend(_doc(r) for r in rows)
        return found

    def all_dss(self, kind: str) -> list[DssDoc]:
        return [_doc(r) for r in self.c.execute("SELECT * FROM dss_entities WHERE kind = ?", (kind,))]
