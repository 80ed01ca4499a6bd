"""Conflict-check latency: our index and the full check, beside a Shapely STRtree and PostGIS on the same data.

    .venv/bin/python bench/bench_index.py --sizes 10000,100000,1000000
    .venv/bin/python bench/bench_index.py --sizes 1000000 --tune   # sweep the R-tree node settings

For each size N: N active declarations (squares 0.5-5 km in lon 36-47 x lat 30-39, 20 % sites and 80 %
operating areas, windows of 1-12 h within one week in whole seconds, bands lower 0-3000 m and 100-3000 m
thick, 10 % with no upper limit; 10 parties). One Rich table per N, rows:

* candidates only (as before): `candidates()` of the R-tree index (SpatioTemporalIndex) and of the hashed grid
  (GridIndex), and an STRtree over the same boxes with the time and altitude filter applied by numpy to its
  hits; 2,000 queries, each a new random square grown by 2 km with its own window and band. Also timed: 2,000
  updates (re-insert of an existing key).
* the full conflict check: a real `Picture` bulk-loaded (`Picture.load`) with the N declarations as
  `Declaration` objects, then `picture.conflicts_for(d)` for 2,000 new declarations of the same distribution
  from another party: index candidates + the exact geodesic rule (`domain.conflicts.assess`). Once with the
  default GridIndex, once with the R-tree.
* the same exact check fed by an STRtree: STRtree query with the same grown query box over the same stored
  boxes, the time/altitude filter by numpy, then `assess` on each remaining candidate of another party.
* PostGIS, when a PostgreSQL with PostGIS is reachable at 127.0.0.1:5432 (user postgres): the same N
  declarations COPY'd into a table (geography(Polygon), tstzrange, numrange) with a GiST index on
  (geog, during, alt); 2,000 prepared `ST_DWithin(geog, $1::geography, $2) AND during && $3 AND alt && $4`
  from one connection, $2 being the same reach our index query uses (the largest separation this kind can
  require, + radii). A second PostGIS row also returns `ST_Distance` of each hit, from which the per-pair
  required separation gives the conflicts: the full check done by PostGIS. A third row is the round-trip
  floor (a prepared `SELECT $1`) on the same connection. `scripts/ensure_debian_packages.sh` installs PostGIS.

Declarations are built with `parse_feature` up to `--parse-up-to` (default 100,000; ~0.3-0.45 ms each). Above
it, with the project's fast path for stored declarations, `parse_feature(..., trusted=True)` (what the store
uses to reload: no validation, area and representative point deferred; ~0.08 ms each with the Feature's
construction), or, where that does not exist, `direct_spec` (the project's `build_shape` fed as
`parse_geometry` feeds it). The first 1,000 are checked to equal the validating `parse_feature` in every field
the rule reads, and the run stops if they do not.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deconfliction.domain.altitude import AltitudeBand
from deconfliction.domain.conflicts import Finding, assess
from deconfliction.domain.declarations import (
    Declaration,
    DeclarationLimits,
    DeclarationSpec,
    DeclarationStatus,
    Kind,
    parse_feature,
)
from deconfliction.domain.geodesy import WGS84, normalized, to_lonlat, unit_vector
from deconfliction.domain.geometry_shape import build_shape
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.timewindow import TimeWindow, format_time
from deconfliction.index import _rtree
from deconfliction.index.grid import GridIndex
from deconfliction.index.spatiotemporal import Box, Item, SpatioTemporalIndex
from deconfliction.services.picture import Picture

AnyIndex = SpatioTemporalIndex | GridIndex

LON_MIN, LON_MAX = 36.0, 47.0  # ~1,000 km wide at lat ~34.5
LAT_MIN, LAT_MAX = 30.0, 39.0  # ~1,000 km tall
KM_PER_DEG_LAT = 111.32
WEEK_S = 7 * 24 * 3600.0
EPOCH_S = 1_893_974_400.0  # 2030-01-07T00:00:00Z, a Monday
QUERY_GROWTH_KM = 2.0
SITE_SHARE = 0.2
PARTIES = tuple(f"p{i:02d}" for i in range(10))
NEW_PARTY = "newcomer"  # the party of every timed new declaration
CHUNK = 10_000
WARMUP = 200
TARGET_P99_MS = 0.25  # the target for the full check at 1M active
TARGET_N = 1_000_000
PG_DSN = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5"
PG_DB = "deconf_bench"
CHECKED_DIRECT = 1_000
PRECISION_M = 1_000.0  # the channel's default disclosure precision
TRUSTED = "trusted" in inspect.signature(parse_feature).parameters  # the store's reload path, where it exists
UNREAD = {"representative", "_representative", "area_m2", "_area_m2"}  # Shape fields the rule never reads

console = Console(width=150)


class _Steps(Progress):
    """A transient Rich progress bar; when the output is not a terminal, one line per step instead."""

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> Any:
        if not console.is_terminal:
            console.print(f"  … {description}", style="dim", highlight=False)
        return super().add_task(description, *args, **kwargs)


def progress_bar() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return _Steps(*columns, console=console, transient=True, disable=not console.is_terminal)


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
    site: np.ndarray[Any, np.dtype[np.bool_]]  # else an operating area

    def __len__(self) -> int:
        return len(self.start_s)

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

    def ring(self, i: int) -> list[tuple[float, float]]:
        """The square's corners, counter-clockwise from south-west, not closed."""
        w, s = float(self.minlon[i]), float(self.minlat[i])
        e, n = float(self.maxlon[i]), float(self.maxlat[i])
        return [(w, s), (e, s), (e, n), (w, n)]

    def feature(self, i: int) -> dict[str, Any]:
        """The declaration as a client would send it."""
        upper = float(self.upper_m[i])
        ring = [list(p) for p in self.ring(i)]
        return {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            "properties": {
                "kind": "site" if self.site[i] else "area",
                "name": f"bench {i}",
                "start": format_time(_utc(float(self.start_s[i]))),
                "end": format_time(_utc(float(self.end_s[i]))),
                "altitude": {"lower_m": float(self.lower_m[i]), "upper_m": None if math.isinf(upper) else upper},
                "audience": "conflicts",
                "precision_m": PRECISION_M,
            },
        }


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def generate(rng: np.random.Generator, n: int, grow_km: float = 0.0) -> Workload:
    side_km = rng.uniform(0.5, 5.0, n) + 2 * grow_km
    lat = rng.uniform(LAT_MIN, LAT_MAX, n)
    lon = rng.uniform(LON_MIN, LON_MAX, n)
    half_lat = side_km / 2 / KM_PER_DEG_LAT
    half_lon = side_km / 2 / (KM_PER_DEG_LAT * np.cos(np.radians(lat)))
    duration_s = np.round(rng.uniform(1.0, 12.0, n) * 3600.0)  # whole seconds, as RFC 3339 times carry them
    start_s = EPOCH_S + np.floor(rng.uniform(0.0, WEEK_S - duration_s))
    lower_m = rng.uniform(0.0, 3000.0, n)
    upper_m = lower_m + rng.uniform(100.0, 3000.0, n)
    upper_m[rng.random(n) < 0.1] = np.inf
    site = rng.random(n) < SITE_SHARE
    return Workload(
        lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat,
        start_s, start_s + duration_s, lower_m, upper_m, site,
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


@dataclass
class Row:
    structure: str
    timed: str
    samples: list[float] = field(default_factory=list)
    hits: float | None = None
    conflicts: float | None = None
    build_s: float | None = None
    skipped: str = ""  # why there are no samples

    def cells(self) -> list[str]:
        if self.skipped:
            return [self.structure, f"[yellow]skipped: {self.skipped}[/yellow]", "", "", "", "", ""]
        p50, p99 = percentiles_ms(self.samples)
        return [
            self.structure,
            self.timed,
            f"{p50:.3f}",
            f"{p99:.3f}",
            "" if self.hits is None else f"{self.hits:.2f}",
            "" if self.conflicts is None else f"{self.conflicts:.3f}",
            "" if self.build_s is None else f"{self.build_s:.1f}",
        ]

    @property
    def p99_ms(self) -> float:
        return percentiles_ms(self.samples)[1]


# Candidates only --------------------------------------------------------------------------------------------------


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


def strtree_baseline(data: Workload, queries: Workload) -> tuple[list[float], float, float]:
    boxes = shapely.box(data.minlon, data.minlat, data.maxlon, data.maxlat)
    t0 = time.perf_counter()
    tree = shapely.STRtree(boxes)
    tree.query(shapely.box(0, 0, 1, 1))  # STRtree builds lazily, on the first query
    build_s = time.perf_counter() - t0
    found = [0]

    def query(i: int) -> Callable[[], object]:
        def run() -> None:
            geometry = shapely.box(queries.minlon[i], queries.minlat[i], queries.maxlon[i], queries.maxlat[i])
            hits = tree.query(geometry)
            keep = (
                (data.start_s[hits] < queries.end_s[i])
                & (data.end_s[hits] > queries.start_s[i])
                & (data.lower_m[hits] <= queries.upper_m[i])
                & (data.upper_m[hits] >= queries.lower_m[i])
            )
            found[0] += len(set(hits[keep].tolist()))

        return run

    samples = time_each(query(i) for i in range(len(queries.start_s)))
    return samples, build_s, found[0] / len(queries)


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


def candidate_rows(data: Workload, queries: Workload, warmup: Workload, updates: Workload) -> tuple[list[Row], str]:
    n = len(data)
    rows: list[Row] = []
    notes = []
    indexes: list[tuple[type[SpatioTemporalIndex] | type[GridIndex], str]] = [
        (SpatioTemporalIndex, "SpatioTemporalIndex (3-D R-tree)"),
        (GridIndex, "GridIndex (hashed grid)"),
    ]
    grown = f"candidates(), query grown {QUERY_GROWTH_KM:g} km"
    for cls, label in indexes:
        with progress_bar() as progress:
            gc.collect()
            rss_before = rss_mb()
            index, build_s = build_index(data, progress, f"{cls.__name__} bulk_load {n:,}", cls)
            gc.collect()
            notes.append(f"{cls.__name__} {rss_mb() - rss_before:.0f} MB")
        index_queries(index, warmup)
        samples, mean_hits = index_queries(index, queries)
        rows.append(Row(label, grown, samples, hits=mean_hits, build_s=build_s))
        rows.append(Row(label, "insert() re-inserting an existing key", index_updates(index, n, updates)))
        del index
        gc.collect()
    samples, build_s, mean_hits = strtree_baseline(data, queries)
    rows.append(Row("shapely STRtree", "query + numpy time/alt filter (candidates)", samples, mean_hits, None, build_s))
    return rows, "index RSS: " + ", ".join(notes)


# Declarations -----------------------------------------------------------------------------------------------------


def direct_spec(data: Workload, i: int) -> DeclarationSpec:
    """What `parse_feature(data.feature(i))` returns, built with the project's `build_shape` without validating.

    Same coordinates, same unit vectors, centre and geodesic area as `parse_geometry` computes them; only the
    shape's `representative` point (display only, never read by the rule) is the centre instead of the planar
    polygon's representative point.
    """
    ring = data.ring(i)
    xyz = [unit_vector(lon, lat) for lon, lat in ring]
    centre = normalized((sum(v[0] for v in xyz), sum(v[1] for v in xyz), sum(v[2] for v in xyz)))
    area, _ = WGS84.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])
    coordinates = ((*ring, ring[0]),)
    shape = build_shape("Polygon", coordinates, 5, abs(float(area)), [[ring]], [[xyz]], centre, to_lonlat(centre))
    upper = float(data.upper_m[i])
    return DeclarationSpec(
        kind=Kind.SITE if data.site[i] else Kind.AREA,
        name=f"bench {i}",
        shape=shape,
        window=TimeWindow(_utc(float(data.start_s[i])), _utc(float(data.end_s[i]))),
        altitude=AltitudeBand(float(data.lower_m[i]), None if math.isinf(upper) else upper),
        audience="conflicts",
        precision_m=PRECISION_M,
    )


def fast_spec(data: Workload, i: int, limits: DeclarationLimits) -> DeclarationSpec:
    """The declaration without validation: the store's reload path where it exists, else `direct_spec`."""
    if TRUSTED:
        return parse_feature(data.feature(i), limits, trusted=True)
    return direct_spec(data, i)


FAST_HOW = "parse_feature(trusted=True), the store's reload path" if TRUSTED else "build_shape directly (direct_spec)"


def check_fast(data: Workload, count: int) -> None:
    """Stop the run unless `fast_spec` equals `parse_feature` on `count` rows, in every field the rule reads."""
    limits = DeclarationLimits()
    for i in range(min(count, len(data))):
        parsed, fast = parse_feature(data.feature(i), limits), fast_spec(data, i, limits)
        for f in fields(DeclarationSpec):
            if f.name != "shape" and getattr(parsed, f.name) != getattr(fast, f.name):
                raise SystemExit(f"{FAST_HOW} differs from parse_feature in {f.name} at row {i}")
        for f in fields(parsed.shape):
            a, b = getattr(parsed.shape, f.name), getattr(fast.shape, f.name)
            if f.name not in UNREAD and a != b:
                raise SystemExit(f"{FAST_HOW} differs from parse_feature in shape.{f.name} at row {i}: {a} != {b}")


def build_declarations(
    data: Workload, parse: bool, label: str, party: Callable[[int], str], key0: int = 0
) -> tuple[list[Declaration], float]:
    """One active Declaration per row, keys key0.. in row order."""
    limits = DeclarationLimits()
    at = _utc(EPOCH_S - 86_400.0)
    out: list[Declaration] = []
    n = len(data)
    t0 = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(label, total=n)
        for i in range(n):
            if i % CHUNK == 0:
                progress.update(task, completed=i)
            spec = parse_feature(data.feature(i), limits) if parse else fast_spec(data, i, limits)
            key = key0 + i
            out.append(Declaration(key, f"d{key}", party(i), 1, spec, DeclarationStatus.ACTIVE, at, at))
    return out, time.perf_counter() - t0


# The full check ---------------------------------------------------------------------------------------------------


def query_boxes(policy: SeparationPolicy, d: Declaration) -> list[Box]:
    """The boxes `Picture.conflicts_for` asks its index for."""
    s = d.spec
    return list(s.shape.boxes(s.radius_m + policy.reach_m(s.kind, s.separation_m)))


def picture_rows(
    index: str, label: str, stored: list[Declaration], new: list[Declaration], warmup: list[Declaration]
) -> tuple[list[Row], set[tuple[int, int]]]:
    """`Picture.conflicts_for` on each new declaration, one at a time; then the exact rule alone on its candidates."""
    policy = SeparationPolicy()
    picture = Picture(policy, index=index)
    with progress_bar() as progress:
        task = progress.add_task(f"Picture(index={index!r}).load {len(stored):,}", total=1)
        t0 = time.perf_counter()
        picture.load(stored)
        build_s = time.perf_counter() - t0
        progress.update(task, completed=1)
    for d in warmup:
        picture.conflicts_for(d)
    found: list[list[tuple[Declaration, Finding]]] = []
    samples = time_each((lambda d=d: found.append(picture.conflicts_for(d))) for d in new)
    candidates = []
    for d in new:  # untimed: the candidates the check above started from
        s = d.spec
        end = None if s.window.end is None else s.window.end_s
        keys = picture.index.candidates(query_boxes(policy, d), s.window.start_s, end, *_band(s))
        candidates.append([picture.declarations[k] for k in sorted(keys)])
    hits = sum(len(c) for c in candidates) / len(new)
    pairs = {(q, other.key) for q, conflicts in enumerate(found) for other, _ in conflicts}
    rows = [Row(label, "conflicts_for(): index + exact rule", samples, hits, len(pairs) / len(new), build_s)]

    def exact(d: Declaration, others: list[Declaration]) -> None:
        for other in others:
            if other.party != d.party:
                assess(d, other, policy)

    exact_only = time_each((lambda d=d, c=c: exact(d, c)) for d, c in zip(new, candidates, strict=True))
    rows.append(Row("  exact rule alone", "assess() on those candidates, pre-fetched", exact_only, hits))
    return rows, pairs


def _band(s: DeclarationSpec) -> tuple[float, float | None]:
    return s.altitude.lower_m, s.altitude.upper_m


def strtree_exact_row(
    data: Workload, stored: list[Declaration], new: list[Declaration], warmup: list[Declaration]
) -> tuple[Row, set[tuple[int, int]]]:
    """The same exact check as `Picture.conflicts_for`, fed by an STRtree over the same stored boxes."""
    policy = SeparationPolicy()
    t0 = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"STRtree over {len(stored):,} stored boxes", total=len(stored))
        corners = np.empty((len(stored), 4))
        for i, d in enumerate(stored):
            if i % CHUNK == 0:
                progress.update(task, completed=i)
            (box,) = Picture.stored_boxes(d.spec)  # one box each in this region
            corners[i] = box
        tree = shapely.STRtree(shapely.box(corners[:, 0], corners[:, 1], corners[:, 2], corners[:, 3]))
        tree.query(shapely.box(0, 0, 1, 1))  # STRtree builds lazily, on the first query
    build_s = time.perf_counter() - t0
    start, end, lower, top = data.start_s, data.end_s, data.lower_m, data.upper_m
    hits_seen = [0]

    def check(d: Declaration) -> list[tuple[Declaration, Finding]]:
        s = d.spec
        boxes = query_boxes(policy, d)
        if len(boxes) == 1:
            hits = tree.query(shapely.box(*boxes[0]))
        else:
            hits = np.unique(np.concatenate([tree.query(shapely.box(*b)) for b in boxes]))
        keep = (
            (start[hits] < s.window.end_s)
            & (end[hits] > s.window.start_s)
            & (lower[hits] <= s.altitude.top_m)
            & (top[hits] >= s.altitude.lower_m)
        )
        candidates = hits[keep].tolist()
        hits_seen[0] += len(candidates)
        found = []
        for key in sorted(candidates):
            other = stored[key]
            if other.party == d.party:
                continue
            finding = assess(d, other, policy)
            if finding is not None:
                found.append((other, finding))
        return found

    for d in warmup:
        check(d)
    hits_seen[0] = 0
    found: list[list[tuple[Declaration, Finding]]] = []
    samples = time_each((lambda d=d: found.append(check(d))) for d in new)
    pairs = {(q, other.key) for q, conflicts in enumerate(found) for other, _ in conflicts}
    row = Row(
        "shapely STRtree + exact rule",
        "query + numpy time/alt filter + assess()",
        samples,
        hits_seen[0] / len(new),
        len(pairs) / len(new),
        build_s,
    )
    return row, pairs


# PostGIS ----------------------------------------------------------------------------------------------------------


class Skip(Exception):
    """The PostGIS rows cannot be measured; the message says why."""


def _wkt(ring: Sequence[tuple[float, float]]) -> str:
    closed = [*ring, ring[0]]
    return "SRID=4326;POLYGON((" + ",".join(f"{lon!r} {lat!r}" for lon, lat in closed) + "))"


def _iso(epoch_s: np.ndarray[Any, np.dtype[np.float64]]) -> list[str]:
    return [f"{t}Z" for t in np.datetime_as_string(epoch_s.astype("datetime64[s]"))]


def _numrange(lower: float, upper: float) -> str:
    return f"[{lower!r},)" if math.isinf(upper) else f"[{lower!r},{upper!r}]"


def _pg_connect(dbname: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise Skip("psycopg is not installed (pip install -e .)") from None
    try:
        return psycopg.connect(f"{PG_DSN} dbname={dbname}", autocommit=True)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Skip(f"no PostgreSQL reachable ({first})") from None


def postgis_load(data: Workload) -> tuple[Any, float]:
    """A fresh database holding the N declarations, indexed and analysed; (connection, seconds)."""
    admin = _pg_connect("postgres")
    try:
        row = admin.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
        if row is None:
            raise Skip("PostGIS is not installed in this PostgreSQL (`make bench` installs it, as root)")
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DB}")
    finally:
        admin.close()
    conn = _pg_connect(PG_DB)
    n = len(data)
    t0 = time.perf_counter()
    conn.execute("CREATE EXTENSION postgis")
    conn.execute("CREATE EXTENSION btree_gist")
    conn.execute(
        "CREATE UNLOGGED TABLE d (id integer NOT NULL, party text NOT NULL, kind text NOT NULL,"
        " geog geography(Polygon, 4326) NOT NULL, during tstzrange NOT NULL, alt numrange NOT NULL)"
    )
    starts, ends = _iso(data.start_s), _iso(data.end_s)
    with progress_bar() as progress:
        task = progress.add_task(f"PostGIS COPY {n:,}", total=n)
        with conn.cursor().copy("COPY d (id, party, kind, geog, during, alt) FROM STDIN") as copy:
            for first in range(0, n, CHUNK):
                lines = [
                    f"{i}\t{PARTIES[i % len(PARTIES)]}\t{'site' if data.site[i] else 'area'}\t{_wkt(data.ring(i))}"
                    f"\t[{starts[i]},{ends[i]})\t{_numrange(float(data.lower_m[i]), float(data.upper_m[i]))}\n"
                    for i in range(first, min(first + CHUNK, n))
                ]
                copy.write("".join(lines))
                progress.update(task, completed=first + len(lines))
        task = progress.add_task("PostGIS CREATE INDEX (GiST on geog, during, alt), ANALYZE", total=1)
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("CREATE INDEX d_gist ON d USING gist (geog, during, alt)")
        conn.execute("ANALYZE d")
        progress.update(task, completed=1)
    return conn, time.perf_counter() - t0


DWITHIN = "ST_DWithin(geog, %(g)s::geography, %(reach)s) AND during && %(t)s::tstzrange AND alt && %(a)s::numrange"
PG_QUERIES = {
    "floor": "SELECT %(g)s::text",
    "dwithin": f"SELECT id FROM d WHERE {DWITHIN}",
    "full": f"SELECT id, kind, ST_Distance(geog, %(g)s::geography) FROM d WHERE {DWITHIN} AND party <> %(p)s",
}


def postgis_rows(data: Workload, queries: Workload, warmup: Workload, keep_db: bool) -> tuple[list[Row], Any]:
    """Three rows: the round-trip floor, ST_DWithin candidates, and the full check with distances."""
    conn, build_s = postgis_load(data)
    policy = SeparationPolicy()

    def params(q: Workload, i: int) -> dict[str, Any]:
        kind = Kind.SITE if q.site[i] else Kind.AREA
        iso = _iso(np.array([q.start_s[i], q.end_s[i]]))
        return {
            "g": _wkt(q.ring(i)),
            "reach": policy.reach_m(kind, None),  # radius 0, no stated separation, as in our query
            "t": f"[{iso[0]},{iso[1]})",
            "a": _numrange(float(q.lower_m[i]), float(q.upper_m[i])),
            "p": NEW_PARTY,
        }

    args = [params(queries, i) for i in range(len(queries))]
    warm = [params(warmup, i) for i in range(len(warmup))]
    kinds = [Kind.SITE if s else Kind.AREA for s in queries.site]
    rows = []
    pairs: set[tuple[int, int]] = set()
    try:
        cur = conn.cursor()
        for name, sql in PG_QUERIES.items():
            for a in warm:
                cur.execute(sql, a, prepare=True)
                cur.fetchall()
            results: list[list[tuple[Any, ...]]] = []

            def run(a: dict[str, Any], sql: str = sql, results: list[list[tuple[Any, ...]]] = results) -> None:
                cur.execute(sql, a, prepare=True)
                results.append(cur.fetchall())

            samples = time_each((lambda a=a: run(a)) for a in args)
            if name == "floor":
                rows.append(Row("PostgreSQL round trip", "prepared SELECT $1, one connection (floor)", samples))
                continue
            hits = sum(len(r) for r in results) / len(args)
            if name == "dwithin":
                timed = "ST_DWithin($2 = reach) + range && (candidates)"
                rows.append(Row("PostGIS GiST (geography)", timed, samples, hits, None, build_s))
                continue
            for q, found in enumerate(results):
                for key, kind, distance in found:
                    required = policy.required_m(kinds[q], None, Kind(kind), None)
                    if distance < required:
                        pairs.add((q, key))
            timed = "same + party <> + ST_Distance per hit (full check)"
            rows.append(Row("PostGIS GiST (geography)", timed, samples, hits, len(pairs) / len(args)))
        plan = conn.execute("EXPLAIN (COSTS OFF) " + PG_QUERIES["dwithin"], args[0]).fetchall()
        uses_index = any("d_gist" in line[0] for line in plan)
    finally:
        conn.close()
        if not keep_db:
            admin = _pg_connect("postgres")
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            admin.close()
    return rows, (pairs, uses_index)


# One size ---------------------------------------------------------------------------------------------------------


def run_size(n: int, args: argparse.Namespace) -> Row | None:
    """Measure and print everything at N; returns our default full-check row."""
    rng = np.random.default_rng(args.seed)
    with progress_bar() as progress:
        task = progress.add_task(f"generate {n:,}", total=1)
        data = generate(rng, n)
        queries = generate(rng, args.queries, grow_km=QUERY_GROWTH_KM)
        warmup = generate(rng, WARMUP, grow_km=QUERY_GROWTH_KM)
        updates = generate(rng, args.queries)
        new = generate(rng, args.queries)  # the full check's new declarations: same distribution, not grown
        new_warmup = generate(rng, WARMUP)
        progress.update(task, completed=1)
    notes: list[str] = []
    rows, note = candidate_rows(data, queries, warmup, updates)
    notes.append(note)

    parse = n <= args.parse_up_to
    if not parse:
        check_fast(data, CHECKED_DIRECT)
    how = "parse_feature" if parse else FAST_HOW
    stored, build_s = build_declarations(data, parse, f"Declarations ({how}) {n:,}", lambda i: PARTIES[i % 10])
    notes.append(
        f"{n:,} Declarations built in {build_s:.0f} s with "
        + (
            "parse_feature (the API's own validation path)"
            if parse
            else f"{FAST_HOW}, no validation (first {CHECKED_DIRECT:,} checked equal to the validating parse_feature)"
        )
    )
    new_decls, _ = build_declarations(new, True, "new declarations (parse_feature)", lambda i: NEW_PARTY, n)
    warm_decls, _ = build_declarations(new_warmup, True, "warm-up declarations", lambda i: NEW_PARTY, n + len(new))

    ours: Row | None = None
    results: dict[str, set[tuple[int, int]]] = {}
    for index, label in (("grid", "Picture, GridIndex (default)"), ("rtree", "Picture, 3-D R-tree")):
        gc.collect()
        picture_result, results[label] = picture_rows(index, label, stored, new_decls, warm_decls)
        rows.extend(picture_result if ours is None else picture_result[:1])
        ours = ours or picture_result[0]
        gc.collect()
    row, results["STRtree"] = strtree_exact_row(data, stored, new_decls, warm_decls)
    rows.append(row)
    reference = results["Picture, GridIndex (default)"]
    agree = all(found == reference for found in results.values())
    notes.append(
        f"conflict pairs found: {len(reference):,}; R-tree and STRtree feeds give "
        + ("the same pairs" if agree else "[red]different pairs[/red]")
    )
    del stored
    gc.collect()

    if args.no_postgis:
        rows.append(Row("PostGIS", "", skipped="--no-postgis"))
    else:
        try:
            pg_rows, (pg_pairs, uses_index) = postgis_rows(data, new, new_warmup, args.keep_db)
            rows.extend(pg_rows)
            only_ours, only_pg = len(reference - pg_pairs), len(pg_pairs - reference)
            notes.append(
                f"PostGIS conflicts vs ours: {len(reference & pg_pairs):,} same, {only_ours} only ours, "
                f"{only_pg} only PostGIS (geography ST_DWithin/ST_Distance: WGS84 spheroid by default, <= where "
                "ours is <); the ST_DWithin plan " + ("uses d_gist" if uses_index else "[red]does not use d_gist[/red]")
            )
        except Skip as exc:
            rows.append(Row("PostGIS", "", skipped=str(exc)))

    table = Table(title=f"N = {n:,} active declarations: {args.queries:,} queries, one at a time", title_justify="left")
    for column, justify in (("structure", "left"), ("what is timed", "left"), ("p50 ms", "right"),
                            ("p99 ms", "right"), ("hits", "right"), ("conflicts", "right"),
                            ("build s", "right")):  # fmt: skip
        table.add_column(column, justify=justify)
    sections = {4, 8}  # after the candidate-only rows, after the full checks
    for i, row in enumerate(rows):
        table.add_row(*row.cells(), end_section=i in sections or i == len(rows) - 1)
    console.print(table)
    for note in notes:
        console.print(f"  {note}")
    console.print(
        "  hits = candidates per query (before the exact rule); conflicts = conflicts found per query. "
        "Candidate-only queries are grown by 2 km; full checks by the reach of the new declaration (3 km).",
        style="dim",
    )
    console.print()
    return ours


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
        with progress_bar() as progress:
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
    parser.add_argument(
        "--parse-up-to",
        type=int,
        default=100_000,
        help="build stored declarations with parse_feature up to this N, without validation above it",
    )
    parser.add_argument("--no-postgis", action="store_true", help="skip the PostGIS rows")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the {PG_DB} database after the run")
    parser.add_argument("--tune", action="store_true", help="sweep R-tree node settings instead")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.tune:
        tune(sizes[-1], args.queries, args.seed)
        return
    t0 = time.perf_counter()
    ours = {n: run_size(n, args) for n in sizes}
    at_target = ours.get(TARGET_N)
    target = f"Target: full conflict check p99 ≤ {TARGET_P99_MS} ms at {TARGET_N:,} active"
    if at_target is None:
        console.print(f"{target}: not measured (largest N here is {max(sizes):,}; run with --sizes ...,{TARGET_N})")
    else:
        p99 = at_target.p99_ms
        verdict = "[green]met[/green]" if p99 <= TARGET_P99_MS else "[red]NOT met[/red]"
        console.print(f"{target}: our full check (Picture, GridIndex) p99 = {p99:.3f} ms → {verdict}")
    console.print(f"bench_index: {time.perf_counter() - t0:.0f} s", style="dim")


if __name__ == "__main__":
    main()
