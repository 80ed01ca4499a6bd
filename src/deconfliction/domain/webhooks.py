"""Webhooks: each party's events POSTed to a URL it registers, signed with HMAC-SHA256, retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.timewindow import format_time

SIGNATURE_HEADER = "X-Deconf-Signature"
TIMESTAMP_HEADER = "X-Deconf-Timestamp"
EVENT_ID_HEADER = "X-Deconf-Event-Id"
MAX_URL_CHARS = 2_000
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0


def check_url(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise InvalidInput("url must be an http(s) URL string", field="url")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("url must not contain spaces or control characters (percent-encode them)", field="url")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535
    except ValueError as exc:  # e.g. an unclosed '[' of an IPv6 host
        raise InvalidInput(f"url {value!r} is not a valid URL: {exc}", field="url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"url {value!r} is not an http:// or https:// URL with a host", field="url")
    return value


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

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "created_at": format_time(self.created_at),
            "delivered_through": self.cursor,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_delivered_at": None if self.last_delivered_at is None else format_time(self.last_delivered_at),
        }
