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

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rtree import index as rtree_index

from deconfliction.index._rtree import RTreeQuery, new_rtree, time_lower, time_upper
from deconfliction.index.base import (
    NO_ENTRY,
    Band,
    Box,
    Entries,
    Item,
    KeyedIndex,
    Window,
    band,
    check_boxes,
    validated,
    window,
)

_INITIAL_CAPACITY = 1024

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


class _Entries(Entries):
    """Per-entry columns indexed by R-tree entry id: the box as stored in the R-tree, the exact window and band."""

    columns = ("key", "next", "coords", "start_s", "end_s", "lower_m", "upper_m")

    def __init__(self, capacity: int = _INITIAL_CAPACITY) -> None:
        super().__init__(capacity)
        self.coords: FloatArray = np.zeros((capacity, 6), np.float64)  # as stored in the R-tree
        self.start_s: FloatArray = np.zeros(capacity, np.float64)
        self.end_s: FloatArray = np.zeros(capacity, np.float64)
        self.lower_m: FloatArray = np.zeros(capacity, np.float64)
        self.upper_m: FloatArray = np.zeros(capacity, np.float64)

    def add(self, key: int, boxes: Sequence[Box], window: Window, band: Band) -> int:
        """Store one entry per box, chained; returns the first entry's id."""
        start, end = window
        t_lo, t_hi = time_lower(start), time_upper(end)
        first = previous = NO_ENTRY
        for box in boxes:
            eid = self.allocate()
            self.key[eid] = key
            self.next[eid] = NO_ENTRY
            self.coords[eid] = (box[0], box[1], t_lo, box[2], box[3], t_hi)
            self.start_s[eid], self.end_s[eid] = window
            self.lower_m[eid], self.upper_m[eid] = band
            if previous == NO_ENTRY:
                first = eid
            else:
                self.next[previous] = eid
            previous = eid
        return first


class SpatioTemporalIndex(KeyedIndex):
    """Candidate declarations for a 4-D query: boxes x [start, end) x [lower, upper]."""

    def __init__(self) -> None:
        super().__init__()
        self._rtree: rtree_index.Index = new_rtree()
        self._query = RTreeQuery(self._rtree)
        self._entries = _Entries()

    def _add(self, key: int, boxes: Sequence[Box], win: Window, bnd: Band) -> None:
        first = self._first[key] = self._entries.add(key, boxes, win, bnd)
        coords = self._entries.coords
        for eid in self._entries.chain(first):
            self._rtree.insert(eid, coords[eid].tolist())

    def _remove(self, key: int) -> bool:
        eid = self._first.pop(key, NO_ENTRY)
        if eid == NO_ENTRY:
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
            for key, boxes, win, bnd in validated(items):
                first[key] = entries.add(key, boxes, win, bnd)
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
        check_boxes(boxes)
        start, end = window(start_s, end_s)
        lower, upper = band(lower_m, upper_m)
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
