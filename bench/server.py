"""A bench-only server: the real app (rate limit off) plus do-nothing endpoints; 127.0.0.1, one
worker.

    .venv/bin/python bench/server.py --db bench/results/x.db --port 8123 --admin-token secret

Endpoints added for baselines:
- `GET /noop`, `POST /noop`: async, return {} (201 for POST); the body is not read — the
  framework's floor.
- `POST /noop-sync`: a sync endpoint (thread pool, like the real ones) that parses the JSON body and
  returns {} with 201 — the floor for a sync endpoint with a body.

`--timings` prints the writer's figures at exit: jobs, group commits, time per job and per commit.
`--profile FILE` runs cProfile in every thread and writes merged pstats to FILE at exit.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import signal
import sys
import threading
import time
from typing import Any

import uvicorn
from fastapi import Body, FastAPI

from deconfliction.api.app import create_app
from deconfliction.bootstrap import wire
from deconfliction.config import load_settings

HOST = "127.0.0.1"


def add_noop_routes(app: FastAPI) -> None:
    @app.get("/noop", tags=["bench"])
    async def noop_get() -> dict[str, Any]:
        return {}

    @app.post("/noop", status_code=201, tags=["bench"])
    async def noop_post() -> dict[str, Any]:
        return {}

    @app.post("/noop-sync", status_code=201, tags=["bench"])
    def noop_sync(body: Any = Body(...)) -> dict[str, Any]:
        return {}


class ThreadProfiles:
    """cProfile in every thread: endpoints run in the thread pool, not on the loop's thread."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start_in_thread(self, *_: object) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    def start(self) -> None:
        threading.setprofile(self._start_in_thread)
        self._start_in_thread()

    def dump(self, path: str) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]
        for p in self.profiles:
            p.disable()
        stats = pstats.Stats(self.profiles[0])
        for p in self.profiles[1:]:
            stats.add(p)
        stats.dump_stats(path)
        print(f"profile of {len(self.profiles)} threads written to {path}", file=sys.stderr)


def writer_report(ctx: Any) -> str:
    """Where a write's time goes, from the writer's own figures: job (index, exact rule, SQL) and group commit."""
    w = ctx.writer
    if not w.jobs:
        return "writer: no writes"
    return (
        f"writer: {w.jobs} jobs in {w.groups} group commits ({w.jobs / w.groups:.2f} a group); "
        f"job {w.run_s / w.jobs * 1e3:.3f} ms each (index query, exact rule, SQL); "
        f"commit {w.commit_s / w.groups * 1e3:.3f} ms a group (fsync)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="SQLite file (the server loads its active declarations)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--timings", action="store_true", help="print the writer's figures at exit")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of all threads to FILE")
    args = parser.parse_args(argv)

    settings = load_settings(
        env={},
        overrides={
            "db": args.db,
            "host": HOST,
            "port": args.port,
            "admin_token": args.admin_token,
            "rate_limit_per_s": 0,
            "log_level": "warning",
        },
    )
    t0 = time.perf_counter()
    wired = wire(settings)
    print(
        f"loaded {len(wired.ctx.picture)} active declarations in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    app = create_app(settings, wired.ctx, wired.hub, wired.background)
    add_noop_routes(app)

    profiles = ThreadProfiles() if args.profile else None
    if profiles is not None:
        profiles.start()

    config = uvicorn.Config(
        app,
        host=HOST,
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        timeout_graceful_shutdown=5,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with a Python handler
    # installed, that re-raise returns here instead of killing the process before the reports.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.Server(config).run()
    finally:
        if profiles is not None:
            profiles.dump(args.profile)
        if args.timings:
            print(writer_report(wired.ctx), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
