"""Prometheus metrics: requests and latencies by route, and a few gauges of the channel read when scraped."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconfliction.services.context import Context
from deconfliction.services.events import EventHub
from deconfliction.services.probing import ADMIN_STREAM

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Gauge = tuple[str, str, str, Callable[[], float]]  # name, type (gauge | counter), help, read when scraped


class Registry:
    """Counters and histograms per (method, route template, status); thread-safe, cheap to update."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self.gauges: list[Gauge] = []

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            counts = self._buckets.setdefault((method, route), [0] * (len(BUCKETS_S) + 1))
            counts[bisect_left(BUCKETS_S, seconds)] += 1
            self._sums[(method, route)] += seconds

    def render(self) -> str:
        lines = [
            "# HELP deconf_http_requests_total HTTP requests answered, by method, route template and status.",
            "# TYPE deconf_http_requests_total counter",
        ]
        with self._lock:
            requests = sorted(self._requests.items())
            buckets = sorted((k, list(v)) for k, v in self._buckets.items())
            sums = dict(self._sums)
        for (method, route, status), n in requests:
            lines.append(f'deconf_http_requests_total{{method="{method}",route="{_esc(route)}",status="{status}"}} {n}')
        lines += [
            "# HELP deconf_http_request_duration_seconds Time from a request's arrival to its answer.",
            "# TYPE deconf_http_request_duration_seconds histogram",
        ]
        for (method, route), counts in buckets:
            labels = f'method="{method}",route="{_esc(route)}"'
            total = 0
            for bound, n in zip((*BUCKETS_S, float("inf")), counts, strict=True):
                total += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'deconf_http_request_duration_seconds_bucket{{{labels},le="{le}"}} {total}')
            lines.append(f"deconf_http_request_duration_seconds_sum{{{labels}}} {sums[(method, route)]:.6f}")
            lines.append(f"deconf_http_request_duration_seconds_count{{{labels}}} {total}")
        for name, kind, help_, read in self.gauges:
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {read():g}"]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RequestMetrics:
    """ASGI middleware: times each HTTP request and counts it under its route template (not its concrete path,
    which would make one series per id). Unmatched paths count as `unmatched`."""

    def __init__(self, app: ASGIApp, registry: Registry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.registry.observe(scope["method"], route, status, time.perf_counter() - started)


def registry_for(ctx: Context, hub: EventHub) -> Registry:
    """The registry of one app: request figures, and the channel's own read at each scrape."""
    registry = Registry()
    registry.gauges += [
        ("deconf_declarations_active", "gauge", "Active declarations in the picture.", lambda: len(ctx.picture)),
        ("deconf_tracks_known", "gauge", "Live and lost tracks held in memory.", lambda: _tracks_known(ctx)),
        ("deconf_ledger_entries", "gauge", "Entries in the record (the head's seq).", lambda: ctx.chain.seq),
        ("deconf_writer_jobs_total", "counter", "Write jobs committed by the single writer.", lambda: ctx.writer.jobs),
        ("deconf_writer_groups_total", "counter", "Group commits (one fsync each).", lambda: ctx.writer.groups),
        ("deconf_event_streams", "gauge", "Open event streams (SSE).", hub.subscribers),
        (
            "deconf_webhook_events_queued",
            "gauge",
            f"Events waiting for webhook delivery, over all live webhooks (each counted up to {_QUEUE_CAP}).",
            lambda: _webhook_backlog(ctx),
        ),
        (
            "deconf_conflicts_opened_total",
            "counter",
            "Conflicts opened on the channel (any worker), as recorded.",
            lambda: _conflicts_opened(ctx),
        ),
        ("deconf_change_feed_applied_total", "counter", "Changes applied from other workers.", lambda: _applied(ctx)),
        (
            "deconf_disclosure_probing_total",
            "counter",
            "Times a party was seen probing a declaration hidden from it (disclosure.probing, any worker).",
            lambda: _probing_seen(ctx),
        ),
    ]
    return registry


_QUEUE_CAP = 10_000


def _webhook_backlog(ctx: Context) -> int:
    with ctx.store.read() as tx:
        return sum(tx.count_events_after(w.party, w.cursor, _QUEUE_CAP) for w in tx.list_webhooks(None))


def _conflicts_opened(ctx: Context) -> int:
    with ctx.store.read() as tx:
        return tx.conflicts_opened()


def _probing_seen(ctx: Context) -> int:
    with ctx.store.read() as tx:
        return tx.count_events_after(ADMIN_STREAM, 0, _QUEUE_CAP)  # the admin's stream holds only these


def _applied(ctx: Context) -> int:
    hook = ctx.writer.hook
    return int(getattr(hook, "applied", 0))


def _tracks_known(ctx: Context) -> int:
    return 0 if ctx.tracks is None else len(ctx.tracks.tracks)
