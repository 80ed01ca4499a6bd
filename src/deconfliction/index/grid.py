"""A multi-resolution hashed grid: the same index as `SpatioTemporalIndex`, without an R-tree.

Level k holds boxes of size class `_BASE_SIZE_DEG * _LEVEL_FACTOR**k` degrees (0.1° .. 102.4°) in
square cells of that side; one "global" bucket holds anything bigger. Each entry (one box of one
declaration) goes to the finest level whose class is at least its width and height, in exactly one
cell: the cell holding its south-west corner (a "loose" grid, so no duplicates and one cell to
update). A query box reads, at each non-empty level, the cells from its own south-west corner minus
the widest/tallest box ever stored at that level, to its north-east corner: a few dict look-ups.

A cell stores its entries' data itself, as columns of a (9, capacity) float64 array grown by
doubling (delete moves the last column into the hole), so a query concatenates a few contiguous
blocks instead of gathering scattered rows. Rows 0-7 are written so that "overlaps" becomes
"every row <= the query's vector", and row 8 is the entry id:

    minlon, minlat, start, lower, -maxlon, -maxlat, -end, -upper, id

(the strict time comparisons become `<=` against the next float below). No time dimension: at the
densities measured, the exact test on the spatial hits costs less than more look-ups would.

Semantics, validation and thread safety are those of `SpatioTemporalIndex` (closed boxes,
half-open windows, closed bands; one lock around every public method).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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

__all__ = ["GridIndex"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


# Size classes: a box goes to the first level whose class size is at least its width and height.
_BASE_SIZE_DEG = 0.1
_LEVEL_FACTOR = 4.0
_LEVELS = 6  # classes of 0.1° .. 102.4°; anything bigger goes to the global bucket
_CELL_PER_SIZE = 1.0  # cell side / class size
_OFFSET = 1 << 20  # cell indices are offset to be non-negative ...
_ROW = 1 << 22  # ... and a cell's key packs them as (ix + _OFFSET) * _ROW + iy + _OFFSET
# Conservative slack (degrees) on a query's reach, against rounding in `minlon - width`.
_SLACK_DEG = 1e-9

_COLUMNS = 9  # 8 filter columns (see the module docstring), then the entry id
_EID = 8
_INITIAL_CAPACITY = 1024
_INITIAL_CELL_CAPACITY = 4


def _sizes() -> list[float]:
    return [_BASE_SIZE_DEG * _LEVEL_FACTOR**k for k in range(_LEVELS)]


def _level_of(sizes: Sequence[float], width: float, height: float) -> int:
    """The first level whose class size is at least the box's width and height."""
    size = max(width, height)
    for level, limit in enumerate(sizes):
        if size <= limit:
            return level
    return len(sizes)  # the global bucket


def _query_vector(box: Box, window: Window, band: Band) -> FloatArray:
    """The column v such that an entry's column r (filter part) matches iff all(r <= v)."""
    minlon, minlat, maxlon, maxlat = box
    start, end = window
    lower, upper = band
    # entry.start < end  <=>  entry.start <= nextafter(end, -inf), and likewise for -entry.end.
    vector = (
        maxlon,
        maxlat,
        math.nextafter(end, -math.inf),
        upper,
        -minlon,
        -minlat,
        math.nextafter(-start, -math.inf),
        -lower,
    )
    return np.array(vector, np.float64).reshape(_EID, 1)


def _column(box: Box, window: Window, band: Band, eid: int) -> tuple[float, ...]:
    """An entry's stored column: its filter values, then its id."""
    minlon, minlat, maxlon, maxlat = box
    start, end = window
    lower, upper = band
    return (minlon, minlat, start, lower, -maxlon, -maxlat, -end, -upper, float(eid))


class _Cell:
    """The entries of one cell, as columns of a (9, capacity) array grown by doubling."""

    __slots__ = ("buffer", "live", "size")

    def __init__(self, buffer: FloatArray, size: int) -> None:
        self.buffer = buffer
        self.size = size
        self.live = buffer[:, :size]  # what queries read

    def append(self, column: tuple[float, ...]) -> int:
        """Add a column; returns its position."""
        if self.size == self.buffer.shape[1]:
            grown = np.empty((_COLUMNS, max(_INITIAL_CELL_CAPACITY, 2 * self.size)), np.float64)
            grown[:, : self.size] = self.buffer[:, : self.size]
            self.buffer = grown
        self.buffer[:, self.size] = column
        self.size += 1
        self.live = self.buffer[:, : self.size]
        return self.size - 1

    def pop(self, position: int) -> int:
        """Remove the column at `position` by moving the last one there; returns the moved
        entry's id, or NO_ENTRY if it was the last one."""
        self.size -= 1
        last, moved = self.size, NO_ENTRY
        if position != last:
            self.buffer[:, position] = self.buffer[:, last]
            moved = int(self.buffer[_EID, position])
        self.live = self.buffer[:, :last]
        return moved


class _Level:
    """One size class: cell key -> cell, and the reach (widest, tallest box) of its entries."""

    def __init__(self, size_deg: float | None) -> None:
        self.is_global = size_deg is None
        self.inv = 0.0 if size_deg is None else 1.0 / (size_deg * _CELL_PER_SIZE)
        self.cells: dict[int, _Cell] = {}
        self.count = 0  # entries stored at this level
        # The widest and tallest box ever stored here (never shrinks: conservative).
        self.width = 0.0
        self.height = 0.0

    def cell_of(self, minlon: float, minlat: float) -> int:
        """The key of the cell holding the corner (minlon, minlat)."""
        if self.is_global:
            return 0
        inv = self.inv
        return (math.floor(minlon * inv) + _OFFSET) * _ROW + math.floor(minlat * inv) + _OFFSET

    def grow_reach(self, width: float, height: float) -> None:
        self.width = max(self.width, width)
        self.height = max(self.height, height)

    def gather(self, box: Box, out: list[FloatArray]) -> None:
        """Append to `out` the columns of every cell that may hold a box intersecting `box`."""
        cells = self.cells
        if self.is_global:
            out.extend(cell.live for cell in cells.values())
            return
        minlon, minlat, maxlon, maxlat = box
        inv = self.inv
        ix0 = math.floor((minlon - self.width - _SLACK_DEG) * inv) + _OFFSET
        ix1 = math.floor(maxlon * inv) + _OFFSET
        iy0 = math.floor((minlat - self.height - _SLACK_DEG) * inv) + _OFFSET
        iy1 = math.floor(maxlat * inv) + _OFFSET
        if (ix1 - ix0 + 1) * (iy1 - iy0 + 1) > len(cells):
            # The query spans more cells than are occupied: scan the occupied ones instead.
            for key, cell in cells.items():
                if ix0 <= key // _ROW <= ix1 and iy0 <= key % _ROW <= iy1:
                    out.append(cell.live)
            return
        get = cells.get
        for ix in range(ix0, ix1 + 1):
            row = ix * _ROW
            for key in range(row + iy0, row + iy1 + 1):
                found = get(key)
                if found is not None:
                    out.append(found.live)


class _Entries(Entries):
    """Where each entry lives: its level, its cell there and its column in that cell."""

    columns = ("key", "next", "level", "cell", "position")

    def __init__(self, capacity: int = _INITIAL_CAPACITY) -> None:
        super().__init__(capacity)
        self.level = np.zeros(capacity, np.int8)
        self.cell: IntArray = np.zeros(capacity, np.int64)  # key of its cell in its level
        self.position: IntArray = np.zeros(capacity, np.int64)  # its column in that cell


def _new_levels() -> list[_Level]:
    return [*(_Level(size) for size in _sizes()), _Level(None)]


class GridIndex(KeyedIndex):
    """Candidate declarations for a 4-D query: boxes x [start, end) x [lower, upper]."""

    def __init__(self) -> None:
        super().__init__()
        self._sizes = _sizes()
        self._levels = _new_levels()
        self._entries = _Entries()

    def _add(self, key: int, boxes: Sequence[Box], win: Window, bnd: Band) -> None:
        entries = self._entries
        first = previous = NO_ENTRY
        for raw in boxes:
            box: Box = (float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]))
            minlon, minlat, maxlon, maxlat = box
            eid = entries.allocate()
            number = _level_of(self._sizes, maxlon - minlon, maxlat - minlat)
            level = self._levels[number]
            cell_key = level.cell_of(minlon, minlat)
            cell = level.cells.get(cell_key)
            if cell is None:
                cell = level.cells[cell_key] = _Cell(np.empty((_COLUMNS, _INITIAL_CELL_CAPACITY), np.float64), 0)
            entries.position[eid] = cell.append(_column(box, win, bnd, eid))
            entries.key[eid] = key
            entries.next[eid] = NO_ENTRY
            entries.level[eid] = number
            entries.cell[eid] = cell_key
            level.count += 1
            level.grow_reach(maxlon - minlon, maxlat - minlat)
            if previous == NO_ENTRY:
                first = eid
            else:
                entries.next[previous] = eid
            previous = eid
        self._first[key] = first

    def _remove(self, key: int) -> bool:
        eid = self._first.pop(key, NO_ENTRY)
        if eid == NO_ENTRY:
            return False
        entries = self._entries
        for entry in list(entries.chain(eid)):
            level = self._levels[int(entries.level[entry])]
            cell_key = int(entries.cell[entry])
            cell = level.cells[cell_key]
            moved = cell.pop(int(entries.position[entry]))
            if moved != NO_ENTRY:
                entries.position[moved] = entries.position[entry]
            if cell.size == 0:
                del level.cells[cell_key]
            level.count -= 1
            entries.free.append(entry)
        return True

    def bulk_load(self, items: Iterable[Item]) -> None:
        """Fill an empty index in one pass; ValueError on a duplicate key."""
        with self._lock:
            if self._first:
                raise ValueError("bulk_load needs an empty index")
            first: dict[int, int] = {}
            # Flat typed buffers: a list of 1M tuples would leave hundreds of MB of freed
            # small objects behind in the allocator.
            keys, nexts, columns = array("q"), array("q"), array("d")
            for key, boxes, win, bnd in validated(items):
                first[key] = len(keys)
                for box in boxes:
                    columns.extend(_column(box, win, bnd, len(keys)))
                    keys.append(key)
                    nexts.append(len(keys))
                nexts[-1] = NO_ENTRY
            n = len(keys)
            entries = _Entries(max(_INITIAL_CAPACITY, n))
            entries.used = n
            levels = _new_levels()
            if n:
                entries.key[:n] = np.frombuffer(keys, np.int64)
                entries.next[:n] = np.frombuffer(nexts, np.int64)
                table = np.frombuffer(columns, np.float64).reshape(n, _COLUMNS)
                self._fill(entries, levels, table)
            self._entries, self._first, self._levels = entries, first, levels

    def _fill(self, entries: _Entries, levels: list[_Level], table: FloatArray) -> None:
        """Place n entries (ids 0..n-1, columns in `table`, (n, 9)) into empty levels, grouped
        by cell with one sort."""
        n = len(table)
        widths = -table[:, 4] - table[:, 0]
        heights = -table[:, 5] - table[:, 1]
        number = np.full(n, len(self._sizes), np.int64)
        for level in reversed(range(len(self._sizes))):
            number[np.maximum(widths, heights) <= self._sizes[level]] = level
        # Cell keys exactly as `_Level.cell_of` computes them.
        cell = np.zeros(n, np.int64)
        for level, target in enumerate(levels[:-1]):
            mine = number == level
            if mine.any():
                ix = np.floor(table[mine, 0] * target.inv).astype(np.int64) + _OFFSET
                iy = np.floor(table[mine, 1] * target.inv).astype(np.int64) + _OFFSET
                cell[mine] = ix * _ROW + iy
        for level, target in enumerate(levels):
            mine = number == level
            target.count = int(mine.sum())
            if target.count:
                target.grow_reach(float(widths[mine].max()), float(heights[mine].max()))
        order = np.lexsort((cell, number))
        sorted_number, sorted_cell = number[order], cell[order]
        breaks = np.flatnonzero((np.diff(sorted_number) != 0) | (np.diff(sorted_cell) != 0)) + 1
        starts = [0, *breaks.tolist()]
        ends = [*starts[1:], n]
        block = np.ascontiguousarray(table[order].T)  # (9, n), grouped by cell
        position = np.empty(n, np.int64)
        position[order] = np.arange(n) - np.repeat(np.array(starts), np.subtract(ends, starts))
        entries.level[:n] = number
        entries.cell[:n] = cell
        entries.position[:n] = position
        numbers, cells = sorted_number.tolist(), sorted_cell.tolist()
        for lo, hi in zip(starts, ends, strict=True):
            levels[numbers[lo]].cells[cells[lo]] = _Cell(block[:, lo:hi], hi - lo)

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
        win = window(start_s, end_s)
        bnd = band(lower_m, upper_m)
        with self._lock:
            if not self._first:
                return set()
            found: set[int] = set()
            for box in boxes:
                parts: list[FloatArray] = []
                for level in self._levels:
                    if level.count:
                        level.gather(box, parts)
                if not parts:
                    continue
                block = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
                keep = np.logical_and.reduce(block[:_EID] <= _query_vector(box, win, bnd), axis=0)
                eids = block[_EID, keep].astype(np.int64)
                found.update(self._entries.key[eids].tolist())
            return found
