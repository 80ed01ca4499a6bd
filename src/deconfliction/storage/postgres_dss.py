"""PostgreSQL implementation of the DSS entities' storage (migration 0008)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.storage.dss import DssDoc, DssTx
from deconfliction.storage.pgtime import ts

_COMPACT = (",", ":")


def _doc(row: dict[str, Any]) -> DssDoc:
    return DssDoc(str(row["kind"]), str(row["id"]), str(row["manager"]), json.loads(row["doc"]))


class PostgresDssTx(DssTx):
    c: Connection[DictRow]

    def save_dss(self, entry: DssDoc, at: datetime) -> None:
        self.c.execute(
            "INSERT INTO dss_entities (kind, id, manager, doc, updated_at) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (kind, id) DO UPDATE SET manager = excluded.manager, doc = excluded.doc,"
            " updated_at = excluded.updated_at",
            (entry.kind, entry.id, entry.manager, json.dumps(entry.doc, separators=_COMPACT), ts(at)),
        )

    def delete_dss(self, kind: str, entity_id: str) -> None:
        self.c.execute("DELETE FROM dss_entities WHERE kind = %s AND id = %s", (kind, entity_id))

    def get_dss(self, kind: str, entity_id: str) -> DssDoc | None:
        row = self.c.execute("SELECT * FROM dss_entities WHERE kind = %s AND id = %s", (kind, entity_id)).fetchone()
        return None if row is None else _doc(row)

    def get_dss_many(self, kind: str, entity_ids: list[str]) -> list[DssDoc]:
        rows = self.c.execute("SELECT * FROM dss_entities WHERE kind = %s AND id = ANY(%s)", (kind, entity_ids))
        return [_doc(r) for r in rows]

    def all_dss(self, kind: str) -> list[DssDoc]:
        return [_doc(r) for r in self.c.execute("SELECT * FROM dss_entities WHERE kind = %s", (kind,))]
