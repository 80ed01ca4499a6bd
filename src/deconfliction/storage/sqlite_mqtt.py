"""SQLite implementation of the MQTT signing secrets' storage (migration 0006)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from deconfliction.domain.timewindow import format_time
from deconfliction.storage.mqtt import MqttTx


class SqliteMqttTx(MqttTx):
    c: sqlite3.Connection

    def mqtt_secret(self, party: str) -> tuple[str, datetime] | None:
        row = self.c.execute("SELECT secret, created_at FROM mqtt_secrets WHERE party = ?", (party,)).fetchone()
        if row is None:
            return None
        return str(row[0]), datetime.fromisoformat(str(row[1]).replace("Z", "+00:00")).astimezone(UTC)

    def set_mqtt_secret(self, party: str, secret: str, at: datetime) -> None:
        self.c.execute(
            "INSERT INTO mqtt_secrets (party, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (party)"
            " DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
            (party, secret, format_time(at)),
        )
