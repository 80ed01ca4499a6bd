"""Times (RFC 3339 with offset, always returned in UTC) and half-open time windows."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from deconfliction.domain.errors import InvalidInput

# RFC 3339 date-time: the offset is mandatory; a naive time would be read differently by each party.
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(value: object, field: str) -> datetime:
    """Parse an RFC 3339 date-time with offset into an aware UTC datetime, or raise InvalidInput naming `field`."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an RFC 3339 date-time string with offset", field=field)
    m = _RFC3339.match(value)
    if not m:
        raise InvalidInput(
            f"{field} {value!r} is not an RFC 3339 date-time with offset (e.g. 2017-09-09T05:00:00Z)",
            field=field,
        )
    text = value.replace("z", "Z").replace("Z", "+00:00")
    frac = m.group(7)
    if frac and len(frac) > 7:  # Python keeps microseconds; nanoseconds are truncated, not refused
        text = text.replace(frac, frac[:7])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{field} {value!r} is not a valid date-time: {exc}", field=field) from exc
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC, which datetime cannot hold
        raise InvalidInput(f"{field} {value!r} is outside the years 1 to 9999 in UTC", field=field) from exc


def format_time(value: datetime) -> str:
    """UTC with `Z`; microseconds only when present."""
    u = value if value.tzinfo is UTC else value.astimezone(UTC)
    # f-strings: several times faster than strftime, and this runs many times per write
    text = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
    return f"{text}.{u.microsecond:06d}Z" if u.microsecond else f"{text}Z"


def to_epoch_s(value: datetime) -> float:
    return value.timestamp()


def from_epoch_s(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """[start, end): `end` None means open-ended. Windows that only touch do not overlap."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise InvalidInput(
                f"properties.end ({format_time(self.end)}) must be after properties.start ({format_time(self.start)})",
                field="properties.end",
            )

    @classmethod
    def instant(cls, at: datetime) -> TimeWindow:
        """A window of one instant (start == end): the time of a closest approach, as a conflict reports it."""
        window = cls.__new__(cls)
        object.__setattr__(window, "start", at)
        object.__setattr__(window, "end", at)
        return window

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return math.inf if self.end is None else self.end.timestamp()

    def overlap(self, other: TimeWindow) -> TimeWindow | None:
        """The common part of two windows, or None when they do not overlap."""
        start = max(self.start, other.start)
        if self.end is None:
            end = other.end
        elif other.end is None:
            end = self.end
        else:
            end = min(self.end, other.end)
        if end is not None and end <= start:
            return None
        return TimeWindow(start, end)

    def contains(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def utcnow() -> datetime:
    return datetime.now(UTC)
