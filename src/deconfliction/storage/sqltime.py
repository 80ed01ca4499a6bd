"""How the SQLite backend stores times: RFC 3339 text in UTC with `Z` (sortable as text)."""

from __future__ import annotations

from datetime import UTC, datetime

from deconfliction.domain.timewindow import format_time
from deconfliction.storage.rows import Times


def ts(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def dt_req(value: str) -> datetime:
    parsed = dt(value)
    assert parsed is not None
    return parsed


TIMES = Times(dt)  # how rows.py reads this backend's times
