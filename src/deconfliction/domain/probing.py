"""Probing: a party whose brief declarations keep opening conflicts with the same declaration hidden from it.

Coverings bound what each answer can tell (domain/covering.py); this sees the asking. A *probe* is a conflict that
a party's declaration opened with a declaration it may not see, ended by that party within `brief_s` of opening —
by cancelling or changing its declaration. `count` probes of the same declaration within `window_s` flag the party:
the owner is told (`disclosure.probing`), and the flagged party may then write declarations only once in `delay_s`
until `window_s` has passed since its last probe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ProbeRule:
    count: int = 6
    window_s: float = 3_600.0
    brief_s: float = 600.0
    delay_s: float = 60.0

    def since(self, at: datetime) -> datetime:
        return at - timedelta(seconds=self.window_s)


@dataclass(frozen=True, slots=True)
class Ended:
    """A conflict a party's declaration opened with a hidden declaration, and its opener ended."""

    declaration: str  # the hidden declaration's id
    opened_at: datetime
    resolved_at: datetime


def probes(rule: ProbeRule, ended: Iterable[Ended]) -> list[Ended]:
    """Those that count as probes: ended within `brief_s` of opening."""
    return [e for e in ended if (e.resolved_at - e.opened_at).total_seconds() <= rule.brief_s]


def probing_of(rule: ProbeRule, ended: Iterable[Ended], declaration: str) -> tuple[int, datetime | None]:
    """How many probes of `declaration` there were in the window, and when the first of them opened."""
    found = [e for e in probes(rule, ended) if e.declaration == declaration]
    return len(found), min((e.opened_at for e in found), default=None)


def is_flagged(rule: ProbeRule, ended: Iterable[Ended]) -> bool:
    """At least `count` probes of any one declaration in the window."""
    counts = Counter(e.declaration for e in probes(rule, ended))
    return bool(counts) and max(counts.values()) >= rule.count


def tells_owner(rule: ProbeRule, count: int) -> bool:
    """The owner is told at the count, and again at every further multiple of it."""
    return count >= rule.count and count % rule.count == 0
