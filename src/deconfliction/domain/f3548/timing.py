"""F3548-21 time rules for writes, each a pure function of the request and `now`.

Choices (the reference is the InterUSS DSS):

* "The end time may not be in the past": time_end < now is refused; time_end == now is accepted (as the
  reference: ``EndTime.Before(now)``).
* OI planning horizon (OiMaxPlanHorizonDays = 30): enforced by default on the union's start. The standard puts it
  on the USS and the reference DSS does not check it; pass ``horizon=None`` to skip.
* Constraints: CstrMaxPlanningHorizonDays (56) on the start and CstrMaxDurationHours (24) on the union's length,
  by default; the reference enforces neither; pass None to skip.
* Subscriptions, as the reference: an absent time_start is now (on creation) or the previous start (on update); a
  given one may not be more than 5 minutes in the past. An absent time_end — "chosen automatically by the DSS" —
  is the previous end (on update) or start + DSSMaxSubscriptionDurationHours (24 h). time_end may not precede
  time_start (equal is an instant, accepted like the reference), nor be in the past, and the window may not
  exceed 24 h.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.timewindow import TimeWindow, format_time

OI_MAX_PLAN_HORIZON = timedelta(days=30)  # OiMaxPlanHorizonDays
CSTR_MAX_PLAN_HORIZON = timedelta(days=56)  # CstrMaxPlanningHorizonDays
CSTR_MAX_DURATION = timedelta(hours=24)  # CstrMaxDurationHours
SUBSCRIPTION_MAX_DURATION = timedelta(hours=24)  # DSSMaxSubscriptionDurationHours
MAX_CLOCK_SKEW = timedelta(minutes=5)  # how far in the past a subscription's given start may be


def check_not_ended(window: TimeWindow, now: datetime, field: str = "extents") -> None:
    """'The end time may not be in the past.'"""
    if window.end is not None and window.end < now:
        raise InvalidInput(
            f"{field}: the end time ({format_time(window.end)}) may not be in the past (now {format_time(now)})",
            field=field,
        )


def _check_horizon(window: TimeWindow, now: datetime, horizon: timedelta | None, field: str, name: str) -> None:
    if horizon is not None and window.start > now + horizon:
        raise InvalidInput(
            f"{field}: the start time ({format_time(window.start)}) is more than {horizon.days} days ahead ({name})",
            field=field,
        )


def check_oi_window(
    window: TimeWindow, now: datetime, *, field: str = "extents", horizon: timedelta | None = OI_MAX_PLAN_HORIZON
) -> None:
    """An OI's extents (their union window): not ended, and starting within the planning horizon."""
    check_not_ended(window, now, field)
    _check_horizon(window, now, horizon, field, "OiMaxPlanHorizonDays")


def check_constraint_window(
    window: TimeWindow,
    now: datetime,
    *,
    field: str = "extents",
    horizon: timedelta | None = CSTR_MAX_PLAN_HORIZON,
    max_duration: timedelta | None = CSTR_MAX_DURATION,
) -> None:
    """A constraint's extents (their union window): not ended, within the horizon and the maximum duration."""
    check_not_ended(window, now, field)
    _check_horizon(window, now, horizon, field, "CstrMaxPlanningHorizonDays")
    if max_duration is not None and window.end is not None and window.end - window.start > max_duration:
        hours = max_duration.total_seconds() / 3600
        raise InvalidInput(f"{field}: a constraint may last at most {hours:g} hours (CstrMaxDurationHours)",
                           field=field)  # fmt: skip


def subscription_window(
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    *,
    previous: TimeWindow | None = None,
    field: str = "extents",
) -> TimeWindow:
    """A subscription's window from its requested (possibly absent) bounds; see the module doc for the rules."""
    if start is None:
        start = now if previous is None else previous.start
    elif now - start > MAX_CLOCK_SKEW:
        raise InvalidInput(
            f"{field}.time_start ({format_time(start)}) is in the past (now {format_time(now)})",
            field=f"{field}.time_start",
        )
    if end is None:
        end = start + SUBSCRIPTION_MAX_DURATION if previous is None or previous.end is None else previous.end
    if end < start:
        raise InvalidInput(f"{field}.time_end ({format_time(end)}) must be after time_start ({format_time(start)})",
                           field=f"{field}.time_end")  # fmt: skip
    if end < now:
        raise InvalidInput(f"{field}.time_end ({format_time(end)}) may not be in the past", field=f"{field}.time_end")
    if end - start > SUBSCRIPTION_MAX_DURATION:
        raise InvalidInput(
            f"{field}: a subscription may last at most 24 hours (DSSMaxSubscriptionDurationHours); "
            f"{format_time(start)} to {format_time(end)} is longer",
            field=f"{field}.time_end",
        )
    return TimeWindow.instant(start) if end == start else TimeWindow(start, end)
