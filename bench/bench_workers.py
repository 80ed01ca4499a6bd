"""Durable declares per second over HTTP with 1 and with 4 workers, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_workers.py [--backends sqlite,postgresql] [--workers 1,4] [--seconds 10]
                                            [--clients 16]

Each scenario starts `deconf serve --workers W` as a user does, on a fresh database, and drives it with
`--clients` keep-alive connections posting random small areas from 10 parties: from wrk (bench/wrk_declare.lua)
when it is installed — C, a fraction of one core — else from Python load processes as bench_http.py does.
Beside each figure, measured in the same run:

- the framework floor: `GET /healthz` per second from the same clients against the same W workers (no write);
- the database's durable-commit floor: one-row `INSERT` + `COMMIT` per second from the same number of threads,
  straight to the database (SQLite WAL `synchronous=FULL`; PostgreSQL `synchronous_commit=on`) — what one
  transaction per request would allow, where the service's group commit shares one commit among many writes.

The ratios hold on a noisy machine; the absolute figures do not. On a 2-core machine the load processes share
the cores with the workers: the 1 → 4 worker figure measures the write lock and the change feed, not how the
workers' CPU would add up on a larger host.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from common import HOST, client_worker, free_port, machine_facts, percentile, request_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
ADMIN = "bench-admin-token-0123456789"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "deconf_bench_workers"
TARGET_4_WORKERS = 1_000.0  # the target: durable declares/s with 4 workers
console = Console()
if not console.is_terminal:
    console = Console(width=130)


def deconf() -> str:
    found = Path(sys.executable).parent / "deconf"
    return str(found) if found.exists() else "deconf"


# databases --------------------------------------------------------------------------------------------------------
def fresh_postgres() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    url = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    return url


def commit_floor(backend: str, where: str, threads: int, seconds: float) -> float:
    """One-row INSERT + COMMIT per second from `threads` connections, each its own transaction."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def sqlite_loop(n: int) -> None:
        conn = sqlite3.connect(where, isolation_level=None, timeout=60)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        while time.perf_counter() < stop:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO floor (n, at) VALUES (?, ?)", (n, time.time()))
            conn.execute("COMMIT")
            counts[n] += 1
        conn.close()

    def pg_loop(n: int) -> None:
        import psycopg

        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = on")
            while time.perf_counter() < stop:
                with conn.transaction():
                    conn.execute("INSERT INTO bench_floor (n, at) VALUES (%s, %s)", (n, time.time()))
                counts[n] += 1

    if backend == "sqlite":
        setup = sqlite3.connect(where)
        setup.execute("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, n INTEGER, at REAL)")
        setup.close()
        loop = sqlite_loop
    else:
        import psycopg

        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, n int, at float8)")
        loop = pg_loop
    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - started)


# the server -------------------------------------------------------------------------------------------------------
class Server:
    def __init__(self, backend: str, workers: int, folder: Path, url: str | None) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
        env.update(
            DECONF_ADMIN_TOKEN=ADMIN,
            DECONF_RATE_LIMIT_PER_S="0",
            DECONF_LOG_LEVEL="warning",
            DECONF_COT_PORT="0",
            DECONF_COT_TLS_PORT="0",
        )
        if url:
            env["DECONF_DATABASE_URL"] = url
        self.log = folder / f"serve-{backend}-{workers}.log"
        cmd = [
            deconf(),
            "serve",
            "--port",
            str(self.port),
            "--db",
            str(folder / "channel.db"),
            "--workers",
            str(workers),
        ]
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=folder, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        seen: set[int] = set()
        deadline = time.monotonic() + 180
        while len(seen) < workers:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"deconf serve did not start:\n{self.log.read_text()[-3000:]}")
            try:
                status, body = request_json(self.port, "GET", "/healthz", timeout_s=2)
                if status == 200:
                    seen.add(body["worker"])
                    continue
            except OSError:
                pass
            time.sleep(0.1)

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def get_worker(port: int, seconds: float, barrier: Any, results: Any) -> None:
    """A client process: GET /healthz on one keep-alive connection for `seconds`."""
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    ok = 0
    barrier.wait(timeout=120)
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        ok += resp.status == 200
    conn.close()
    results.put(ok)


def drive(server: Server, clients: int, seconds: float, tokens: list[str]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    barrier = ctx.Barrier(clients)
    procs = [
        ctx.Process(
            target=client_worker,
            args=(
                i,
                server.port,
                "/v1/declarations",
                tokens[i % len(tokens)],
                1000 + i,
                1.0,
                seconds,
                False,
                barrier,
                results,
            ),
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    out = [results.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    latencies = sorted(x for r in out for x in r["latencies"])
    errors = sum(r["errors"] for r in out)
    sample = next((r["sample_error"] for r in out if r["sample_error"]), "")
    return {
        "per_s": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "errors": errors,
        "sample_error": sample,
    }


def drive_wrk(server: Server, clients: int, seconds: float, tokens: list[str]) -> dict[str, Any]:
    """The same load from wrk (C, a fraction of a core): the workers keep the machine's CPU to themselves."""
    env = dict(os.environ, BENCH_TOKENS=",".join(tokens))
    threads = min(clients, 8)
    cmd = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s", str(HERE / "wrk_declare.lua"),
           f"http://{HOST}:{server.port}/"]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT"))
    requests, duration_us, p50_ms, p99_ms, errors = line.split()[1:]
    return {
        "per_s": (int(requests) - int(errors)) / (int(duration_us) / 1e6),
        "p50_ms": float(p50_ms),
        "p99_ms": float(p99_ms),
        "errors": int(errors),
        "sample_error": "" if errors == "0" else out[-500:],
    }


def floor_wrk(server: Server, clients: int, seconds: float) -> float:
    cmd = ["wrk", f"-t{min(clients, 8)}", f"-c{clients}", f"-d{seconds:g}s", f"http://{HOST}:{server.port}/healthz"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    return float(next(x for x in out.splitlines() if x.startswith("Requests/sec")).split()[1])


def floor_http(server: Server, clients: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    barrier = ctx.Barrier(clients)
    procs = [ctx.Process(target=get_worker, args=(server.port, seconds, barrier, results)) for _ in range(clients)]
    for p in procs:
        p.start()
    total = sum(results.get(timeout=seconds + 120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    return total / seconds


def scenario(backend: str, workers: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = fresh_postgres() if backend == "postgresql" else None
    case = folder / f"{backend}-{workers}"
    case.mkdir()
    server = Server(backend, workers, case, url)
    try:
        tokens = []
        for i in range(10):
            status, body = request_json(server.port, "POST", "/v1/parties", {"id": f"p{i}", "name": f"P{i}"}, ADMIN)
            assert status == 201, body
            tokens.append(body["token"])
        if args.client == "wrk":
            declares = drive_wrk(server, args.clients, args.seconds, tokens)
            declares["healthz_per_s"] = floor_wrk(server, args.clients, min(args.seconds, 5.0))
        else:
            declares = drive(server, args.clients, args.seconds, tokens)
            declares["healthz_per_s"] = floor_http(server, args.clients, min(args.seconds, 5.0))
    finally:
        server.stop()
    declares["commit_floor_per_s"] = commit_floor(
        backend, url or str(case / "floor.db"), args.clients, min(args.seconds, 5.0)
    )
    return declares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (Debian's `wrk`, installed by `make bench`) or Python processes",
    )
    args = parser.parse_args()
    console.print(f"  load    {args.client}, {args.clients} connections")
    for key, value in machine_facts().items():
        console.print(f"  {key:<7} {value}")
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="deconf-bench-workers-") as tmp:
        for backend in args.backends.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                console.print(
                    f"[bold]{backend}, {workers} worker(s)[/bold]: {args.clients} clients, {args.seconds:g} s"
                )
                rows[(backend, workers)] = scenario(backend, workers, args, Path(tmp))
    table = Table(title="Durable declares/s over HTTP (each figure beside baselines of the same run)")
    for column in ("database", "workers", "declares/s", "p50 ms", "p99 ms", "errors", "GET /healthz/s",
                   "declares ÷ healthz", "1-row commits/s", "declares ÷ commits", "vs 1 worker"):  # fmt: skip
        table.add_column(column, justify="right")
    for (backend, workers), r in rows.items():
        one = rows.get((backend, 1))
        scale = f"{r['per_s'] / one['per_s']:.2f}×" if one else "–"
        table.add_row(
            backend,
            str(workers),
            f"{r['per_s']:,.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            str(r["errors"]),
            f"{r['healthz_per_s']:,.0f}",
            f"{r['per_s'] / r['healthz_per_s']:.2f}",
            f"{r['commit_floor_per_s']:,.0f}",
            f"{r['per_s'] / r['commit_floor_per_s']:.2f}",
            scale,
        )
    console.print(table)
    console.print(f"Target (issue 5): ≥ {TARGET_4_WORKERS:,.0f} durable declares/s with 4 workers.")
    for (backend, workers), r in rows.items():
        if r["errors"]:
            console.print(f"[red]{backend}/{workers}: {r['errors']} errors, e.g. {r['sample_error']}[/red]")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"workers-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({f"{b}/{w}": r for (b, w), r in rows.items()} | {"facts": machine_facts()}, indent=2))
    console.print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
