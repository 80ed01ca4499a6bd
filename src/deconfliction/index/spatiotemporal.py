"""The in-memory spatio-temporal index: which declarations might conflict with this one?

A 3-D R-tree (libspatialindex through `rtree`) over lon, lat and time holds one entry per box of
a declaration (two when its shape straddles ±180°). The R-tree is a conservative pre-filter; the
exact half-open time test and the closed altitude test then run on its few hits, from numpy
arrays indexed by entry id. The caller runs the exact geodesic rule on the keys returned.

Semantics of `candidates()`:
- boxes: closed; boxes that only touch at an edge or corner intersect (conservative).
- time windows: half-open [start, end); windows that only touch (a.end == b.start) do not overlap;
  an open end (None, or +inf) lasts forever.
- altitude bands: closed [lower, upper]; bands that only touch (a.upper == b.lower) overlap,
  because a vertical separation of zero is no separation; an open upper (None, +inf) is unlimited.

Thread safety: every public method takes one `threading.Lock`, so one writer and any number of
readers may share an index. Readers are serialised with each other too: a query holds the lock
for tens of microseconds, and the GIL would serialise most of that work anyway.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from rtree import index as rtree_index

from deconfliction.index._rtree import RTreeQuery, new_rtree, time_lower, time_upper

Box = tuple[float, float, float, float]
"""minlon, minlat, maxlon, maxlat in degrees, already split at ±180 by the caller."""

Item = tuple[int, Sequence[Box], float, "float | None", float, "float | None"]
"""One declaration for `bulk_load`: key, boxes, start_s, end_s, lower_m, upper_m."""

Window = tuple[float, float]  # start_s, end_s (+inf when open)
Band = tuple[float, float]  # lower_m, upper_m (+inf when unlimited)

_NO_ENTRY = -1
_INITIAL_CAPACITY = 1024

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def _check_boxes(boxes: Sequence[Box]) -> None:
    if not boxes:
        raise ValueError("at least one box is required")
    for box in boxes:
        minlon, minlat, maxlon, maxlat = box
        # Written so that NaN fails too.
        if not (-180.0 <= minlon <= maxlon <= 180.0 and -90.0 <= minlat <= maxlat <= 90.0):
            raise ValueError(f"box {box!r} is not (minlon, minlat, maxlon, maxlat) in ±180, ±90")


def _window(start_s: float, end_s: float | None) -> Window:
    """The window as (start, end), +inf for an open end; ValueError if it is empty or NaN."""
    end = math.inf if end_s is None else float(end_s)
    if not start_s < end or math.isinf(start_s):
        raise ValueError(f"time window [{start_s}, {end_s}) is empty or invalid")
    return float(start_s), end


def _band(lower_m: float, upper_m: float | None) -> Band:
    """The band as (lower, upper), +inf for an open upper; ValueError if upper < lower or NaN."""
    upper = math.inf if upper_m is None else float(upper_m)
    if not lower_m <= upper:
        raise ValueError(f"altitude band [{lower_m}, {upper_m}] is invalid")
    return float(lower_m), upper


def _check_key(key: int) -> None:
    if not -(2**63) <= key < 2**63:
        raise ValueError(f"key {key} does not fit in 64 bits")


class _Entries:
    """Per-entry columns indexed by R-tree entry id, grown by doubling; freed ids are reused."""

    def __init__(self, capacity: int = _INITIAL_CAPACITY) -> None:
        self.key: IntArray = np.zeros(capacity, np.int64)
        self.next: IntArray = np.full(capacity, _NO_ENTRY, np.int64)  # next box of the same key
        self.coords: FloatArray = np.zeros((capacity, 6), np.float64)  # as stored in the R-tree
        self.start_s: FloatArray = np.zeros(capacity, np.float64)
        self.end_s: FloatArray = np.zeros(capacity, np.float64)
        self.lower_m: FloatArray = np.zeros(capacity, np.float64)
        self.upper_m: FloatArray = np.zeros(capacity, np.float64)
        self.used = 0  # ids below this have been handed out
        self.free: list[int] = []

    def add(self, key: int, boxes: Sequence[Box], window: Window, band: Band) -> int:
        """Store one entry per box, chained; returns the first entry's id."""
        start, end = window
        t_lo, t_hi = time_lower(start), time_upper(end)
        first = previous = _NO_ENTRY
        for box in boxes:
            eid = self.allocate()
            self.key[eid] = key
            self.next[eid] = _NO_ENTRY
            self.coords[eid] = (box[0], box[1], t_lo, box[2], box[3], t_hi)
            self.start_s[eid], self.end_s[eid] = window
            self.lower_m[eid], self.upper_m[eid] = band
            if previous == _NO_ENTRY:
                first = eid
            else:
                self.next[previous] = eid
            previous = eid
        return first

    def chain(self, eid: int) -> Iterator[int]:
        """The ids of the entries of one key, from its first."""
        while eid != _NO_ENTRY:
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
        for name in ("key", "next", "coords", "start_s", "end_s", "lower_m", "upper_m"):
            old = getattr(self, name)
            new = np.full((capacity, *old.shape[1:]), _NO_ENTRY if name == "next" else 0, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)


class SpatioTemporalIndex:
    """Candidate declarations for a 4-D query: boxes x [start, end) x [lower, upper]."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rtree: rtree_index.Index = new_rtree()
        self._query = RTreeQuery(self._rtree)
        self._entries = _Entries()
        self._first: dict[int, int] = {}  # key -> id of its first entry

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def insert(
        self,
        key: int,
        boxes: Sequence[Box],
        start_s: float,
        end_s: float | None,
        lower_m: float,
        upper_m: float | None,
    ) -> None:
        """Add the declaration `key`, replacing any entry with that key (an update is an insert)."""
        _check_key(key)
        _check_boxes(boxes)
        window, band = _window(start_s, end_s), _band(lower_m, upper_m)
        with self._lock:
            self._remove(key)
            first = self._first[key] = self._entries.add(key, boxes, window, band)
            coords = self._entries.coords
            for eid in self._entries.chain(first):
                self._rtree.insert(eid, coords[eid].tolist())

    def delete(self, key: int) -> bool:
        """Remove the declaration `key`; True if it was there."""
        with self._lock:
            return self._remove(key)

    def _remove(self, key: int) -> bool:
        eid = self._first.pop(key, _NO_ENTRY)
        if eid == _NO_ENTRY:
            return False
        entries = self._entries
        for entry in list(entries.chain(eid)):
            self._rtree.delete(entry, entries.coords[entry].tolist())
            entries.free.append(entry)
        return True

    def bulk_load(self, items: Iterable[Item]) -> None:
        """Fill an empty index in one pass (R-tree bulk loading); ValueError on a duplicate key."""
        with self._lock:
            if self._first:
                raise ValueError("bulk_load needs an empty index")
            entries, first = _Entries(), {}
            for key, boxes, start_s, end_s, lower_m, upper_m in items:
                _check_key(key)
                _check_boxes(boxes)
                if key in first:
                    raise ValueError(f"duplicate key {key} in bulk_load")
                window, band = _window(start_s, end_s), _band(lower_m, upper_m)
                first[key] = entries.add(key, boxes, window, band)
            n = entries.used
            if n:
                coords = entries.coords[:n]
                self._rtree = new_rtree(np.arange(n, dtype=np.int64), coords[:, :3], coords[:, 3:])
                self._query = RTreeQuery(self._rtree)
            self._entries, self._first = entries, first

    def candidates(
        self,
        boxes: Sequence[Box],
        start_s: float,
        end_s: float | None,
        lower_m: float,
        upper_m: float | None,
    ) -> set[int]:
        """Keys whose boxes intersect any of `boxes`, whose window overlaps [start_s, end_s) and
        whose band overlaps [lower_m, upper_m]."""
        _check_boxes(boxes)
        start, end = _window(start_s, end_s)
        lower, upper = _band(lower_m, upper_m)
        t_lo, t_hi = time_lower(start), time_upper(end)
        with self._lock:
            if not self._first:
                return set()
            hits = [self._query.ids(box, t_lo, t_hi) for box in boxes]
            ids = hits[0] if len(hits) == 1 else np.concatenate(hits)
            if not len(ids):
                return set()
            e = self._entries
            keep = (
                (e.start_s[ids] < end) & (e.end_s[ids] > start) & (e.lower_m[ids] <= upper) & (e.upper_m[ids] >= lower)
            )
            return set(e.key[ids[keep]].tolist())
