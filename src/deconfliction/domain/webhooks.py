"""Webhooks: each party's events POSTed to a URL it registers, signed with HMAC-SHA256, retried with backoff, paused
when they keep failing. Where a URL may point: webhook_targets.py."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from deconfliction.domain.timewindow import format_time

SIGNATURE_HEADER = "X-Deconf-Signature"
TIMESTAMP_HEADER = "X-Deconf-Timestamp"
EVENT_ID_HEADER = "X-Deconf-Event-Id"
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0
PAUSED_S = math.inf  # next_attempt_s of a paused webhook: never due until its party resumes it


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">`: the receiver recomputes it and rejects old timestamps."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff_s(failures: int) -> float:
    """Seconds before the next attempt after `failures` failures in a row: 1, 2, 4, … capped at 5 minutes."""
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    party: str
    url: str
    secret: str
    created_at: datetime
    cursor: int  # the last event id delivered
    failures: int = 0
    next_attempt_s: float = 0.0  # epoch seconds
    last_error: str | None = None
    last_delivered_at: datetime | None = None
    removed_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.next_attempt_s == PAUSED_S

    def due(self, now_s: float) -> bool:
        return self.removed_at is None and self.next_attempt_s <= now_s

    def failed(self, error: str, now_s: float, pause_after: int) -> Webhook:
        """After a failed attempt: backed off, or paused once `pause_after` attempts in a row have failed."""
        failures = self.failures + 1
        next_s = PAUSED_S if failures >= pause_after else now_s + backoff_s(failures)
        return replace(self, failures=failures, next_attempt_s=next_s, last_error=error)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "created_at": format_time(self.created_at),
            "delivered_through": self.cursor,
            "failures": self.failures,
            "paused": self.paused,
            "last_error": self.last_error,
            "last_delivered_at": None if self.last_delivered_at is None else format_time(self.last_delivered_at),
        }
