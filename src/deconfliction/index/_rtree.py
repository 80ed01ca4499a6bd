"""The R-tree underneath the index: its tuning, the time axis encoding, and a lean query path."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from rtree import core
from rtree import index as rtree_index

# Times beyond ±2**36 s (about year 4147) are clamped on the R-tree's time axis; clamping keeps the
# R-tree conservative, and the exact test runs on the unclamped values. A finite bound keeps
# open-ended entries from giving their nodes infinite volume, which R* heuristics cannot weigh.
_OPEN_END_S = 2.0**36

# Seconds are scaled by a power of two (order-preserving) so that one unit is about 18 h. In raw
# seconds the time extents dwarf the degree extents, the R* split heuristics slice nodes by time
# alone and leave them wide in space: after incremental inserts, queries were ~10x slower.
_TIME_SCALE = 2.0**-16

# Small nodes: libspatialindex's memory storage deserialises every node a query visits, so the
# cost of a query grows with node size. Chosen by measurement (bench/bench_index.py --tune).
_LEAF_CAPACITY = 16
_INDEX_CAPACITY = 16
_FILL_FACTOR = 0.7
_NEAR_MINIMUM_OVERLAP_FACTOR = 8

_DIMENSION = 3

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def time_lower(start_s: float) -> float:
    """The lower edge of a window on the R-tree's time axis."""
    return min(max(start_s, -_OPEN_END_S), _OPEN_END_S) * _TIME_SCALE


def time_upper(end_s: float) -> float:
    """The upper edge on the R-tree's time axis; +inf (open end) becomes the finite bound."""
    return min(max(end_s, -_OPEN_END_S), _OPEN_END_S) * _TIME_SCALE


def _properties() -> rtree_index.Property:
    return rtree_index.Property(
        dimension=_DIMENSION,
        variant=rtree_index.RT_Star,
        leaf_capacity=_LEAF_CAPACITY,
        index_capacity=_INDEX_CAPACITY,
        fill_factor=_FILL_FACTOR,
        near_minimum_overlap_factor=_NEAR_MINIMUM_OVERLAP_FACTOR,
    )


def new_rtree(
    ids: IntArray | None = None, mins: FloatArray | None = None, maxs: FloatArray | None = None
) -> rtree_index.Index:
    """An empty in-memory 3-D R-tree, or one bulk-loaded (sort-tile-recursive) from arrays."""
    if ids is None or mins is None or maxs is None:
        return rtree_index.Index(properties=_properties(), interleaved=True)
    return rtree_index.Index(
        (ids, np.ascontiguousarray(mins), np.ascontiguousarray(maxs)),
        properties=_properties(),
        interleaved=True,
    )


class RTreeQuery:
    """Intersection queries straight through the C API into a numpy array of entry ids.

    `Index.intersection()` builds ctypes arrays and yields ids one by one; calling the same C
    function with reused buffers cut query time by about 20 %. Not thread-safe: the caller holds
    the index lock.
    """

    def __init__(self, tree: rtree_index.Index) -> None:
        self._handle = tree.handle
        self._mins = (ctypes.c_double * _DIMENSION)()
        self._maxs = (ctypes.c_double * _DIMENSION)()
        self._ids = ctypes.POINTER(ctypes.c_int64)()
        self._count = ctypes.c_uint64(0)

    def ids(self, box: tuple[float, float, float, float], t_lo: float, t_hi: float) -> IntArray:
        """Ids of the entries whose stored box intersects box x [t_lo, t_hi] (closed)."""
        mins, maxs = self._mins, self._maxs
        mins[0], mins[1], mins[2] = box[0], box[1], t_lo
        maxs[0], maxs[1], maxs[2] = box[2], box[3], t_hi
        core.rt.Index_Intersects_id(
            self._handle, mins, maxs, _DIMENSION, ctypes.byref(self._ids), ctypes.byref(self._count)
        )
        try:
            n = self._count.value
            if n == 0:
                return np.empty(0, np.int64)
            found: IntArray = np.ctypeslib.as_array(self._ids, (n,)).copy()
            return found
        finally:
            core.rt.Index_Free(ctypes.cast(self._ids, ctypes.POINTER(ctypes.c_void_p)))
