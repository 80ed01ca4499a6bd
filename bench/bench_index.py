"""Benchmark the spatio-temporal index against a Shapely STRtree baseline.

    .venv/bin/python bench/bench_index.py --sizes 10000,100000,1000000
    .venv/bin/python bench/bench_index.py --sizes 1000000 --tune   # sweep the R-tree node settings

For each size N: N declarations (squares 0.5-5 km in lon 36-47 x lat 30-39, windows 1-12 h within
one week, bands lower 0-3000 m and 100-3000 m thick, 10 % with no upper limit) are bulk-loaded;
then 2,000 queries (a new random square grown by 2 km, its own window and band) are timed one by
one, for `candidates()` of the R-tree index and of the hashed-grid index (GridIndex), and for an
STRtree over the same boxes with the time and altitude filter applied by numpy to its hits. Also
timed: 2,000 updates (re-insert of an existing key).
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from deconfliction.index import _rtree
from deconfliction.index.grid import GridIndex
from deconfliction.index.spatiotemporal import Box, Item, SpatioTemporalIndex

AnyIndex = SpatioTemporalIndex | GridIndex

LON_MIN, LON_MAX = 36.0, 47.0  # ~1,000 km wide at lat ~34.5
LAT_MIN, LAT_MAX = 30.0, 39.0  # ~1,000 km tall
KM_PER_DEG_LAT = 111.32
WEEK_S = 7 * 24 * 3600.0
EPOCH_S = 1_893_974_400.0  # 2030-01-07T00:00:00Z, a Monday
QUERY_GROWTH_KM = 2.0
CHUNK = 10_000

console = Console(width=150)


@dataclass
class Workload:
    """Columns of N declarations (or queries)."""

    minlon: np.ndarray[Any, np.dtype[np.float64]]
    minlat: np.ndarray[Any, np.dtype[np.float64]]
    maxlon: np.ndarray[Any, np.dtype[np.float64]]
    maxlat: np.ndarray[Any, np.dtype[np.float64]]
    start_s: np.ndarray[Any, np.dtype[np.float64]]
    end_s: np.ndarray[Any, np.dtype[np.float64]]
    lower_m: np.ndarray[Any, np.dtype[np.float64]]
    upper_m: np.ndarray[Any, np.dtype[np.float64]]  # +inf = unlimited

    def item(self, i: int) -> Item:
        upper = float(self.upper_m[i])
        box: Box = (
            float(self.minlon[i]),
            float(self.minlat[i]),
            float(self.maxlon[i]),
            float(self.maxlat[i]),
        )
        return (
            i,
            [box],
            float(self.start_s[i]),
            float(self.end_s[i]),
            float(self.lower_m[i]),
            None if math.isinf(upper) else upper,
        )


def generate(rng: np.random.Generator, n: int, grow_km: float = 0.0) -> Workload:
    side_km = rng.uniform(0.5, 5.0, n) + 2 * grow_km
    lat = rng.uniform(LAT_MIN, LAT_MAX, n)
    lon = rng.uniform(LON_MIN, LON_MAX, n)
    half_lat = side_km / 2 / KM_PER_DEG_LAT
    half_lon = side_km / 2 / (KM_PER_DEG_LAT * np.cos(np.radians(lat)))
    duration_s = rng.uniform(1.0, 12.0, n) * 3600.0
    start_s = EPOCH_S + rng.uniform(0.0, WEEK_S - duration_s)
    lower_m = rng.uniform(0.0, 3000.0, n)
    upper_m = lower_m + rng.uniform(100.0, 3000.0, n)
    upper_m[rng.random(n) < 0.1] = np.inf
    return Workload(
        lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat,
        start_s, start_s + duration_s, lower_m, upper_m,
    )  # fmt: skip


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1e3
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def time_each(calls: Iterator[Callable[[], object]]) -> list[float]:
    gc.collect()
    samples = []
    for call in calls:
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


def build_index(
    data: Workload,
    progress: Progress,
    label: str,
    cls: type[SpatioTemporalIndex] | type[GridIndex] = SpatioTemporalIndex,
) -> tuple[AnyIndex, float]:
    n = len(data.start_s)
    task = progress.add_task(label, total=n)

    def items() -> Iterator[Item]:
        for i in range(n):
            if i % CHUNK == 0:
                progress.update(task, completed=i)
            yield data.item(i)

    index = cls()
    t0 = time.perf_counter()
    index.bulk_load(items())
    elapsed = time.perf_counter() - t0
    progress.update(task, completed=n)
    return index, elapsed


def strtree_baseline(data: Workload, queries: Workload) -> tuple[list[float], float]:
    boxes = shapely.box(data.minlon, data.minlat, data.maxlon, data.maxlat)
    t0 = time.perf_counter()
    tree = shapely.STRtree(boxes)
    tree.query(shapely.box(0, 0, 1, 1))  # STRtree builds lazily, on the first query
    build_s = time.perf_counter() - t0

    def query(i: int) -> Callable[[], object]:
        def run() -> set[int]:
            geometry = shapely.box(queries.minlon[i], queries.minlat[i], queries.maxlon[i], queries.maxlat[i])
            hits = tree.query(geometry)
            keep = (
                (data.start_s[hits] < queries.end_s[i])
                & (data.end_s[hits] > queries.start_s[i])
                & (data.lower_m[hits] <= queries.upper_m[i])
                & (data.upper_m[hits] >= queries.lower_m[i])
            )
            return set(hits[keep].tolist())

        return run

    return time_each(query(i) for i in range(len(queries.start_s))), build_s


def index_queries(index: AnyIndex, queries: Workload) -> tuple[list[float], float]:
    args = [queries.item(i)[1:] for i in range(len(queries.start_s))]
    found = [0]

    def query(a: Any) -> Callable[[], object]:
        def run() -> None:
            found[0] += len(index.candidates(*a))

        return run

    samples = time_each(query(a) for a in args)
    return samples, found[0] / len(args)


def index_updates(index: AnyIndex, n: int, updates: Workload) -> list[float]:
    rng = np.random.default_rng(99)
    keys = rng.integers(0, n, len(updates.start_s))
    args = [(int(k), *updates.item(i)[1:]) for i, k in enumerate(keys)]
    return time_each((lambda a=a: index.insert(*a)) for a in args)


def run_size(n: int, n_queries: int, seed: int, table: Table) -> None:
    rng = np.random.default_rng(seed)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"generate {n:,}", total=1)
        data = generate(rng, n)
        queries = generate(rng, n_queries, grow_km=QUERY_GROWTH_KM)
        warmup = generate(rng, 200, grow_km=QUERY_GROWTH_KM)
        updates = generate(rng, n_queries)
        progress.update(task, completed=1)
    first = True
    indexes: list[tuple[type[SpatioTemporalIndex] | type[GridIndex], str]] = [
        (SpatioTemporalIndex, "SpatioTemporalIndex (3-D R-tree)"),
        (GridIndex, "GridIndex (multi-level hashed grid)"),
    ]
    for cls, label in indexes:
        with Progress(console=console, transient=True) as progress:
            gc.collect()
            rss_before = rss_mb()
            index, build_s = build_index(data, progress, f"{cls.__name__} bulk_load {n:,}", cls)
            gc.collect()
            index_mb = rss_mb() - rss_before
        index_queries(index, warmup)
        samples, mean_hits = index_queries(index, queries)
        p50, p99 = percentiles_ms(samples)
        u50, u99 = percentiles_ms(index_updates(index, n, updates))
        table.add_row(
            f"{n:,}" if first else "", label, f"{build_s:.2f}", f"{p50:.3f}", f"{p99:.3f}",
            f"{mean_hits:.1f}", f"{index_mb:.0f}", f"{u50:.3f} / {u99:.3f}",
        )  # fmt: skip
        first = False
        del index
        gc.collect()
    samples, build_s = strtree_baseline(data, queries)
    p50, p99 = percentiles_ms(samples)
    table.add_row(
        "", "shapely STRtree + numpy filter", f"{build_s:.2f}", f"{p50:.3f}", f"{p99:.3f}",
        "", "", "", end_section=True,
    )  # fmt: skip


def tune(n: int, n_queries: int, seed: int) -> None:
    """Query time for several node settings, after bulk loading and after incremental inserts."""
    rng = np.random.default_rng(seed)
    data, queries = generate(rng, n), generate(rng, n_queries, grow_km=QUERY_GROWTH_KM)
    n_incremental = min(n, 100_000)
    table = Table(title=f"R-tree settings, {n:,} bulk-loaded / {n_incremental:,} inserted")
    for column in ("leaf/index cap", "fill", "nmof", "build s", "p50 ms", "p99 ms", "incr p50",
                   "incr p99"):  # fmt: skip
        table.add_column(column, justify="right")
    for capacity, fill in [(8, 0.7), (16, 0.7), (16, 0.9), (24, 0.7), (32, 0.7), (64, 0.7),
                           (100, 0.7)]:  # fmt: skip
        nmof = max(2, capacity // 2)
        _rtree._LEAF_CAPACITY = _rtree._INDEX_CAPACITY = capacity
        _rtree._FILL_FACTOR, _rtree._NEAR_MINIMUM_OVERLAP_FACTOR = fill, nmof
        with Progress(console=console, transient=True) as progress:
            index, build_s = build_index(data, progress, f"cap {capacity} fill {fill}")
        p50, p99 = percentiles_ms(index_queries(index, queries)[0])
        del index
        incremental = SpatioTemporalIndex()
        for i in range(n_incremental):
            incremental.insert(*data.item(i))
        i50, i99 = percentiles_ms(index_queries(incremental, queries)[0])
        del incremental
        table.add_row(str(capacity), str(fill), str(nmof), f"{build_s:.2f}", f"{p50:.3f}",
                      f"{p99:.3f}", f"{i50:.3f}", f"{i99:.3f}")  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tune", action="store_true", help="sweep R-tree node settings instead")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.tune:
        tune(sizes[-1], args.queries, args.seed)
        return
    table = Table(title=f"candidates(): {args.queries:,} queries per size, one at a time")
    for column in ("N", "index", "build s", "p50 ms", "p99 ms", "hits/query", "index RSS MB",
                   "update p50/p99 ms"):  # fmt: skip
        table.add_column(column, justify="right")
    for n in sizes:
        run_size(n, args.queries, args.seed, table)
    console.print(table)


if __name__ == "__main__":
    main()
