"""A bench-only server: the real app (rate limit off) plus do-nothing endpoints; 127.0.0.1, one
worker.

    .venv/bin/python bench/server.py --db bench/results/x.db --port 8123 --admin-token secret

Endpoints added for baselines:
- `GET /noop`, `POST /noop`: async, return {} (201 for POST); the body is not read — the
  framework's floor.
- `POST /noop-sync`: a sync endpoint (thread pool, like the real ones) that parses the JSON body and
  returns {} with 201 — the floor for a sync endpoint with a body.

`--timings` wraps the declare path's stages with timers and prints microseconds per request at exit.
`--profile FILE` runs cProfile in every thread and writes merged pstats to FILE at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import cProfile
import functools
import importlib.util
import inspect
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


STAGES: tuple[tuple[str, str], ...] = (
    # (key, label); indentation in the label shows nesting.
    ("asgi", "server total (ASGI, POST /v1/declarations)"),
    ("json_body", "  read + json.loads body"),
    ("auth", "  auth: token → party (SQLite read tx)"),
    ("endpoint", "  endpoint in thread pool (incl. hop)"),
    ("declare", "    services.declare"),
    ("parse", "      parse_feature (validation, geometry)"),
    ("lock", "      write-lock wait"),
    ("begin", "      BEGIN IMMEDIATE"),
    ("next_declaration_key", "      next_declaration_key"),
    ("candidates", "      index query (candidates)"),
    ("assess", "      exact check (assess), all candidates"),
    ("save_conflict", "      save_conflict"),
    ("append_event", "      append_event"),
    ("list_parties", "      list_parties"),
    ("save_declaration", "      save_declaration (incl. to_feature + json)"),
    ("commit", "      COMMIT (fsync)"),
    ("put", "      picture.put (index insert, after commit)"),
    ("views_of", "    views_of (read tx after commit)"),
    ("to_feature", "    to_feature (all calls)"),
    ("serialize", "  response validation + JSON (pydantic, thread-pool hop)"),
)


_IN_DECLARE: contextvars.ContextVar[bool] = contextvars.ContextVar("in_declare", default=False)


class StageTimings:
    """Wall time per stage of the declare path, by wrapping functions; nothing in src/ changes."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(self, key: str, seconds: float) -> None:
        if not _IN_DECLARE.get():  # count stages of declare requests only, not of the baselines
            return
        with self._lock:
            self.samples.setdefault(key, []).append(seconds)

    def wrap(self, owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)
        add = self.add
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*a: Any, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await original(*a, **kw)
                finally:
                    add(key, time.perf_counter() - t0)

            setattr(owner, name, timed_async)
            return

        @functools.wraps(original)
        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                add(key, time.perf_counter() - t0)

        setattr(owner, name, timed)

    def install(self, app: FastAPI, ctx: Any) -> Any:
        import fastapi.routing
        import starlette.requests

        from deconfliction.api import deps
        from deconfliction.domain.declarations import Declaration
        from deconfliction.index.spatiotemporal import SpatioTemporalIndex
        from deconfliction.services import declarations as svc
        from deconfliction.services import picture
        from deconfliction.storage import sqlite

        self.wrap(starlette.requests.Request, "json", "json_body")
        self.wrap(deps, "authenticate", "auth")
        self.wrap(fastapi.routing, "run_endpoint_function", "endpoint")
        self.wrap(fastapi.routing, "serialize_response", "serialize")
        self.wrap(svc, "declare", "declare")
        self.wrap(svc, "parse_feature", "parse")
        self.wrap(svc, "views_of", "views_of")
        self.wrap(SpatioTemporalIndex, "candidates", "candidates")
        self.wrap(picture, "assess", "assess")
        self.wrap(picture.Picture, "put", "put")
        self.wrap(Declaration, "to_feature", "to_feature")
        for name in (
            "next_declaration_key",
            "save_conflict",
            "append_event",
            "list_parties",
            "save_declaration",
        ):
            self.wrap(sqlite.SqliteTx, name, name)
        sqlite.SqliteStore.write = self._timed_write(sqlite)  # type: ignore[method-assign]
        ctx.write_lock = _TimedLock(ctx.write_lock, self)
        return self._asgi(app)

    def _timed_write(self, sqlite: Any) -> Any:
        add = self.add

        @contextlib.contextmanager
        def write(store: Any) -> Any:  # SqliteStore.write, with its BEGIN and COMMIT timed
            conn = store._conn()
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            add("begin", time.perf_counter() - t0)
            try:
                yield sqlite.SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            t0 = time.perf_counter()
            conn.execute("COMMIT")
            add("commit", time.perf_counter() - t0)

        return write

    def _asgi(self, app: Any) -> Any:
        add = self.add

        async def timed_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["path"] != "/v1/declarations" or scope["method"] != "POST":
                await app(scope, receive, send)
                return
            _IN_DECLARE.set(True)  # this task's context; copied into the thread pool's calls
            t0 = time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                add("asgi", time.perf_counter() - t0)

        return timed_app

    def report(self) -> None:
        n = len(self.samples.get("asgi", []))
        if not n:
            print("timings: no POST /v1/declarations requests seen", file=sys.stderr)
            return
        lines = [
            f"stage timings over {n} POST /v1/declarations (wall time)",
            f"  {'stage':<58} {'µs/req':>8} {'calls':>6} {'p50 µs':>8} {'p99 µs':>8}",
        ]
        for key, label in STAGES:
            got = sorted(self.samples.get(key, []))
            p50 = got[len(got) // 2] * 1e6 if got else 0.0
            p99 = got[min(len(got) - 1, int(len(got) * 0.99))] * 1e6 if got else 0.0
            lines.append(f"  {label:<58} {sum(got) / n * 1e6:8.1f} {len(got) / n:6.2f} {p50:8.1f} {p99:8.1f}")
        parts = ("json_body", "auth", "endpoint", "serialize")
        rest = sum(self.samples["asgi"])
        rest -= sum(sum(self.samples.get(k, [])) for k in parts)
        label = "  rest: routing, dependencies, thread-pool hops, waits"
        lines.append(f"  {label:<58} {rest / n * 1e6:8.1f}")
        print("\n".join(lines), file=sys.stderr, flush=True)


class _TimedLock:
    """The write lock, timing how long acquiring it waits."""

    def __init__(self, lock: Any, timings: StageTimings) -> None:
        self._inner, self._timings = lock, timings

    def __enter__(self) -> Any:
        t0 = time.perf_counter()
        got = self._inner.__enter__()
        self._timings.add("lock", time.perf_counter() - t0)
        return got

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="SQLite file (the server loads its active declarations)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--timings", action="store_true", help="time the declare path's stages")
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
    app = create_app(settings, wired.ctx, wired.hub)
    add_noop_routes(app)

    timings = None
    if args.timings:
        timings = StageTimings()
        app = timings.install(app, wired.ctx)
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
        if timings is not None:
            timings.report()


if __name__ == "__main__":
    main()
