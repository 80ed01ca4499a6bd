"""The F3548-21 DSS under /dss/v1: operational intent creations/s with key checks and query latency at N active
intents, beside the same operations through the native API (`/v1/declarations`) at N active declarations of the
same shapes, in the same run — in process (through the services) and over HTTP (a real `deconf serve`).

    .venv/bin/python bench/bench_dss.py [--sizes 10000,100000] [--seconds 10] [--threads 8] [--clients 4] [--quick]

The load is shaped like the reference DSS's own load test: random flights, each a circle of radius 800-1,200 m
centred uniformly at random within a 12 km x 12 km box, every create with an implicit subscription
(`new_subscription`). So that a new intent meets a realistic handful of others rather than thousands, the flights
are also spread in time and height: each lasts 60-120 min and starts uniformly within a 28-day horizon (the
standard's OiMaxPlanHorizonDays is 30), and flies a band whose lower altitude is uniform in 0-1,200 m (W84) and
which is 60-140 m thick. The table's notes give the mean number of intersecting intents per write, measured.

Each write is what a USS does: query its intended volume (`POST .../operational_intent_references/query`), put
the OVNs it was given into the key — one USS manages every intent here, so the DSS returns it every OVN — then
create (`PUT .../operational_intent_references/{id}`, 201 = committed). Both calls count. A 409 (another writer
created an intersecting intent in between) is counted and the pair retried. The native baseline does the same
pair: `GET /v1/declarations?bbox=...&start=...&end=...` over the circle's box and window, then
`POST /v1/declarations` (a Point with `radius_m`, the same window and band, audience "all").

Figures are only comparable as ratios to the baselines printed beside them; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import free_port, gather, machine_facts, percentile, request_json  # noqa: E402

RESULTS = HERE / "results"
GENERATOR_VERSION = 1  # bump when the distribution changes, so cached databases are rebuilt
BOX_CENTRE = (34.5, 40.5)  # lat, lng of the DSS's box: inside the other benches' region
NATIVE_BOX_CENTRE = (34.5, 41.5)  # the native declarations' box, ~92 km east: the two never meet (see below)
BOX_M = 12_000.0
RADIUS_M = (800.0, 1_200.0)
DURATION_MIN = (60.0, 120.0)
HORIZON_S = 28 * 24 * 3600.0
LOWER_M = (0.0, 1_200.0)
THICKNESS_M = (60.0, 140.0)
M_PER_DEG = 111_320.0
STALE_AFTER_S = 5 * 24 * 3600.0  # a cached database older than this is rebuilt (its flights would be in the past)
USS = "bench-uss"
SC = "utm.strategic_coordination"
ADMIN_TOKEN = "bench-admin-token-0123456789"
NATIVE_PARTIES = [f"p{i:02d}" for i in range(10)]
USS_URL = "https://uss.example"
TARGET_P99_MS = 5.0
REFERENCE_QUERY_S = 0.1
OIR = "/dss/v1/operational_intent_references"


# The workload (standard library only: the load clients use it) ------------------------------------


def random_flight(
    rng: random.Random, earliest_s: float, latest_s: float, centre: tuple[float, float] = BOX_CENTRE
) -> dict[str, float]:
    """One flight: a circle in the 12 km box, a 60-120 min window starting in [earliest_s, latest_s], a band."""
    lat0, lng0 = centre
    north = rng.uniform(-BOX_M / 2, BOX_M / 2)
    east = rng.uniform(-BOX_M / 2, BOX_M / 2)
    lat = lat0 + north / M_PER_DEG
    lng = lng0 + east / (M_PER_DEG * math.cos(math.radians(lat0)))
    start = round(rng.uniform(earliest_s, latest_s) / 60) * 60
    lower = round(rng.uniform(*LOWER_M))
    return {
        "lat": round(lat, 6),
        "lng": round(lng, 6),
        "radius_m": round(rng.uniform(*RADIUS_M)),
        "lower_m": lower,
        "upper_m": lower + round(rng.uniform(*THICKNESS_M)),
        "start_s": start,
        "end_s": start + round(rng.uniform(*DURATION_MIN)) * 60,
    }


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def volume4d(f: dict[str, float]) -> dict[str, Any]:
    return {
        "volume": {
            "outline_circle": {"center": {"lat": f["lat"], "lng": f["lng"]},
                               "radius": {"value": f["radius_m"], "units": "M"}},
            "altitude_lower": {"value": f["lower_m"], "reference": "W84", "units": "M"},
            "altitude_upper": {"value": f["upper_m"], "reference": "W84", "units": "M"},
        },
        "time_start": {"value": _iso(f["start_s"]), "format": "RFC3339"},
        "time_end": {"value": _iso(f["end_s"]), "format": "RFC3339"},
    }  # fmt: skip


def query_body(f: dict[str, float]) -> dict[str, Any]:
    return {"area_of_interest": volume4d(f)}


def intent_body(f: dict[str, float], key: list[str]) -> dict[str, Any]:
    return {"extents": [volume4d(f)], "key": key, "state": "Accepted", "uss_base_url": USS_URL,
            "new_subscription": {"uss_base_url": USS_URL}}  # fmt: skip


def feature(f: dict[str, float], name: str) -> dict[str, Any]:
    """The same flight as a native declaration: a Point grown by radius_m, the same window and band."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [f["lng"], f["lat"]]},
        "properties": {"kind": "area", "name": name, "start": _iso(f["start_s"]), "end": _iso(f["end_s"]),
                       "altitude": {"lower_m": f["lower_m"], "upper_m": f["upper_m"]}, "radius_m": f["radius_m"],
                       "audience": "all"},
    }  # fmt: skip


def native_of(f: dict[str, float]) -> dict[str, float]:
    """The same flight moved into the native box: the same shape, window and band."""
    return {**f, "lng": round(f["lng"] + NATIVE_BOX_CENTRE[1] - BOX_CENTRE[1], 6)}


def bbox_params(f: dict[str, float]) -> str:
    """The native list's query string for the flight: the circle's box and the window."""
    dlat = f["radius_m"] / M_PER_DEG
    dlng = f["radius_m"] / (M_PER_DEG * math.cos(math.radians(f["lat"])))
    box = f"{f['lng'] - dlng:.6f},{f['lat'] - dlat:.6f},{f['lng'] + dlng:.6f},{f['lat'] + dlat:.6f}"
    return f"bbox={box}&start={_iso(f['start_s'])}&end={_iso(f['end_s'])}&limit=1000"


def new_flights(
    seed: int, count: int, epoch_s: float, centre: tuple[float, float] = BOX_CENTRE
) -> list[dict[str, float]]:
    """Flights for the measured writes and queries: starting from now (+10 min) to the end of the cached horizon."""
    rng = random.Random(seed)
    earliest = max(epoch_s, time.time()) + 600
    return [random_flight(rng, earliest, epoch_s + HORIZON_S, centre) for _ in range(count)]


# The HTTP load clients (each its own process) ------------------------------------------------------


def _http_client(
    index: int, port: int, kind: str, token: str, flights: list[dict[str, float]], warmup_s: float,
    seconds: float, barrier: Any, results: Any,
) -> None:  # fmt: skip
    """One client: query then create, over one keep-alive connection, for warmup + seconds; puts a summary."""
    import http.client

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out: dict[str, Any] = {"index": index, "created": 0, "retried": 0, "errors": 0, "statuses": {}, "sample": "",
                           "query_s": [], "create_s": [], "found": 0, "conflicts": 0}  # fmt: skip

    def call(method: str, path: str, body: object = None) -> tuple[int, bytes, float]:
        nonlocal conn
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), time.perf_counter() - t0
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            return 0, repr(exc).encode(), time.perf_counter() - t0

    def failed(status: int, data: bytes) -> None:
        out["errors"] += 1
        out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + 1
        out["sample"] = out["sample"] or f"{status}: {data[:300].decode(errors='replace')}"

    try:
        barrier.wait(timeout=120)
        begin = time.perf_counter()
        measure_from, stop_at = begin + warmup_s, begin + warmup_s + seconds
        i = 0
        while (now := time.perf_counter()) < stop_at:
            f = flights[i % len(flights)]
            i += 1
            measured = now >= measure_from
            if kind.endswith("-query"):  # queries alone, one after the other
                if kind == "dss-query":
                    status, data, q_s = call("POST", f"{OIR}/query", query_body(f))
                    refs = json.loads(data)["operational_intent_references"] if status == 200 else []
                else:
                    status, data, q_s = call("GET", f"/v1/declarations?{bbox_params(native_of(f))}")
                    refs = json.loads(data)["features"] if status == 200 else []
                if measured and time.perf_counter() < stop_at:
                    if status != 200:
                        failed(status, data)
                    else:
                        out["created"] += 1
                        out["query_s"].append(q_s)
                        out["found"] += len(refs)
                continue
            for _attempt in range(3):
                if kind == "dss":
                    status, data, q_s = call("POST", f"{OIR}/query", query_body(f))
                    if status != 200:
                        failed(status, data)
                        break
                    refs = json.loads(data)["operational_intent_references"]
                    key = [r["ovn"] for r in refs if "ovn" in r]
                    status, data, c_s = call("PUT", f"{OIR}/{uuid.uuid4()}", intent_body(f, key))
                else:
                    g = native_of(f)
                    status, data, q_s = call("GET", f"/v1/declarations?{bbox_params(g)}")
                    if status != 200:
                        failed(status, data)
                        break
                    refs = json.loads(data)["features"]
                    status, data, c_s = call("POST", "/v1/declarations", feature(g, f"load {index}-{i}"))
                if time.perf_counter() >= stop_at:
                    measured = False
                if measured:
                    out["query_s"].append(q_s)
                if status == 409 and kind == "dss":
                    out["retried"] += measured
                    continue
                if status != 201:
                    if measured:
                        failed(status, data)
                    break
                if measured:
                    out["created"] += 1
                    out["create_s"].append(c_s)
                    out["found"] += len(refs)
                    if kind == "native":
                        out["conflicts"] += len(json.loads(data)["conflicts"])
                break
    except Exception as exc:  # report, never hang the parent
        out["errors"] += 1
        out["sample"] = out["sample"] or f"client {index} failed: {exc!r}"
    finally:
        conn.close()
    results.put(out)


# Everything below needs the project ---------------------------------------------------------------

from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console()
if not console.is_terminal:  # piped or logged: wide enough for the table
    console = Console(width=140)


@dataclass
class Figures:
    """One side (DSS or native) of one measurement: creations, query and create latencies."""

    seconds: float = 0.0
    created: int = 0
    retried: int = 0
    errors: int = 0
    found: int = 0  # intents (or declarations) the queries before the creates returned, summed
    conflicts: int = 0  # native: conflicts found by the declares, summed
    query_s: list[float] = field(default_factory=list)
    create_s: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.created / self.seconds if self.seconds else math.nan

    def p(self, which: str, q: float) -> float:
        return percentile(sorted(getattr(self, which)), q) * 1e3

    def summary(self) -> dict[str, Any]:
        return {"per_s": self.per_s, "created": self.created, "retried": self.retried, "errors": self.errors,
                "found_per_create": self.found / max(1, self.created),
                "conflicts_per_create": self.conflicts / max(1, self.created),
                "query_p50_ms": self.p("query_s", 50), "query_p99_ms": self.p("query_s", 99),
                "create_p50_ms": self.p("create_s", 50), "create_p99_ms": self.p("create_s", 99),
                "queries": len(self.query_s), "samples": self.samples[:3]}  # fmt: skip


def _settings(db: Path, keys: Path, audience: str) -> Any:
    from deconfliction.config import load_settings

    return load_settings(env={}, overrides={"db": str(db), "admin_token": ADMIN_TOKEN, "rate_limit_per_s": 0,
                                            "f3548_public_keys": str(keys), "f3548_audience": audience,
                                            "cot_port": 0, "cot_tls_port": 0})  # fmt: skip


def _caller() -> Any:
    from deconfliction.adapters.f3548_tokens import party_id_for
    from deconfliction.services.dss_common import Caller

    return Caller(USS, frozenset({SC}), party_id_for(USS))


def _dss_create(ctx: Any, caller: Any, f: dict[str, float], figures: Figures | None, tries: int = 5) -> int:
    """Query, key, create (retried on a 409); returns the number of intents the successful query returned."""
    from deconfliction.domain.errors import AirspaceConflict
    from deconfliction.services import dss_intents

    for _ in range(tries):
        t0 = time.perf_counter()
        refs = dss_intents.query(ctx, caller, query_body(f))["operational_intent_references"]
        t1 = time.perf_counter()
        try:
            status, _ = dss_intents.put(ctx, caller, str(uuid.uuid4()), None, intent_body(f, [r["ovn"] for r in refs]))
        except AirspaceConflict:
            if figures is not None:
                figures.retried += 1
                figures.query_s.append(t1 - t0)
            continue
        t2 = time.perf_counter()
        assert status == 201
        if figures is not None:
            figures.query_s.append(t1 - t0)
            figures.create_s.append(t2 - t1)
            figures.created += 1
            figures.found += len(refs)
        return len(refs)
    raise RuntimeError(f"no create after {tries} tries (409 each time)")


def _native_create(ctx: Any, party: str, f: dict[str, float], name: str, figures: Figures) -> None:
    from deconfliction.api.routes_declarations import parse_bbox
    from deconfliction.services import declarations
    from deconfliction.storage.base import DeclarationQuery

    f = native_of(f)
    params = dict(p.split("=", 1) for p in bbox_params(f).split("&"))
    t0 = time.perf_counter()
    query = DeclarationQuery(
        viewer=party, boxes=parse_bbox(params["bbox"]), start_s=f["start_s"], end_s=f["end_s"], limit=1000
    )
    found = declarations.list_visible(ctx, query)
    t1 = time.perf_counter()
    written = declarations.declare(ctx, party, feature(f, name))
    t2 = time.perf_counter()
    figures.query_s.append(t1 - t0)
    figures.create_s.append(t2 - t1)
    figures.created += 1
    figures.found += len(found)
    figures.conflicts += len(written.conflicts)


def _threads(count: int, seconds: float, body: Any) -> float:
    """`count` threads each running `body(k, stop_at)`; returns the elapsed seconds."""
    stop_at = time.perf_counter() + seconds
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            body(k, stop_at)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


# Pre-population ------------------------------------------------------------------------------------


def _populate_native(db: Path, n: int, seed: int, epoch_s: float) -> None:
    """N declarations of the same shapes straight into the store, as bench_http.py does (no conflict checks)."""
    from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
    from deconfliction.domain.parties import Party, PartyStatus
    from deconfliction.services.picture import Picture
    from deconfliction.storage.sqlite import SqliteStore

    rng = random.Random(seed * 7 + 1)
    limits = DeclarationLimits()
    at = datetime.now(UTC).replace(microsecond=0)
    store = SqliteStore(db)
    store.migrate()
    with store.write() as tx:
        for pid in NATIVE_PARTIES:
            tx.add_party(Party(pid, f"Bench party {pid}", PartyStatus.ACTIVE, None, at))
    columns = (TextColumn("native declarations"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("native", total=n)
        for first in range(1, n + 1, 10_000):
            last = min(first + 10_000, n + 1)
            with store.write() as tx:
                for key in range(first, last):
                    f = random_flight(rng, epoch_s, epoch_s + HORIZON_S, NATIVE_BOX_CENTRE)
                    spec = parse_feature(feature(f, f"prepop {key}"), limits)
                    d = Declaration(key=key, id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                    party=NATIVE_PARTIES[key % len(NATIVE_PARTIES)], version=1, spec=spec,
                                    status=DeclarationStatus.ACTIVE, created_at=at, updated_at=at)  # fmt: skip
                    tx.save_declaration(d, Picture.stored_boxes(spec))
            progress.update(task, completed=last - 1)
    store.close()


def _populate_dss(db: Path, keys: Path, audience: str, n: int, seed: int, epoch_s: float, threads: int,
                  budget_s: float) -> dict[str, float]:  # fmt: skip
    """N intents through the service, as the measured writes make them (query, key, create with an implicit
    subscription), from `threads` threads so that the writer commits them in groups."""
    import gc

    from deconfliction.bootstrap import wire

    ctx = wire(_settings(db, keys, audience)).ctx
    caller = _caller()
    rng = random.Random(seed * 7 + 2)
    flights = [random_flight(rng, epoch_s, epoch_s + HORIZON_S) for _ in range(n)]
    done = [0] * threads
    found = [0] * threads
    deadline = time.monotonic() + budget_s
    gc.disable()  # long-lived objects by the hundred thousand: collecting while making them only wastes time
    t0 = time.perf_counter()
    try:
        columns = (TextColumn("DSS intents (service)"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("dss", total=n)

            def body(k: int, _stop: float) -> None:
                for f in flights[k::threads]:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"loading {n:,} intents took longer than {budget_s:.0f} s")
                    found[k] += _dss_create(ctx, caller, f, None, tries=20)
                    done[k] += 1

            stop = threading.Event()

            def show() -> None:
                while not stop.wait(0.5):
                    progress.update(task, completed=sum(done))

            shower = threading.Thread(target=show, daemon=True)
            shower.start()
            try:
                _threads(threads, budget_s, body)
            finally:
                stop.set()
                progress.update(task, completed=sum(done))
        elapsed = time.perf_counter() - t0
    finally:
        gc.enable()
        ctx.close()
    return {"seconds": elapsed, "per_s": n / elapsed, "found_per_create": sum(found) / n}


def code_fingerprint() -> str:
    """8 hex of the code that decides what a populated database holds: the DSS and declaration services, the
    stores, the migrations. A cached database made by other code is not reused."""
    import hashlib

    src = ROOT / "src" / "deconfliction"
    files = sorted([*(src / "services").glob("dss_*.py"), src / "services" / "declarations.py",
                    *(src / "storage").glob("sqlite*.py"), *(src / "storage" / "migrations").rglob("*")])  # fmt: skip
    digest = hashlib.sha256()
    for f in files:
        if f.is_file():
            digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:8]


def populated(
    n: int, seed: int, keys: Path, audience: str, threads: int, budget_s: float
) -> tuple[Path, dict[str, Any]]:
    """The cached database (N declarations + N intents with their implicit subscriptions) and its facts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"dss-g{GENERATOR_VERSION}-{code_fingerprint()}-n{n}-seed{seed}.db"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        age = time.time() - meta["epoch_s"]
        if age < STALE_AFTER_S:
            console.print(f"reusing {path.relative_to(ROOT)} (built {age / 3600:.1f} h ago)")
            return path, meta
        console.print(f"{path.relative_to(ROOT)} is {age / 86400:.1f} days old: rebuilding")
    for old in RESULTS.glob(f"dss-g*-n{n}-seed{seed}.db"):  # other code's or stale: replaced by this one
        _drop(old)
        old.with_suffix(".json").unlink(missing_ok=True)
    tmp = path.with_suffix(".building")
    _drop(tmp)
    epoch_s = float(int(time.time() // 60 * 60))
    t0 = time.perf_counter()
    _populate_native(tmp, n, seed, epoch_s)
    native_s = time.perf_counter() - t0
    dss = _populate_dss(tmp, keys, audience, n, seed, epoch_s, threads, budget_s)
    from deconfliction.storage.sqlite import SqliteStore

    SqliteStore(tmp).close()  # checkpoint the WAL into the file
    for p in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    tmp.rename(path)
    Path(f"{tmp}.ledger-key.pem").rename(f"{path}.ledger-key.pem")
    Path(f"{tmp}.writer").unlink(missing_ok=True)
    meta = {"n": n, "seed": seed, "epoch_s": epoch_s, "native_load_s": native_s, "dss_load": dss,
            "generator": GENERATOR_VERSION}  # fmt: skip
    meta_path.write_text(json.dumps(meta, indent=2))
    console.print(f"built {path.relative_to(ROOT)}: native {native_s:.0f} s; DSS {dss['seconds']:.0f} s "
                  f"({dss['per_s']:,.0f} creations/s while loading)", style="dim")  # fmt: skip
    return path, meta


def _copy(cached: Path, tag: str) -> Path:
    """A copy to run on, with the channel's record key (the store's side file) beside it."""
    run = RESULTS / f"dss-run-{os.getpid()}-{tag}.db"
    shutil.copyfile(cached, run)
    key = Path(f"{cached}.ledger-key.pem")
    if key.exists():
        shutil.copyfile(key, f"{run}.ledger-key.pem")
    return run


def _drop(db: Path) -> None:
    """The database and the side files the service keeps beside it (WAL, record key, writer and leader locks)."""
    for p in (db, *db.parent.glob(f"{db.name}-*"), *db.parent.glob(f"{db.name}.*")):
        p.unlink(missing_ok=True)


# (a) in process ------------------------------------------------------------------------------------


def in_process(cached: Path, keys: Path, audience: str, n: int, epoch_s: float, seconds: float, threads: int,
               queries: int, seed: int) -> dict[str, Any]:  # fmt: skip
    """Through the services, on a copy of the cached database: query latency alone (one thread), then
    creations/s (query + create) from `threads` threads, DSS and native interleaved."""
    import gc

    from deconfliction.api.routes_declarations import parse_bbox
    from deconfliction.bootstrap import wire
    from deconfliction.services import declarations, dss_intents, parties
    from deconfliction.storage.base import DeclarationQuery

    run_db = _copy(cached, "inproc")
    out: dict[str, Any] = {}
    try:
        t0 = time.perf_counter()
        with console.status(f"in process: loading {n:,} declarations and {n:,} intents"):
            ctx = wire(_settings(run_db, keys, audience)).ctx
        out["wire_s"] = time.perf_counter() - t0
        out["dss_loaded"] = (len(ctx.dss.oirs), len(ctx.dss.subscriptions))
        out["native_loaded"] = len(ctx.picture)
        gc.freeze()
        try:
            caller = _caller()
            parties.create_party(ctx, "load", "Load", None)
            flights = new_flights(seed, queries + 200, epoch_s)
            # query latency alone, one thread: the DSS's own cost, and the native list of the same flights
            dq, nq = Figures(), Figures()
            with console.status(f"in process: {queries:,} queries each side, one at a time"):
                for i, f in enumerate(flights):
                    t0 = time.perf_counter()
                    refs = dss_intents.query(ctx, caller, query_body(f))["operational_intent_references"]
                    t1 = time.perf_counter()
                    g = native_of(f)
                    params = dict(p.split("=", 1) for p in bbox_params(g).split("&"))
                    found = declarations.list_visible(ctx, DeclarationQuery(
                        viewer="load", boxes=parse_bbox(params["bbox"]), start_s=g["start_s"], end_s=g["end_s"],
                        limit=1000))  # fmt: skip
                    t2 = time.perf_counter()
                    if i >= 200:
                        dq.query_s.append(t1 - t0)
                        nq.query_s.append(t2 - t1)
                        dq.found += len(refs)
                        nq.found += len(found)
            out["query_alone"] = {"dss": dq, "native": nq}
            # creations/s: query + create, `threads` threads, each side in two halves interleaved
            dss, native = Figures(), Figures()
            writes = new_flights(seed + 1, 200_000, epoch_s)
            cursor = [0]
            lock = threading.Lock()

            def take() -> dict[str, float]:
                with lock:
                    cursor[0] += 1
                    return writes[cursor[0] % len(writes)]

            def dss_body(k: int, stop_at: float) -> None:
                mine = Figures()
                while time.perf_counter() < stop_at:
                    _dss_create(ctx, caller, take(), mine)
                with lock:
                    _merge(dss, mine)

            def native_body(k: int, stop_at: float) -> None:
                mine, i = Figures(), 0
                while time.perf_counter() < stop_at:
                    i += 1
                    _native_create(ctx, "load", take(), f"load {k}-{i}", mine)
                with lock:
                    _merge(native, mine)

            _threads(threads, 1.0, dss_body)  # warm-up, not counted
            dss, native = Figures(), Figures()
            with console.status(f"in process: creations, {threads} threads, {seconds / 2:g} s x 2 each side"):
                for _half in range(2):  # each side twice, interleaved: a noisy stretch hits both
                    native.seconds += _threads(threads, seconds / 2, native_body)
                    dss.seconds += _threads(threads, seconds / 2, dss_body)
            out["creations"] = {"dss": dss, "native": native}
            out["dss_after"] = len(ctx.dss.oirs)
        finally:
            ctx.close()
    finally:
        _drop(run_db)
    return out


# (b) over HTTP -------------------------------------------------------------------------------------


@dataclass
class Serve:
    db: Path
    port: int
    keys: Path
    audience: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, n: int) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
        env.update({"DECONF_ADMIN_TOKEN": ADMIN_TOKEN, "DECONF_RATE_LIMIT_PER_S": "0", "DECONF_LOG_LEVEL": "warning",
                    "DECONF_F3548_PUBLIC_KEYS": str(self.keys), "DECONF_F3548_AUDIENCE": self.audience,
                    "DECONF_COT_PORT": "0", "DECONF_COT_TLS_PORT": "0"})  # fmt: skip
        cmd = [str(ROOT / ".venv" / "bin" / "deconf"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", str(self.db)]  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                         start_new_session=True)  # fmt: skip
        t0 = time.monotonic()
        deadline = t0 + 120 + n / 200
        with console.status(f"starting deconf serve on 127.0.0.1:{self.port} ({n:,} declarations, {n:,} intents)"):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"deconf serve exited with {self.proc.returncode}:\n{self.tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"deconf serve did not answer /healthz in time:\n{self.tail()}")
                try:
                    if request_json(self.port, "GET", "/healthz", timeout_s=5)[0] == 200:
                        return time.monotonic() - t0
                except OSError:
                    pass
                time.sleep(0.25)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _http_load(port: int, kind: str, tokens: list[str], epoch_s: float, warmup_s: float, seconds: float,
               seed: int) -> Figures:  # fmt: skip
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(tokens) + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_http_client, daemon=True, args=(i, port, kind, tokens[i],
                    new_flights(seed * 100 + i, 5_000, epoch_s), warmup_s, seconds, barrier, results))
        for i in range(len(tokens))
    ]  # fmt: skip
    gathered = gather(procs, barrier, results, warmup_s + seconds)
    fig = Figures(seconds=seconds)
    for g in gathered:
        fig.created += g["created"]
        fig.retried += g["retried"]
        fig.errors += g["errors"]
        fig.found += g["found"]
        fig.conflicts += g["conflicts"]
        fig.query_s += g["query_s"]
        fig.create_s += g["create_s"]
        if g["sample"]:
            fig.samples.append(g["sample"])
    missing = len(procs) - len(gathered)
    if missing:
        fig.errors += missing
        fig.samples.append(f"{missing} client(s) reported nothing")
    return fig


def over_http(cached: Path, mint: Any, n: int, epoch_s: float, seconds: float, clients: int,
              seed: int) -> dict[str, Any]:  # fmt: skip
    """A real `deconf serve` on a copy of the cached database; `clients` processes, real tokens."""
    run_db = _copy(cached, "http")
    port = free_port()
    server = Serve(run_db, port, mint.pem_path, mint.audience, RESULTS / f"dss-serve-{os.getpid()}.log")
    out: dict[str, Any] = {}
    try:
        out["start_s"] = server.start(n)
        native_tokens = []
        for i in range(clients):
            status, body = request_json(port, "POST", "/v1/parties", {"id": f"load{i}", "name": f"Load {i}"},
                                        ADMIN_TOKEN)  # fmt: skip
            if status != 201:
                raise RuntimeError(f"creating load party {i}: HTTP {status}: {body}")
            native_tokens.append(body["token"])
        dss_tokens = [mint.mint(USS, {SC}, exp_s=3_600) for _ in range(clients)]
        dss, native = Figures(), Figures()
        for half in range(2):  # each side twice, interleaved: a noisy stretch hits both
            with console.status(f"HTTP: {clients} clients, {seconds / 2:g} s x 2 each side (+1 s warm-up)"):
                f = _http_load(port, "native", native_tokens, epoch_s, 1.0, seconds / 2, seed * 10 + half)
                _merge(native, f)
                f = _http_load(port, "dss", dss_tokens, epoch_s, 1.0, seconds / 2, seed * 10 + 5 + half)
                _merge(dss, f)
        out["creations"] = {"dss": dss, "native": native}
        dq, nq = Figures(), Figures()
        for half in range(2):
            with console.status(f"HTTP: queries alone, 1 client, {seconds / 2:g} s x 2 each side (+1 s warm-up)"):
                _merge(nq, _http_load(port, "native-query", native_tokens[:1], epoch_s, 1.0, seconds / 2, 70 + half))
                _merge(dq, _http_load(port, "dss-query", dss_tokens[:1], epoch_s, 1.0, seconds / 2, 80 + half))
        out["query_alone"] = {"dss": dq, "native": nq}
    finally:
        server.stop()
        if server.proc is not None and server.proc.returncode not in (0, -signal.SIGTERM):
            console.print(f"[yellow]deconf serve exited with {server.proc.returncode}:[/yellow]\n{server.tail()}")
        server.log.unlink(missing_ok=True)
        _drop(run_db)
    return out


def _merge(into: Figures, f: Figures) -> None:
    into.seconds += f.seconds
    into.created += f.created
    into.retried += f.retried
    into.errors += f.errors
    into.found += f.found
    into.conflicts += f.conflicts
    into.query_s += f.query_s
    into.create_s += f.create_s
    into.samples += f.samples


# Report ---------------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and not math.isnan(a) and not math.isnan(b) else "-"


def render(n: int, meta: dict[str, Any], inproc: dict[str, Any] | None, http: dict[str, Any] | None,
           threads: int, clients: int, floor: dict[str, float] | None = None) -> list[str]:  # fmt: skip
    table = Table(title=f"F3548 DSS beside the native API, {n:,} active intents / {n:,} active declarations")
    for name, justify in (("where", "left"), ("figure", "left"), ("DSS", "right"), ("native", "right"),
                          ("DSS / native", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    lines: list[str] = []

    def rows(where: str, creations: dict[str, Figures], alone: dict[str, Figures] | None, unit: str) -> None:
        d, nat = creations["dss"], creations["native"]
        table.add_row(where, "creations/s (query + create each)", f"{d.per_s:,.0f}", f"{nat.per_s:,.0f}",
                      _ratio(d.per_s, nat.per_s), style="bold")  # fmt: skip
        for which, label in (("query_s", "query under load"), ("create_s", "create")):
            for q in (50, 99):
                a, b = d.p(which, q), nat.p(which, q)
                table.add_row(where, f"{label} p{q} ms", f"{a:.2f}", f"{b:.2f}", _ratio(a, b))
        if alone is not None:
            for q in (50, 99):
                a, b = alone["dss"].p("query_s", q), alone["native"].p("query_s", q)
                table.add_row(where, f"query alone (1 {unit}) p{q} ms", f"{a:.3f}", f"{b:.3f}", _ratio(a, b),
                              style="bold" if q == 99 else None)  # fmt: skip
        table.add_section()

    if inproc is not None:
        rows(f"in process, {threads} threads", inproc["creations"], inproc["query_alone"], "thread")
    if http is not None:
        rows(f"HTTP, {clients} clients", http["creations"], http["query_alone"], "client")
    console.print(table)
    load = meta["dss_load"]
    notes = [
        f"  intents intersecting each new one (the key): {load['found_per_create']:.2f} on average while loading "
        f"0 → {n:,}",
    ]
    for where, data in (("in process", inproc), ("HTTP", http)):
        if data is None:
            continue
        d, nat = data["creations"]["dss"], data["creations"]["native"]
        notes.append(
            f"  {where}: intersecting per create {d.found / max(1, d.created):.2f} (DSS query results = key size); "
            f"409 retries {d.retried}; native list returned {nat.found / max(1, nat.created):.2f} declarations "
            f"(box + window, no altitude) and the declare found {nat.conflicts / max(1, nat.created):.2f} "
            f"conflicts; errors DSS {d.errors}, native {nat.errors}"
        )
        for s in (d.samples + nat.samples)[:3]:
            notes.append(f"  [red]{s}[/red]")
    if inproc is not None:
        qa = inproc["query_alone"]
        notes.append(
            f"  query alone: {len(qa['dss'].query_s):,} each; DSS returned "
            f"{qa['dss'].found / len(qa['dss'].query_s):.2f} intents, native "
            f"{qa['native'].found / len(qa['native'].query_s):.2f} declarations on average; wire() loaded "
            f"{inproc['native_loaded']:,} declarations (N native + the intents' mirrored flights) and "
            f"{inproc['dss_loaded'][0]:,} intents + "
            f"{inproc['dss_loaded'][1]:,} subscriptions in {inproc['wire_s']:.1f} s"
        )
    if http is not None:
        qa = http["query_alone"]
        notes.append(
            f"  HTTP query alone: {len(qa['dss'].query_s):,} DSS queries, {len(qa['native'].query_s):,} native lists, "
            "one client, one after the other"
        )
    if floor is not None:
        notes.append(
            f"  durable-commit floor (1 KB single-row BEGIN IMMEDIATE/COMMIT, WAL, synchronous=FULL, same disk): "
            f"{floor['per_s']:,.0f}/s, p50 {floor['p50_ms']:.2f} ms, p99 {floor['p99_ms']:.2f} ms"
        )
        notes.append(f"  deconf serve answered /healthz {http['start_s']:.1f} s after it was started")
    console.print("\n".join(notes), style="dim")
    for where, data, which in (("in process, query alone", inproc, "alone"), ("HTTP, query alone", http, "alone"),
                               ("HTTP, under write load", http, "load")):  # fmt: skip
        if data is None:
            continue
        fig = data["query_alone"]["dss"] if which == "alone" else data["creations"]["dss"]
        p99 = fig.p("query_s", 99)
        met = "[green]met[/green]" if p99 <= TARGET_P99_MS else "[yellow]not met[/yellow]"
        line = (f"{n:,} intents, {where}: DSS query p99 {p99:.2f} ms — target ≤ {TARGET_P99_MS:g} ms: {met} "
                f"(the reference DSS's sizing assumes {REFERENCE_QUERY_S * 1e3:.0f} ms a query)")  # fmt: skip
        console.print(line)
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="active intents (and declarations), comma-separated (default 10000,100000)")
    parser.add_argument("--quick", action="store_true", help="sizes 2000,10000, 4 s per side")
    parser.add_argument("--seconds", type=float, help="measured seconds per side and place (default 10; quick 4)")
    parser.add_argument("--threads", type=int, default=8, help="in-process writer threads")
    parser.add_argument("--clients", type=int, default=4, help="HTTP client processes")
    parser.add_argument("--queries", type=int, default=2_000, help="queries timed alone, each side (in process)")
    parser.add_argument("--load-threads", type=int, default=32, help="threads filling the cached database")
    parser.add_argument("--load-budget", type=float, default=1_800.0, help="seconds allowed to fill one size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument("--no-facts", action="store_true", help="do not print machine facts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("2000,10000" if args.quick else "10000,100000")).split(",")]
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    if not 0 < seconds <= 120 or not 1 <= args.threads <= 64 or not 1 <= args.clients <= 32:
        parser.error("--seconds in (0, 120], --threads 1..64, --clients 1..32")
    if not args.no_facts:
        console.print(" | ".join(f"{k}: {v}" for k, v in machine_facts().items()))
    sys.path.insert(0, str(ROOT))
    from tests.f3548_tokens import TokenMint

    all_results: dict[str, Any] = {"args": vars(args), "facts": machine_facts(), "sizes": {}}
    code = 0
    with tempfile.TemporaryDirectory(prefix="deconf-bench-dss-") as tmp:
        mint = TokenMint(Path(tmp) / "auth")
        for n in sizes:
            cached, meta = populated(n, args.seed, mint.pem_path, mint.audience, args.load_threads, args.load_budget)
            inproc = None if args.skip_inprocess else in_process(
                cached, mint.pem_path, mint.audience, n, meta["epoch_s"], seconds, args.threads, args.queries,
                args.seed)  # fmt: skip
            http = None if args.skip_http else over_http(cached, mint, n, meta["epoch_s"], seconds, args.clients,
                                                         args.seed)  # fmt: skip
            from bench_http import sqlite_commit_floor

            floor = sqlite_commit_floor(RESULTS, 2.0)
            verdicts = render(n, meta, inproc, http, args.threads, args.clients, floor)
            entry: dict[str, Any] = {"meta": meta, "verdicts": verdicts, "commit_floor": floor}
            for name, data in (("in_process", inproc), ("http", http)):
                if data is None:
                    continue
                entry[name] = {side: fig.summary() for side, fig in data["creations"].items()}
                if any(fig.errors for fig in data["creations"].values()):
                    code = 1
                if any(fig.errors for fig in data["query_alone"].values()):
                    code = 1
                if "query_alone" in data:
                    entry[name]["query_alone"] = {s: f.summary() for s, f in data["query_alone"].items()}
            all_results["sizes"][str(n)] = entry
    out = RESULTS / "dss-latest.json"
    out.write_text(json.dumps(all_results, indent=2, default=str))
    console.print(f"results written to {out.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
