"""HTTP declare throughput at N active declarations, beside a do-nothing endpoint on the same
server.

    .venv/bin/python bench/bench_http.py [--active 100000] [--seconds 10] [--clients 1,8]

Every figure is printed beside baselines measured in the same run, on the same machine, at the
same moment: the framework's floor (`POST /noop` on the same server, same body, same clients) and
SQLite's durable-commit floor (WAL, synchronous=FULL, in-process). Compare ratios across machines,
not absolute times.
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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from common import (
    client_worker,
    free_port,
    gather,
    machine_facts,
    percentile,
    random_feature,
    request_json,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
GENERATOR_VERSION = 1  # bump when the distribution changes, so cached databases are rebuilt
PREPOP_PARTIES = 10
TARGET_PER_S = 2_000.0
ISSUE_NOOP_PER_S = 5_800.0  # "a do-nothing FastAPI endpoint answers ~5,800/s here" (the issue's machine)
ADMIN_TOKEN = "bench-admin-token"
console = Console()
if not console.is_terminal:  # piped or logged: wide enough for the table
    console = Console(width=120)


# Pre-population -----------------------------------------------------------------------------------


def populated_db(active: int, seed: int) -> Path:
    """The cached database with `active` declarations for this seed; built on first use."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"populated-g{GENERATOR_VERSION}-n{active}-seed{seed}.db"
    if path.exists():
        console.print(f"reusing {path.relative_to(HERE.parent)}")
        return path
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    populate(tmp, active, seed)
    tmp.rename(path)
    return path


def populate(path: Path, active: int, seed: int, chunk: int = 10_000) -> None:
    """Write `active` declarations straight into the store: no conflict checks, few transactions."""
    import random
    import uuid
    from datetime import UTC, datetime

    from deconfliction.domain.declarations import (
        Declaration,
        DeclarationLimits,
        DeclarationStatus,
        parse_feature,
    )
    from deconfliction.domain.parties import Party, PartyStatus
    from deconfliction.services.picture import Picture
    from deconfliction.storage.sqlite import SqliteStore

    rng = random.Random(seed)
    limits = DeclarationLimits()
    at = datetime.now(UTC).replace(microsecond=0)
    store = SqliteStore(path)
    store.migrate()
    parties = [f"p{i:02d}" for i in range(PREPOP_PARTIES)]
    with store.write() as tx:
        for pid in parties:
            tx.add_party(Party(pid, f"Bench party {pid}", PartyStatus.ACTIVE, None, at))
    columns = (TextColumn("populating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("populate", total=active)
        for first in range(1, active + 1, chunk):
            last = min(first + chunk, active + 1)
            with store.write() as tx:
                for key in range(first, last):
                    spec = parse_feature(random_feature(rng, f"prepop {key}"), limits)
                    declaration = Declaration(
                        key=key,
                        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        party=parties[key % PREPOP_PARTIES],
                        version=1,
                        spec=spec,
                        status=DeclarationStatus.ACTIVE,
                        created_at=at,
                        updated_at=at,
                    )
                    tx.save_declaration(declaration, Picture.stored_boxes(spec))
            progress.update(task, completed=last - 1)
    store.close()  # the last connection to close checkpoints the WAL into the file


# Baselines ----------------------------------------------------------------------------------------


def sqlite_commit_floor(folder: Path, seconds: float) -> dict[str, Any]:
    """Single-row durable commits (WAL, synchronous=FULL) on the bench database's filesystem."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"commit-floor-{os.getpid()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        payload = "x" * 1_000  # about one stored declaration
        latencies: list[float] = []
        stop_at = time.perf_counter() + seconds
        while (t0 := time.perf_counter()) < stop_at:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t0)
    finally:
        conn.close()
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
    latencies.sort()
    return {
        "per_s": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
    }


# Server -------------------------------------------------------------------------------------------


@dataclass
class Server:
    db: Path
    port: int
    log: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, active: int) -> None:
        cmd = [
            sys.executable,
            str(HERE / "server.py"),
            "--db",
            str(self.db),
            "--port",
            str(self.port),
            "--admin-token",
            ADMIN_TOKEN,
            *self.extra_args,
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent)
        deadline = time.monotonic() + 120 + active / 500
        with console.status(f"starting the server on 127.0.0.1:{self.port}, loading {active:,} declarations"):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer /healthz in time:\n{self.tail()}")
                try:
                    status, _ = request_json(self.port, "GET", "/healthz", timeout_s=5)
                    if status == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.25)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def active(self) -> int:
        status, body = request_json(self.port, "GET", "/healthz")
        return int(body["declarations_active"]) if status == 200 else -1


def create_load_parties(port: int, count: int) -> list[str]:
    """A party (and its token) per load client, through the admin API."""
    tokens = []
    suffix = f"{os.getpid()}-{int(time.time())}"
    for i in range(1, count + 1):
        status, body = request_json(
            port,
            "POST",
            "/v1/parties",
            {"id": f"load{i}-{suffix}", "name": f"Load client {i}"},
            ADMIN_TOKEN,
        )
        if status != 201:
            raise RuntimeError(f"creating load party {i}: HTTP {status}: {body}")
        tokens.append(body["token"])
    return tokens


# Load ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    path: str
    clients: int
    seconds: float
    ok: int
    errors: int
    per_s: float
    p50_ms: float
    p99_ms: float
    conflicts_per_request: float | None
    statuses: dict[str, int]
    sample_error: str


def run_load(
    port: int,
    scenario: str,
    path: str,
    tokens: list[str],
    clients: int,
    warmup_s: float,
    seconds: float,
    seed: int,
    count_conflicts: bool,
) -> Result:
    """`clients` processes, each one keep-alive connection, posting for warmup + seconds."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=client_worker,
            daemon=True,
            args=(
                i,
                port,
                path,
                tokens[i],
                seed * 1_000 + i,
                warmup_s,
                seconds,
                count_conflicts,
                barrier,
                results,
            ),
        )
        for i in range(clients)
    ]
    with console.status(f"{scenario}: {clients} client(s), {warmup_s:g} s warm-up + {seconds:g} s"):
        gathered = gather(procs, barrier, results, warmup_s + seconds)
    missing = clients - len(gathered)
    latencies = sorted(x for g in gathered for x in g["latencies"])
    ok = sum(g["ok"] for g in gathered)
    statuses: dict[str, int] = {}
    for g in gathered:
        for code, n in g["statuses"].items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    sample = next((g["sample_error"] for g in gathered if g["sample_error"]), "")
    if missing:
        sample = sample or f"{missing} client(s) reported nothing"
    return Result(
        scenario=scenario,
        path=path,
        clients=clients,
        seconds=seconds,
        ok=ok,
        errors=sum(g["errors"] for g in gathered) + missing,
        per_s=ok / seconds,
        p50_ms=percentile(latencies, 50) * 1e3,
        p99_ms=percentile(latencies, 99) * 1e3,
        conflicts_per_request=(sum(g["conflicts"] for g in gathered) / ok) if count_conflicts and ok else None,
        statuses=statuses,
        sample_error=sample,
    )


SCENARIOS = (
    # name, path, counts conflicts
    ("noop", "/noop", False),
    ("noop-sync", "/noop-sync", False),
    ("declare", "/v1/declarations", True),
)


def render(results: list[Result], floor: dict[str, Any], active_before: int, active_after: int) -> None:
    table = Table(title=f"HTTP, one worker, {active_before:,} active declarations at start")
    for name, justify in (
        ("scenario", "left"),
        ("clients", "right"),
        ("req/s", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("ratio to noop", "right"),
        ("errors", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    noop = {r.clients: r for r in results if r.path == "/noop"}
    for r in results:
        base = noop.get(r.clients)
        ratio = f"{r.per_s / base.per_s:.2f}" if base and base.per_s else "-"
        style = "bold" if r.path == "/v1/declarations" else None
        table.add_row(
            r.scenario,
            str(r.clients),
            f"{r.per_s:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            ratio,
            f"[red]{r.errors}[/red]" if r.errors else "0",
            style=style,
        )
        if r is not results[-1] and results[results.index(r) + 1].clients != r.clients:
            table.add_section()
    table.add_section()
    table.add_row(
        "sqlite-commit",
        "1",
        f"{floor['per_s']:,.0f}",
        f"{floor['p50_ms']:.2f}",
        f"{floor['p99_ms']:.2f}",
        "-",
        "0",
    )
    console.print(table)
    console.print(
        "  noop: async POST /noop, body unread (the framework's floor, same server, same body)\n"
        "  noop-sync: sync POST /noop-sync (thread pool), JSON body parsed\n"
        "  declare: POST /v1/declarations: auth, validation, index query, exact check, durable\n"
        "    commit\n"
        "  sqlite-commit: 1 KB single-row BEGIN IMMEDIATE/COMMIT, WAL, synchronous=FULL,\n"
        "    in-process (no HTTP)",
        style="dim",
    )
    target_ratio = TARGET_PER_S / ISSUE_NOOP_PER_S
    for r in results:
        if r.path != "/v1/declarations":
            continue
        base = noop.get(r.clients)
        ratio = r.per_s / base.per_s if base and base.per_s else float("nan")
        met = "[green]met[/green]" if r.per_s >= TARGET_PER_S else "[yellow]not met[/yellow]"
        console.print(
            f"declare x{r.clients}: {r.per_s:,.0f}/s = {ratio:.2f} x noop "
            f"(target {TARGET_PER_S:,.0f}/s is "
            f"{target_ratio:.2f} x the issue's noop {ISSUE_NOOP_PER_S:,.0f}/s): {met}; "
            f"{r.per_s / floor['per_s']:.2f} x the commit floor; "
            f"conflicts found per declare {r.conflicts_per_request or 0:.2f}"
        )
    console.print(f"active declarations: {active_before:,} before, {active_after:,} after the run")
    for r in results:
        if r.errors:
            console.print(
                f"[red]{r.scenario} x{r.clients}: {r.errors} errors {r.statuses}; e.g. {r.sample_error}[/red]"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--active", type=int, default=100_000, help="active declarations at start")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    parser.add_argument("--clients", default="1,8", help="client counts, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only",
        choices=["noop", "noop-sync", "declare"],
        action="append",
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument("--timings", action="store_true", help="server times the declare path's stages")
    parser.add_argument("--profile", metavar="FILE", help="server writes cProfile stats (all threads) to FILE")
    parser.add_argument("--no-facts", action="store_true", help="do not print machine facts")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--seconds must be in (0, 120] and --warmup in [0, 30]")
    clients = [int(c) for c in args.clients.split(",")]
    if not all(1 <= c <= 64 for c in clients):
        parser.error("--clients: between 1 and 64 each")
    if not args.no_facts:
        console.print(" | ".join(f"{k}: {v}" for k, v in machine_facts().items()))

    cached = populated_db(args.active, args.seed)
    port = free_port()
    run_db = RESULTS / f"run-{os.getpid()}.db"
    shutil.copyfile(cached, run_db)
    extra = (["--timings"] if args.timings else []) + (["--profile", args.profile] if args.profile else [])
    server = Server(run_db, port, RESULTS / f"server-{os.getpid()}.log", extra)
    results: list[Result] = []
    try:
        server.start(args.active)
        active_before = server.active()
        tokens = create_load_parties(port, max(clients))
        floor = sqlite_commit_floor(RESULTS, min(args.seconds, 3.0))
        for n in clients:
            for name, path, count in SCENARIOS:
                if args.only and name not in args.only:
                    continue
                results.append(run_load(port, name, path, tokens, n, args.warmup, args.seconds, args.seed, count))
        active_after = server.active()
    finally:
        server.stop()
        log = server.tail(60)
        for p in (run_db, Path(f"{run_db}-wal"), Path(f"{run_db}-shm")):
            p.unlink(missing_ok=True)
    render(results, floor, active_before, active_after)
    if args.timings or args.profile:
        console.print(log)
    server.log.unlink(missing_ok=True)
    out = RESULTS / "http-latest.json"
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "facts": machine_facts(),
                "commit_floor": floor,
                "active_before": active_before,
                "active_after": active_after,
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    console.print(f"results written to {out.relative_to(HERE.parent)}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
