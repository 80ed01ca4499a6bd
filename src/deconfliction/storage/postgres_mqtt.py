"""PostgreSQL implementation of the MQTT signing secrets' storage (migration 0006)."""

from __future__ import annotations

from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.storage.mqtt import MqttTx
from deconfliction.storage.pgtime import dt_req, ts


class PostgresMqttTx(MqttTx):
    c: Connection[DictRow]

    def mqtt_secret(self, party: str) -> tuple[str, datetime] | None:
        row = self.c.execute("SELECT secret, created_at FROM mqtt_secrets WHERE party = %s", (party,)).fetchone()
        return None if row is None else (str(row["secret"]), dt_req(row["created_at"]))

    def set_mqtt_secret(self, party: str, secret: str, at: datetime) -> None:
        self.c.execute(
            "INSERT INTO mqtt_secrets (party, secret, created_at) VALUES (%s, %s, %s) ON CONFLICT (party)"
            " DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
            (party, secret, ts(at)),
        )
