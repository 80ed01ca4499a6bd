"""In-memory spatio-temporal indexes of active declarations: candidates for the exact check.

Two implementations with one interface, chosen by the `index` setting: `grid` (default; a multi-resolution hashed
grid, fastest at a million declarations) and `rtree` (a 3-D R-tree over lon, lat, time via libspatialindex).
"""

from __future__ import annotations

from typing import Protocol

from deconfliction.index.base import Box, Item
from deconfliction.index.grid import GridIndex
from deconfliction.index.spatiotemporal import SpatioTemporalIndex


class Index(Protocol):
    def insert(
        self, key: int, boxes: list[Box], start_s: float, end_s: float | None, lower_m: float, upper_m: float | None
    ) -> None: ...
    def delete(self, key: int) -> bool: ...
    def bulk_load(self, items: list[Item]) -> None: ...
    def candidates(
        self, boxes: list[Box], start_s: float, end_s: float | None, lower_m: float, upper_m: float | None
    ) -> set[int]: ...
    def __len__(self) -> int: ...


INDEXES = ("grid", "rtree")


def make_index(name: str) -> Index:
    if name == "grid":
        return GridIndex()
    if name == "rtree":
        return SpatioTemporalIndex()
    raise ValueError(f"index {name!r} is not one of {', '.join(INDEXES)}")


__all__ = ["INDEXES", "Box", "GridIndex", "Index", "Item", "SpatioTemporalIndex", "make_index"]
