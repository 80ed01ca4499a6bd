"""The service's conflict check on the PostgreSQL/PostGIS backend, beside raw PostGIS queries on the same data.

    .venv/bin/python bench/bench_postgis.py --sizes 100000,1000000 [--queries 2000] [--keep-db]

For each size N, in one run: a database `deconf_bench_<N>` filled through the service's own store with N active
declarations of bench_index.py's distribution (same generator, same seed: the same declarations; `save_declaration`
up to 100,000, above it a COPY of exactly the rows it writes, checked on a sample), the service opened
on it as a server opens it (`bootstrap.wire`: migrations, then the in-memory picture loaded from PostgreSQL), then,
query after query on the same data:

* the service: `ctx.picture.conflicts_for(d)` for `--queries` new declarations of another party, and the box list
  `tx.list_declarations(DeclarationQuery(...))` inside `store.read()` (PostGIS GiST indexes) for the same place and
  time;
* raw PostGIS from one connection, prepared: the box `&&` + time and altitude range overlap on the service's own
  `declarations` table and GiST index; an `ST_DWithin` geodesic query (and the full check with `ST_Distance`) on a
  geography copy of the same rows; the round trip floor `SELECT $1`.

Each figure is printed beside its baseline with the ratio. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing as mp
import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.copy import QueuedLibpqWriter
from rich.table import Table

from bench_index import (
    CHECKED_DIRECT,
    EPOCH_S,
    FAST_HOW,
    NEW_PARTY,
    PARTIES,
    QUERY_GROWTH_KM,
    WARMUP,
    Workload,
    _utc,
    _wkt,
    build_declarations,
    check_fast,
    console,
    generate,
    percentiles_ms,
    progress_bar,
    query_boxes,
    rss_mb,
)
from common import machine_facts
from deconfliction.bootstrap import Wired, wire
from deconfliction.config import load_settings
from deconfliction.domain.declarations import AUDIENCE_ALL, Declaration, Kind
from deconfliction.domain.parties import Party, PartyStatus
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.services.picture import Picture
from deconfliction.storage.base import Box, DeclarationQuery, Tx
from deconfliction.storage.pgtime import ts
from deconfliction.storage.postgres import PostgresStore

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SERVER = "postgresql://postgres@127.0.0.1:5432"
GENERATOR = "bench_index.generate v1"  # part of a cached database's fingerprint: change when the data changes
FINGERPRINT_KEY = "bench_postgis"  # the meta row saying which workload a cached database holds
CHUNK = 10_000  # declarations per write transaction / per COPY block
SERVICE_LOAD_UP_TO = 100_000  # --load auto: through save_declaration up to here (~0.7 ms each), COPY above
VERIFIED = 200  # rows of a COPY load compared with what save_declaration writes
ROUNDS = 10  # the queries are timed in rounds, every row in each, so that a noisy minute hits all rows alike
VIEWER = PARTIES[0]  # the party asking for the box list: it sees its own declarations (audience "conflicts")
ADMIN_TOKEN = "bench-admin-token"
TARGET_RATIO = 2.0  # the issue: the service's check within 2x of the raw PostGIS query


@contextmanager
def step(description: str) -> Iterator[None]:
    """A step with no count of its own: a bar with its elapsed time (one line when not on a terminal)."""
    with progress_bar() as progress:
        task = progress.add_task(description, total=1)
        yield
        progress.update(task, completed=1)


def workloads(seed: int, n: int, queries: int) -> tuple[Workload, Workload, Workload]:
    """The stored rows, the new declarations and their warm-up: bench_index.py's draws in its order, so that a seed
    gives the same declarations there and here."""
    rng = np.random.default_rng(seed)
    data = generate(rng, n)
    generate(rng, queries, grow_km=QUERY_GROWTH_KM)  # bench_index's candidate-only queries, warm-up and updates
    generate(rng, WARMUP, grow_km=QUERY_GROWTH_KM)
    generate(rng, queries)
    return data, generate(rng, queries), generate(rng, WARMUP)


def db_url(dbname: str) -> str:
    return f"{SERVER}/{dbname}"


def admin() -> psycopg.Connection[Any]:
    return psycopg.connect(db_url("postgres"), autocommit=True, connect_timeout=5)


# Filling the database ---------------------------------------------------------------------------------------------


def _copy_text(value: str) -> str:
    """A value in COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _envelope(box: Box) -> str:
    """`ST_MakeEnvelope(*box, 4326)` as hex EWKB: the same ring, from the same doubles."""
    w, s, e, n = box
    header = struct.pack("<BIIII", 1, 0x20000003, 4326, 1, 5)  # little-endian, Polygon with SRID, 1 ring of 5
    return (header + struct.pack("<10d", w, s, w, n, e, n, e, s, w, s)).hex()


def _range(lower: float, upper: float | None, bounds: str) -> str:
    """`deconf_float8range(lower, upper, bounds)` as text."""
    return f"{bounds[0]}{lower!r},{'' if upper is None else repr(upper)}{bounds[1]}"


def copy_rows(d: Declaration) -> tuple[str, str]:
    """The `declarations` and `declaration_versions` rows `save_declaration` writes for a new declaration."""
    s = d.spec
    if not isinstance(s.audience, str) or d.version != 1:
        raise SystemExit("the COPY path writes new declarations with a named audience only")
    feature = _copy_text(json.dumps(d.to_feature(), separators=(",", ":")))
    boxes = Picture.stored_boxes(s)
    box2 = _envelope(boxes[1]) if len(boxes) > 1 else "\\N"
    end_s = None if s.window.end is None else s.window.end_s
    created, updated = ts(d.created_at), ts(d.updated_at)
    assert created is not None and updated is not None
    row = (
        f"{d.key}\t{_copy_text(d.id)}\t{_copy_text(d.party)}\t{d.version}\t{d.status.value}\t{s.kind.value}\t"
        f"{feature}\t{'t' if s.audience == AUDIENCE_ALL else 'f'}\t{_envelope(boxes[0])}\t{box2}\t"
        f"{_range(s.window.start_s, end_s, '[)')}\t{_range(s.altitude.lower_m, s.altitude.upper_m, '[]')}\t"
        f"{created.isoformat()}\t{updated.isoformat()}\n"
    )
    return row, f"{d.key}\t{d.version}\t{d.status.value}\t{feature}\t{updated.isoformat()}\n"


DECLARATION_COLUMNS = (
    "key, id, party, version, status, kind, feature, audience_all, box1, box2, during_s, altitude_m, created_at,"
    " updated_at"
)


COPIED_TABLES = ("declarations", "declaration_versions")


def load_copy(url: str, declarations: list[Declaration]) -> None:
    """COPY the rows `save_declaration` would write, in one transaction, into the migrated tables with their indexes
    in place (so they grow row by row, as the service's do). The foreign-key triggers, ~40 % of the server's time
    per row, are skipped and the keys checked once at the end, before the commit."""
    versions: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn, progress_bar() as progress:
        task = progress.add_task(f"COPY {len(declarations):,} declarations", total=len(declarations))
        conn.execute("BEGIN")
        conn.execute("SET LOCAL session_replication_role = replica")  # no triggers: the foreign keys' checks
        cur = conn.cursor()
        # sent from a thread of its own: the server takes one block while the next is formatted
        with cur.copy(f"COPY declarations ({DECLARATION_COLUMNS}) FROM STDIN", writer=QueuedLibpqWriter(cur)) as copy:
            for first in range(0, len(declarations), CHUNK):
                block = [copy_rows(d) for d in declarations[first : first + CHUNK]]
                copy.write("".join(row for row, _ in block))
                versions.extend(version for _, version in block)
                progress.update(task, completed=first + len(block))
        task = progress.add_task("COPY declaration_versions", total=len(versions))
        with cur.copy("COPY declaration_versions (key, version, status, feature, at) FROM STDIN") as copy:
            for first in range(0, len(versions), CHUNK):
                copy.write("".join(versions[first : first + CHUNK]))
                progress.update(task, completed=first + CHUNK)
        task = progress.add_task("check the foreign keys", total=1)
        check_foreign_keys(conn)
        progress.update(task, completed=1)
        conn.execute("COMMIT")


def check_foreign_keys(conn: psycopg.Connection[Any]) -> None:
    """Stop unless every foreign key of the COPY'd tables holds (what the skipped triggers would have checked)."""
    constraints = conn.execute(
        "SELECT conname, conrelid::regclass::text, confrelid::regclass::text,"
        " ARRAY(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a"
        "       ON a.attrelid = conrelid AND a.attnum = k.n ORDER BY k.i)::text[],"
        " ARRAY(SELECT attname FROM unnest(confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a"
        "       ON a.attrelid = confrelid AND a.attnum = k.n ORDER BY k.i)::text[]"
        " FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
        (list(COPIED_TABLES),),
    ).fetchall()
    for name, table, parent, columns, parent_columns in constraints:
        match = " AND ".join(f"p.{pc} = c.{cc}" for cc, pc in zip(columns, parent_columns, strict=True))
        present = " AND ".join(f"c.{cc} IS NOT NULL" for cc in columns)
        row = conn.execute(
            f"SELECT count(*) FROM {table} c WHERE {present} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {match})"
        ).fetchone()
        if row is None or row[0]:
            raise SystemExit(f"COPY broke the foreign key {name}: {row[0] if row else '?'} rows of {table}")


def load_service(store: PostgresStore, declarations: list[Declaration]) -> None:
    """Through the service's store: `save_declaration` with the boxes the service computes, CHUNK per transaction."""
    with progress_bar() as progress:
        task = progress.add_task(f"save_declaration × {len(declarations):,}", total=len(declarations))
        for first in range(0, len(declarations), CHUNK):
            with store.write() as tx:
                for d in declarations[first : first + CHUNK]:
                    tx.save_declaration(d, Picture.stored_boxes(d.spec))
            progress.update(task, completed=first + CHUNK)


class _Undo(Exception):
    """Raised to roll back the verification's transaction."""


def _row_texts(tx: Tx, keys: list[int]) -> list[str]:
    c = tx.c  # type: ignore[attr-defined]  # PostgresTx's connection
    rows = c.execute("SELECT d::text AS t FROM declarations d WHERE key = ANY(%s) ORDER BY key", (keys,)).fetchall()
    rows += c.execute(
        "SELECT v::text AS t FROM declaration_versions v WHERE key = ANY(%s) ORDER BY key", (keys,)
    ).fetchall()
    return [r["t"] for r in rows]


def verify(store: PostgresStore, declarations: list[Declaration], copied: bool) -> str:
    """Read a sample back with `get_declaration`; after a COPY, also compare every column, as text, with what
    `save_declaration` writes for the same declarations (in a transaction rolled back)."""
    stride = max(1, len(declarations) // VERIFIED)
    sample = declarations[::stride][:VERIFIED]
    with store.read() as tx:
        for d in sample:
            back = tx.get_declaration(d.id)
            if back is None or (back.key, back.party, back.status, back.to_feature()) != (
                d.key, d.party, d.status, d.to_feature()
            ) or Picture.stored_boxes(back.spec) != Picture.stored_boxes(d.spec):  # fmt: skip
                raise SystemExit(f"get_declaration({d.id!r}) does not give back what was stored")
    if not copied:
        return f"{len(sample)} declarations read back with get_declaration: equal"
    keys = [d.key for d in sample]
    try:
        with store.write() as tx:
            copied_rows = _row_texts(tx, keys)
            tx.c.execute("DELETE FROM declaration_versions WHERE key = ANY(%s)", (keys,))  # type: ignore[attr-defined]
            tx.c.execute("DELETE FROM declarations WHERE key = ANY(%s)", (keys,))  # type: ignore[attr-defined]
            for d in sample:
                tx.save_declaration(d, Picture.stored_boxes(d.spec))
            saved_rows = _row_texts(tx, keys)
            raise _Undo
    except _Undo:
        pass
    if len(copied_rows) != 2 * len(sample) or copied_rows != saved_rows:
        diff = next(((a, b) for a, b in zip(copied_rows, saved_rows, strict=False) if a != b), ("rows", "missing"))
        raise SystemExit(f"the COPY'd rows differ from save_declaration's:\n  {diff[0]}\n  {diff[1]}")
    return (
        f"{len(sample)} COPY'd declarations equal, column by column, to the rows save_declaration writes"
        " (declarations and declaration_versions), and read back equal with get_declaration"
    )


def geography_copy(url: str) -> None:
    """The same rows as geography, for the ST_DWithin baseline, in a table of their own: a column on the service's
    table would also be read by its `SELECT *` at start-up."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE TABLE bench_geography AS SELECT key, party, kind,"
            " ST_GeomFromGeoJSON((feature::json) ->> 'geometry')::geography(Polygon, 4326) AS geog, during_s,"
            " altitude_m FROM declarations WHERE status = 'active'"
        )
        conn.execute("CREATE INDEX bench_geography_gist ON bench_geography USING gist (geog, during_s, altitude_m)")
        conn.execute("VACUUM (ANALYZE) bench_geography")


def populate(n: int, dbname: str, args: dict[str, Any], out: Any) -> None:
    """Fill a fresh database with the N declarations (run in a child process, so that the measuring process holds
    only what the service holds). Puts its phases' seconds on `out`."""
    phases: dict[str, float] = {}
    url = db_url(dbname)
    data, _, _ = workloads(args["seed"], n, args["queries"])
    t0 = time.perf_counter()
    store = PostgresStore(url)
    store.migrate()
    at = _utc(EPOCH_S - 86_400.0)
    with store.write() as tx:
        for party in PARTIES:
            tx.add_party(Party(party, f"Bench party {party}", PartyStatus.ACTIVE, None, at))
    phases["migrate"] = time.perf_counter() - t0
    parse = n <= args["parse_up_to"]
    if not parse:
        check_fast(data, CHECKED_DIRECT)
    how = "parse_feature" if parse else FAST_HOW
    stored, phases["build Declarations"] = build_declarations(
        data, parse, f"Declarations ({how}) {n:,}", lambda i: PARTIES[i % len(PARTIES)], key0=1
    )
    copied = args["load"] == "copy" or (args["load"] == "auto" and n > SERVICE_LOAD_UP_TO)
    t0 = time.perf_counter()
    if copied:
        load_copy(url, stored)
    else:
        load_service(store, stored)
    phases["COPY" if copied else "save_declaration"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with step("VACUUM (ANALYZE) declarations, declaration_versions"), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) declarations")
        conn.execute("VACUUM (ANALYZE) declaration_versions")
    phases["VACUUM ANALYZE"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    checked = verify(store, stored, copied)
    phases["verify"] = time.perf_counter() - t0
    del stored
    t0 = time.perf_counter()
    with step("geography copy for ST_DWithin (CREATE TABLE AS, GiST, ANALYZE)"):
        geography_copy(url)
    phases["geography copy"] = time.perf_counter() - t0
    with store.write() as tx:
        tx.set_meta(FINGERPRINT_KEY, fingerprint(n, args["seed"]))
    store.close()
    how_loaded = "COPY (bench only)" if copied else "PostgresStore.write() + save_declaration"
    out.put({"phases": phases, "notes": [f"loaded with {how_loaded}, built with {how}", checked]})


def fingerprint(n: int, seed: int) -> str:
    return json.dumps({"n": n, "seed": seed, "generator": GENERATOR}, sort_keys=True)


def cached(dbname: str, n: int, seed: int) -> bool:
    """Whether the database exists and holds this workload, complete (the fingerprint is written last)."""
    with admin() as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
            return False
    with psycopg.connect(db_url(dbname), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone() != (True,):
            return False
        row = conn.execute("SELECT value FROM meta WHERE key = %s", (FINGERPRINT_KEY,)).fetchone()
        if row is None or row[0] != fingerprint(n, seed):
            return False
        active = conn.execute("SELECT count(*) FROM declarations WHERE status = 'active'").fetchone()
        return active is not None and active[0] == n


def prepare_database(n: int, args: argparse.Namespace) -> tuple[str, dict[str, float], list[str]]:
    """The database with the N declarations: reused under --keep-db when it holds them, else made afresh."""
    dbname = f"deconf_bench_{n}"
    if args.keep_db and cached(dbname, n, args.seed):
        return dbname, {}, [f"reused database {dbname} (--keep-db; its fingerprint matches)"]
    with admin() as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone() is None:
            raise SystemExit("PostGIS is not installed in this PostgreSQL (`make bench` installs it)")
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {dbname}")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=populate, args=(n, dbname, vars(args), out), name="populate")
    child.start()
    try:
        result = None
        while result is None:
            try:
                result = out.get(timeout=1)
            except Exception:  # queue.Empty
                if not child.is_alive():
                    raise SystemExit(f"filling {dbname} failed (exit {child.exitcode})") from None
        child.join(timeout=60)
    finally:
        if child.is_alive():
            child.terminate()
            child.join(timeout=10)
    return dbname, result["phases"], result["notes"]


# Measuring --------------------------------------------------------------------------------------------------------


@dataclass
class Query:
    """One new declaration and the arguments every row asks about it with."""

    declaration: Declaration
    boxes: list[Box]
    box_args: list[float | None]  # the raw box query's
    geo_args: dict[str, Any]  # the ST_DWithin queries'


def make_query(policy: SeparationPolicy, d: Declaration, ring: Sequence[tuple[float, float]]) -> Query:
    s = d.spec
    boxes = query_boxes(policy, d)  # what conflicts_for asks its index
    end_s = None if s.window.end is None else s.window.end_s
    ranges: list[float | None] = [s.window.start_s, end_s, s.altitude.lower_m, s.altitude.upper_m]
    box_args: list[float | None] = [v for box in boxes for v in box]
    box_args += ranges
    geo = {
        "g": _wkt(ring),
        "reach": s.radius_m + policy.reach_m(s.kind, s.separation_m),
        "start": ranges[0],
        "end": ranges[1],
        "lower": ranges[2],
        "upper": ranges[3],
        "party": d.party,
    }
    return Query(d, boxes, box_args, geo)


def raw_box_sql(boxes: int) -> str:
    """The box `&&` and range overlaps the service's schema indexes (`declarations_where_when`): box1 only, as no
    stored declaration here straddles 180° (the notes check that none has a box2)."""
    where = " OR ".join(["box1 && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"] * boxes)
    return (
        f"SELECT key FROM declarations WHERE ({where}) AND during_s && deconf_float8range(%s, %s, '()')"
        " AND altitude_m && deconf_float8range(%s, %s, '[]') AND status = 'active'"
    )


GEO_WHERE = (
    "ST_DWithin(geog, %(g)s::geography, %(reach)s) AND during_s && deconf_float8range(%(start)s, %(end)s, '()')"
    " AND altitude_m && deconf_float8range(%(lower)s, %(upper)s, '[]')"
)
DWITHIN_SQL = f"SELECT key FROM bench_geography WHERE {GEO_WHERE}"
FULL_SQL = (
    f"SELECT key, kind, ST_Distance(geog, %(g)s::geography) AS distance_m FROM bench_geography WHERE {GEO_WHERE}"
    " AND party <> %(party)s"
)


@dataclass
class Row:
    key: str
    label: str
    timed: str
    baselines: tuple[str, ...]  # the keys of the rows it is compared with
    run: Callable[[Query], Any]
    plan_cache_mode: str = "auto"  # PostgreSQL's, set on the raw connection while this row runs
    samples: list[float] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    @property
    def p50_p99(self) -> tuple[float, float]:
        return percentiles_ms(self.samples)

    def mean_rows(self) -> float:
        counted = [len(r) for r in self.results if r is not None]
        return sum(counted) / len(counted) if counted else math.nan


def make_rows(wired: Wired, conn: psycopg.Connection[Any]) -> list[Row]:
    ctx, cur = wired.ctx, conn.cursor()

    def fetch(sql: str, params: Any) -> list[tuple[Any, ...]]:
        cur.execute(sql, params, prepare=True)
        return cur.fetchall()

    def listed(q: Query) -> list[tuple[int, dict[str, Any]]]:
        s = q.declaration.spec
        end_s = None if s.window.end is None else s.window.end_s
        asked = DeclarationQuery(viewer=VIEWER, boxes=q.boxes, start_s=s.window.start_s, end_s=end_s, limit=1000)
        with ctx.store.read() as tx:
            return tx.list_declarations(asked)

    def empty_read(q: Query) -> None:
        with ctx.store.read():
            pass

    box_sql = {k: raw_box_sql(k) for k in (1, 2, 3, 4)}
    generic_sql = {k: f"{sql} /* generic */" for k, sql in box_sql.items()}  # a prepared statement of its own
    return [
        Row("floor", "PostgreSQL round trip", "SELECT $1", (), lambda q: fetch("SELECT %s::text", (q.geo_args["g"],))),
        Row("box", "raw GiST box &&, custom plan", "box1 &&, time, altitude &&, status", ("floor",),
            lambda q: fetch(box_sql[len(q.boxes)], q.box_args), "force_custom_plan"),
        Row("generic", "raw GiST box &&, generic plan", "the same, default plan cache", ("floor",),
            lambda q: fetch(generic_sql[len(q.boxes)], q.box_args)),
        Row("dwithin", "raw PostGIS: ST_DWithin", "geography, ST_DWithin + ranges &&", ("floor",),
            lambda q: fetch(DWITHIN_SQL, q.geo_args)),
        Row("full", "raw PostGIS: full check", "the same + party <>, ST_Distance", ("floor",),
            lambda q: fetch(FULL_SQL, q.geo_args)),
        Row("read", "service: empty read", "with store.read(): pass", ("floor",), empty_read),
        Row("check", "service: conflict check", "ctx.picture.conflicts_for(d)", ("raw", "full"),
            lambda q: ctx.picture.conflicts_for(q.declaration)),
        Row("list", "service: box list", "list_declarations() in store.read()", ("raw", "read"), listed),
    ]  # fmt: skip


def measure(rows: list[Row], queries: list[Query], warmup: list[Query], conn: psycopg.Connection[Any]) -> None:
    """Every row over the warm-up queries, then the timed queries in ROUNDS rounds, every row in each round."""
    mode = [""]

    def plan_cache(row: Row) -> None:
        if row.plan_cache_mode != mode[0]:
            conn.execute("SELECT set_config('plan_cache_mode', %s, false)", (row.plan_cache_mode,))
            mode[0] = row.plan_cache_mode

    for row in rows:
        plan_cache(row)
        for q in warmup:
            row.run(q)
        row.samples, row.results = [0.0] * len(queries), [None] * len(queries)
    per_round = math.ceil(len(queries) / ROUNDS)
    with progress_bar() as progress:
        task = progress.add_task(f"{len(rows)} rows × {len(queries):,} queries, {ROUNDS} rounds", total=ROUNDS)
        for first in range(0, len(queries), per_round):
            for row in rows:
                plan_cache(row)
                gc.collect()
                for i in range(first, min(first + per_round, len(queries))):
                    t0 = time.perf_counter()
                    result = row.run(queries[i])
                    row.samples[i] = time.perf_counter() - t0
                    row.results[i] = result
            progress.advance(task)
    plan_cache(Row("", "", "", (), lambda q: None))  # back to the default


def cross_checks(wired: Wired, conn: psycopg.Connection[Any], rows: dict[str, Row], queries: list[Query]) -> list[str]:
    """Whether the raw queries found what the service finds, and whether the plans use the indexes."""
    picture, policy = wired.ctx.picture, wired.ctx.policy
    same = extra = missing = 0
    for q, found in zip(queries, rows["box"].results, strict=True):
        s = q.declaration.spec
        end_s = None if s.window.end is None else s.window.end_s
        ours = picture.index.candidates(q.boxes, s.window.start_s, end_s, s.altitude.lower_m, s.altitude.upper_m)
        theirs = {int(k) for (k,) in found}
        same += ours == theirs
        extra += len(theirs - ours)
        missing += len(ours - theirs)
    ours_pairs = {(i, other.key) for i, found in enumerate(rows["check"].results) for other, _ in found}
    pg_pairs = set()
    for i, (q, found) in enumerate(zip(queries, rows["full"].results, strict=True)):
        kind = q.declaration.spec.kind
        for key, other_kind, distance_m in found:
            if distance_m < policy.required_m(kind, None, Kind(other_kind), None):
                pg_pairs.add((i, int(key)))
    box_plan = _plan(conn, raw_box_sql(1), queries[0].box_args)
    generic_plan = _generic_plan(conn, raw_box_sql(1), queries[0].box_args)
    geo_plan = _plan(conn, DWITHIN_SQL, queries[0].geo_args)
    box2 = conn.execute("SELECT count(*) FROM declarations WHERE box2 IS NOT NULL").fetchone()
    return [
        f"raw GiST box && vs the service's index candidates: same set on {same:,}/{len(queries):,} queries,"
        f" {extra:,} more from PostGIS (its index boxes are float4, rounded outwards), {missing:,} fewer;"
        f" declarations with a box2: {box2[0] if box2 else '?'}",
        f"conflicts: service {len(ours_pairs):,} pairs, PostGIS full check {len(pg_pairs):,};"
        f" {len(ours_pairs & pg_pairs):,} the same, {len(ours_pairs - pg_pairs)} only the service's,"
        f" {len(pg_pairs - ours_pairs)} only PostGIS's (geography: WGS84 spheroid, as ours; ST_DWithin is <= where"
        " the rule is <)",
        f"plans: raw box query {box_plan}, its generic plan {generic_plan}; ST_DWithin {geo_plan}",
    ]


def _plan(conn: psycopg.Connection[Any], sql: str, params: Any) -> str:
    return _used([r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()])


def _used(lines: list[str]) -> str:
    used = sorted({w for line in lines for w in line.replace("(", " ").split() if w.endswith(("_gist", "_when"))})
    return f"uses {', '.join(used)}" if used else "[red]uses no GiST index[/red]: " + " / ".join(lines[:3])


def _generic_plan(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> str:
    """The index the generic plan of a prepared `sql` uses (PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN))."""
    parts = sql.split("%s")
    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
    conn.execute(f"PREPARE bench_generic (float8{', float8' * (len(params) - 1)}) AS {numbered}")
    try:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        literals = ", ".join("NULL" if v is None else repr(float(v)) for v in params)
        lines = [r[0] for r in conn.execute(f"EXPLAIN (COSTS OFF) EXECUTE bench_generic ({literals})").fetchall()]
    finally:
        conn.execute("RESET plan_cache_mode")
        conn.execute("DEALLOCATE bench_generic")
    return _used(lines)


def fetch_floor(conn: psycopg.Connection[Any]) -> float:
    """Seconds to fetch the rows the start-up reads, with its SQL and batches, without building anything."""
    t0, after = time.perf_counter(), 0
    while True:
        rows = conn.execute(
            "SELECT * FROM declarations WHERE status = 'active' AND key > %s ORDER BY key LIMIT 2000", (after,)
        ).fetchall()
        if len(rows) < 2000:
            return time.perf_counter() - t0
        after = rows[-1][0]


def open_service(url: str, folder: str, n: int) -> tuple[Wired, float, float, float]:
    """`bootstrap.wire` as a server calls it; (wired, seconds, RSS before, RSS after)."""
    settings = load_settings(
        env={},
        overrides={
            "database_url": url,
            "db": str(Path(folder) / "ledger.db"),  # only the ledger key file is kept beside it
            "admin_token": ADMIN_TOKEN,
            "cot_port": 0,
            "cot_tls_port": 0,
        },
    )
    gc.collect()
    rss_before = rss_mb()
    with progress_bar() as progress:
        task = progress.add_task(f"bootstrap.wire: the picture from PostgreSQL, {n:,}", total=n)
        t0 = time.perf_counter()
        wired = wire(settings, on_loaded=lambda i: progress.update(task, completed=i))
        startup_s = time.perf_counter() - t0
    gc.collect()
    return wired, startup_s, rss_before, rss_mb()


# One size ---------------------------------------------------------------------------------------------------------


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fill (or reuse) the database, open the service on it, measure, print the table; returns the figures."""
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    dbname, phases, notes = prepare_database(n, args)
    prepare_s = time.perf_counter() - t0
    url = db_url(dbname)
    _, new, warm = workloads(args.seed, n, args.queries)
    new_decls, _ = build_declarations(new, True, "new declarations (parse_feature)", lambda i: NEW_PARTY, n + 1)
    warm_decls, _ = build_declarations(warm, True, "warm-up declarations", lambda i: NEW_PARTY, n + 1 + len(new))
    with tempfile.TemporaryDirectory(prefix="bench-postgis-") as folder:
        wired, startup_s, rss_before, rss_after = open_service(url, folder, n)
        try:
            if len(wired.ctx.picture) != n:
                raise SystemExit(f"the service loaded {len(wired.ctx.picture):,} declarations, not {n:,}")
            policy = wired.ctx.policy
            queries = [make_query(policy, d, new.ring(i)) for i, d in enumerate(new_decls)]
            warmup = [make_query(policy, d, warm.ring(i)) for i, d in enumerate(warm_decls)]
            with psycopg.connect(url, autocommit=True) as conn:
                with step("fetching the start-up's rows without building them (its floor)"):
                    fetch_s = fetch_floor(conn)
                rows = make_rows(wired, conn)
                t0 = time.perf_counter()
                measure(rows, queries, warmup, conn)
                measure_s = time.perf_counter() - t0
                by_key = {r.key: r for r in rows}
                # the raw query: whichever plan served it better (a generic plan skips planning, when it is good)
                by_key["raw"] = min(by_key["box"], by_key["generic"], key=lambda r: r.p50_p99[0])
                notes += cross_checks(wired, conn, by_key, queries)
                sizes = conn.execute(
                    "SELECT pg_size_pretty(pg_table_size('declarations')),"
                    " pg_size_pretty(pg_indexes_size('declarations')), current_setting('shared_buffers')"
                ).fetchone()
        finally:
            wired.ctx.close()
    if not args.keep_db:
        with admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
    load_after = os.getloadavg()
    assert sizes is not None
    notes += [
        f"start-up (bootstrap.wire: migrate, load {n:,} declarations from PostgreSQL into the picture):"
        f" {startup_s:.1f} s; fetching the same rows alone (same SQL, no Declarations built): {fetch_s:.1f} s"
        f" ({startup_s / fetch_s:.1f}×); RSS {rss_before:,.0f} MB before, {rss_after:,.0f} MB after"
        f" (+{rss_after - rss_before:,.0f} MB)",
        f"database {dbname}: declarations table {sizes[0]}, its indexes {sizes[1]}; shared_buffers {sizes[2]}",
        f"load average {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f} at the start of this N,"
        f" {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} at its end",
    ]
    phases = {
        **phases,
        "prepare database (total)": prepare_s,
        "start-up (wire)": startup_s,
        "measure": measure_s,
    }
    render(n, args, by_key, rows, phases, notes)
    return {
        "n": n,
        "database": dbname,
        "phases_s": phases,
        "startup_s": startup_s,
        "fetch_floor_s": fetch_s,
        "rss_mb": {"before_wire": rss_before, "after_wire": rss_after},
        "loadavg": {"start": load_before, "end": load_after},
        "rows": {
            r.key: {
                "label": r.label,
                "timed": r.timed,
                "p50_ms": r.p50_p99[0],
                "p99_ms": r.p50_p99[1],
                "rows_per_query": r.mean_rows(),
                "baselines": list(r.baselines),
            }
            for r in rows
        },
        "raw_query": by_key["raw"].key,
        "target": {"check_vs_raw": dict(zip(("p50", "p99"), target_ratios(by_key), strict=True)), "max": TARGET_RATIO},
        "notes": [str(note) for note in notes],
    }


def target_ratios(by_key: dict[str, Row]) -> tuple[float, float]:
    """The service's check over the raw PostGIS query, at p50 and p99."""
    check, raw = by_key["check"].p50_p99, by_key["raw"].p50_p99
    return check[0] / raw[0], check[1] / raw[1]


def _ratio(row: Row, base: Row | None) -> tuple[str, str]:
    if base is None:
        return "", ""
    (a50, a99), (b50, b99) = row.p50_p99, base.p50_p99
    return f"{a50 / b50:.2f}×", f"{a99 / b99:.2f}×"


def render(
    n: int, args: argparse.Namespace, by_key: dict[str, Row], rows: list[Row], phases: dict[str, float],
    notes: list[str],
) -> None:  # fmt: skip
    table = Table(
        title=f"N = {n:,} active declarations on PostgreSQL/PostGIS: {args.queries:,} queries, one at a time",
        title_justify="left",
    )
    for column, justify in (("row", "left"), ("what is timed", "left"), ("p50 ms", "right"), ("p99 ms", "right"),
                            ("baseline", "left"), ("× p50", "right"), ("× p99", "right"),
                            ("rows/query", "right")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        p50, p99 = row.p50_p99
        for j, base_key in enumerate(row.baselines or ("",)):
            base = by_key.get(base_key)
            table.add_row(
                "" if j else row.label,
                "" if j else row.timed,
                "" if j else f"{p50:.3f}",
                "" if j else f"{p99:.3f}",
                "" if base is None else base.label.strip(),
                *_ratio(row, base),
                "" if j or row.key == "read" else f"{row.mean_rows():.2f}",
                style="bold" if row.key in ("check", "list") and not j else None,
                end_section=row.key in ("floor", "full") and j == len(row.baselines) - 1,
            )
    console.print(table)
    box, listing = by_key["raw"], by_key["list"]
    r50, r99 = target_ratios(by_key)
    met = "[green]met[/green]" if max(r50, r99) <= TARGET_RATIO else "[red]NOT met[/red]"
    console.print(
        f"Target (the issue): the service's check within {TARGET_RATIO:g}× of the raw PostGIS query —"
        f" conflicts_for is {r50:.2f}× (p50) and {r99:.2f}× (p99) the raw PostGIS query ({box.label}, the faster"
        f" plan here): {met}."
        f" The box list is {listing.p50_p99[0] / box.p50_p99[0]:.2f}× / {listing.p50_p99[1] / box.p50_p99[1]:.2f}×"
        " the same query."
    )
    console.print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()), highlight=False)
    for note in notes:
        console.print(f"  {note}", highlight=False)
    console.print(
        "  raw rows: prepared statements on one connection of their own; GiST box && on the service's declarations"
        " table (box1 && ST_MakeEnvelope, during_s && and altitude_m && deconf_float8range, status = 'active'), once"
        " with plan_cache_mode = force_custom_plan (planned per run), once with the default plan cache (one generic"
        " plan after 5 runs); ST_DWithin and ST_Distance on bench_geography, a geography copy of the same rows."
        " Service rows: empty read = pool check-out (with its connection check), BEGIN REPEATABLE READ READ ONLY,"
        f" ROLLBACK; box list = DeclarationQuery(viewer={VIEWER!r}, boxes, start_s, end_s, limit=1000) in"
        " store.read().",
        style="dim",
    )
    console.print(
        f"  rows/query: rows returned (conflict check: conflicts found; box list: declarations the viewer {VIEWER}"
        " may see, of the candidates; raw: candidates). Query boxes are the new declaration's grown by its reach, as"
        f" conflicts_for asks its index. Rows are timed in {ROUNDS} interleaved rounds after {WARMUP} warm-up"
        " queries each.",
        style="dim",
    )
    console.print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated N (default 1000000)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--parse-up-to",
        type=int,
        default=100_000,
        help="build stored declarations with parse_feature up to this N, with the store's trusted path above it",
    )
    parser.add_argument(
        "--load",
        choices=["auto", "service", "copy"],
        default="auto",
        help=f"fill through save_declaration (service) or COPY; auto: service up to {SERVICE_LOAD_UP_TO:,}",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep deconf_bench_<N> after the run and reuse it when it holds N"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console.print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}", highlight=False)
    facts = machine_facts()
    console.print(" | ".join(f"{k}: {v}" for k, v in facts.items()), highlight=False)
    try:
        admin().close()
    except psycopg.Error as exc:
        raise SystemExit(f"no PostgreSQL at {SERVER} ({str(exc).strip().splitlines()[0]})") from None
    t0 = time.perf_counter()
    figures = [run_size(n, args) for n in sizes]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "postgis-latest.json"
    out.write_text(json.dumps({"args": vars(args), "facts": facts, "sizes": figures}, indent=2))
    console.print(f"results written to {out.relative_to(HERE.parent)}; bench_postgis: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
