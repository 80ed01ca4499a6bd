"""How the PostgreSQL backend passes times: timestamptz, microseconds, returned as aware UTC datetimes.

Written as SQLite's `format_time` reads them (a naive time is local time) and read back as `sqltime.dt` gives
them, so that a time round-trips to the same value on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime

from deconfliction.storage.rows import Times


def ts(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def dt(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def dt_req(value: datetime) -> datetime:
    return value.astimezone(UTC)


TIMES = Times(dt)  # how rows.py reads this backend's times
