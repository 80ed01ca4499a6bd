"""What both index implementations share: the volume types, their validation, and keyed insert/delete."""

from __future__ import annotations

import abc
import math
import threading
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

Box = tuple[float, float, float, float]
"""minlon, minlat, maxlon, maxlat in degrees, already split at ±180 by the caller."""

Item = tuple[int, Sequence[Box], float, "float | None", float, "float | None"]
"""One declaration for `bulk_load`: key, boxes, start_s, end_s, lower_m, upper_m."""

Window = tuple[float, float]  # start_s, end_s (+inf when open)
Band = tuple[float, float]  # lower_m, upper_m (+inf when unlimited)

NO_ENTRY = -1


def check_boxes(boxes: Sequence[Box]) -> None:
    if not boxes:
        raise ValueError("at least one box is required")
    for box in boxes:
        minlon, minlat, maxlon, maxlat = box
        # Written so that NaN fails too.
        if not (-180.0 <= minlon <= maxlon <= 180.0 and -90.0 <= minlat <= maxlat <= 90.0):
            raise ValueError(f"box {box!r} is not (minlon, minlat, maxlon, maxlat) in ±180, ±90")


def window(start_s: float, end_s: float | None) -> Window:
    """The window as (start, end), +inf for an open end; ValueError if it is empty or NaN."""
    end = math.inf if end_s is None else float(end_s)
    if not start_s < end or math.isinf(start_s):
        raise ValueError(f"time window [{start_s}, {end_s}) is empty or invalid")
    return float(start_s), end


def band(lower_m: float, upper_m: float | None) -> Band:
    """The band as (lower, upper), +inf for an open upper; ValueError if upper < lower or NaN."""
    upper = math.inf if upper_m is None else float(upper_m)
    if not lower_m <= upper:
        raise ValueError(f"altitude band [{lower_m}, {upper_m}] is invalid")
    return float(lower_m), upper


def check_key(key: int) -> None:
    if not -(2**63) <= key < 2**63:
        raise ValueError(f"key {key} does not fit in 64 bits")


def validated(items: Iterable[Item]) -> Iterator[tuple[int, Sequence[Box], Window, Band]]:
    """Bulk-load items checked like single inserts, and with distinct keys."""
    seen: set[int] = set()
    for key, boxes, start_s, end_s, lower_m, upper_m in items:
        check_key(key)
        check_boxes(boxes)
        if key in seen:
            raise ValueError(f"duplicate key {key} in bulk_load")
        seen.add(key)
        yield key, boxes, window(start_s, end_s), band(lower_m, upper_m)


class Entries:
    """Per-entry columns (numpy arrays named in `columns`) indexed by entry id, grown by doubling.

    Entries of one key are chained through `next`; freed ids are reused.
    """

    columns: tuple[str, ...] = ("key", "next")

    def __init__(self, capacity: int) -> None:
        self.key = np.zeros(capacity, np.int64)
        self.next = np.full(capacity, NO_ENTRY, np.int64)  # next box of the same key
        self.used = 0  # ids below this have been handed out
        self.free: list[int] = []

    def chain(self, eid: int) -> Iterator[int]:
        """The ids of the entries of one key, from its first."""
        while eid != NO_ENTRY:
            yield eid
            eid = int(self.next[eid])

    def allocate(self) -> int:
        if self.free:
            return self.free.pop()
        if self.used == len(self.key):
            self._grow(2 * len(self.key))
        self.used += 1
        return self.used - 1

    def _grow(self, capacity: int) -> None:
        for name in self.columns:
            old = getattr(self, name)
            new = np.full((capacity, *old.shape[1:]), NO_ENTRY if name == "next" else 0, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)


class KeyedIndex(abc.ABC):
    """Keys → chains of entries, one per box; one lock around every public method.

    The lock makes one writer and any number of readers safe; readers are serialised with each other too (a query
    holds it for tens of microseconds, and the GIL would serialise most of that work anyway).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: dict[int, int] = {}  # key -> id of its first entry

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def insert(
        self, key: int, boxes: Sequence[Box], start_s: float, end_s: float | None, lower_m: float, upper_m: float | None
    ) -> None:
        """Add the declaration `key`, replacing any entry with that key (an update is an insert)."""
        check_key(key)
        check_boxes(boxes)
        win, bnd = window(start_s, end_s), band(lower_m, upper_m)
        with self._lock:
            self._remove(key)
            self._add(key, boxes, win, bnd)

    def delete(self, key: int) -> bool:
        """Remove the declaration `key`; True if it was there."""
        with self._lock:
            return self._remove(key)

    @abc.abstractmethod
    def _add(self, key: int, boxes: Sequence[Box], win: Window, bnd: Band) -> None:
        """Store a new key's entries (lock held, key absent)."""

    @abc.abstractmethod
    def _remove(self, key: int) -> bool:
        """Drop a key's entries (lock held); True if it was there."""
