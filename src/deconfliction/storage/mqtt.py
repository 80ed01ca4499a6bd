"""The storage interface of the parties' MQTT signing secrets (see base.Tx)."""

from __future__ import annotations

import abc
from datetime import datetime


class MqttTx(abc.ABC):
    @abc.abstractmethod
    def mqtt_secret(self, party: str) -> tuple[str, datetime] | None:
        """(secret, created_at) of the party's current MQTT signing secret, if it has one."""

    @abc.abstractmethod
    def set_mqtt_secret(self, party: str, secret: str, at: datetime) -> None:
        """Store the party's signing secret, replacing the previous one."""
