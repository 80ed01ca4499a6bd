"""Webhook isolation: how late an honest party's webhook gets its events while other parties' webhooks point at
hostile endpoints, beside the same run with none.

    .venv/bin/python bench/bench_webhooks.py [--hostile 3,30] [--rounds 5] [--cap-s 60] [--src DIR]

A real `deconf serve` (from this tree's src/, or `--src` another checkout's, e.g. the commit before a change) on a
fresh SQLite file. A producer party declares an area shared with the honest party and every hostile party, once a
round (`--every-s` apart): each declaration is one `declaration.shared` event for each of them. The honest party's
webhook is a receiver in this process answering 204 at once; the hostile parties (up to 10 webhooks each) point
theirs at two listeners on the loopback: half at one that accepts and never answers, half at one that trickles a
header byte every `--trickle-s` seconds. The figure is the time from the declare's 201 to the honest receiver's
arrival of that event (capped at `--cap-s`: a round not delivered by then counts as the cap). Baseline: the same
rounds with no hostile webhook. Everything listens on 127.0.0.1, which the server is told to allow
(DECONF_WEBHOOK_ALLOW_HOSTS; an older server ignores the setting).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from common import free_port, machine_facts

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "bench-admin-token-0123456789"
HOOKS_PER_PARTY = 10
console = Console()


class HonestReceiver:
    """Notes when each declaration's event arrives; answers 204 at once."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if body.get("type") == "declaration.shared":
                    with receiver.lock:
                        receiver.arrived.setdefault(body["data"]["declaration"]["id"], time.monotonic())
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Hostile:
    """Two listeners: one that reads and never answers, one that trickles a header byte every `trickle_s`."""

    def __init__(self, trickle_s: float) -> None:
        self.trickle_s = trickle_s
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.silent_port = self._listen(self._silent)
        self.trickle_port = self._listen(self._trickle)

    def _listen(self, serve: Any) -> int:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        sock.settimeout(0.2)
        self.sockets.append(sock)

        def accept() -> None:
            while not self.stop.is_set():
                try:
                    conn, _ = sock.accept()
                except (TimeoutError, OSError):
                    continue
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return int(sock.getsockname()[1])

    def _silent(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(0.5)
            while not self.stop.is_set():
                with contextlib.suppress(TimeoutError):
                    if not conn.recv(65536):
                        return

    def _trickle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                conn.recv(65536)
            for byte in b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n":
                if self.stop.wait(self.trickle_s):
                    return
                conn.sendall(bytes([byte]))

    def close(self) -> None:
        self.stop.set()
        for sock in self.sockets:
            sock.close()


@contextlib.contextmanager
def server(src: Path, tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`deconf serve` from the package under `src`, on a fresh database; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
    env.update(
        DECONF_ADMIN_TOKEN=ADMIN,
        DECONF_RATE_LIMIT_PER_S="0",
        DECONF_LOG_LEVEL="warning",
        DECONF_COT_TLS_PORT="0",
        DECONF_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
    )
    env.update(extra_env or {})
    boot = f"import sys; sys.path.insert(0, {str(src)!r}); from deconfliction.cli import app; app()"
    cmd = [sys.executable, "-c", boot, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(tmp / "w.db")]
    with open(tmp / f"serve-{port}.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: see {tmp}/serve-{port}.log")
                time.sleep(0.2)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def area(round_: int, audience: list[str]) -> dict[str, Any]:
    lon, lat = 40.0 + round_ * 0.05, 35.0
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
    props = {"kind": "area", "name": f"round {round_}", "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
    props["audience"] = audience
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}


def register(http: httpx.Client, hostile: Hostile, honest: HonestReceiver, n: int) -> dict[str, dict[str, str]]:
    """The parties (producer, honest, hostile…) and their webhooks; each party's Authorization header."""
    tokens = {}
    hostile_parties = [f"hostile{i}" for i in range(-(-n // HOOKS_PER_PARTY))]
    for pid in ("producer", "honest", *hostile_parties):
        admin = {"Authorization": f"Bearer {ADMIN}"}
        made = http.post("/v1/parties", json={"id": pid, "name": pid}, headers=admin).raise_for_status()
        tokens[pid] = {"Authorization": f"Bearer {made.json()['token']}"}
    for i in range(n):
        port = hostile.silent_port if i % 2 == 0 else hostile.trickle_port
        hook = {"url": f"http://127.0.0.1:{port}/h{i}"}
        http.post("/v1/webhooks", json=hook, headers=tokens[hostile_parties[i // HOOKS_PER_PARTY]]).raise_for_status()
    hook = {"url": f"http://127.0.0.1:{honest.port}/honest"}
    http.post("/v1/webhooks", json=hook, headers=tokens["honest"]).raise_for_status()
    return tokens


def scenario(src: Path, hostile_hooks: int, args: argparse.Namespace) -> list[float]:
    """The honest party's delay per round, with `hostile_hooks` hostile webhooks registered."""
    honest, hostile = HonestReceiver(), Hostile(args.trickle_s)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp, server(src, Path(tmp)) as url:
            http = httpx.Client(base_url=url, timeout=30)
            tokens = register(http, hostile, honest, hostile_hooks)
            audience = [p for p in tokens if p != "producer"]
            delays = []
            for r in range(args.rounds):
                t0 = time.monotonic()
                made = http.post("/v1/declarations", json=area(r, audience), headers=tokens["producer"])
                declared = made.raise_for_status().json()["id"]
                while declared not in honest.arrived and time.monotonic() - t0 < args.cap_s:
                    time.sleep(0.01)
                arrived = honest.arrived.get(declared)
                delays.append(args.cap_s if arrived is None else arrived - t0)  # exactly the cap: not delivered
                time.sleep(max(0.0, args.every_s - (time.monotonic() - t0)))
            return delays
    finally:
        honest.close()
        hostile.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hostile", default="3,30", help="hostile webhooks per scenario (default 3,30)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--every-s", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--trickle-s", type=float, default=4.0, help="seconds between the trickler's bytes")
    parser.add_argument("--cap-s", type=float, default=60.0, help="longest wait for one round's event")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src/ directory of the server to run")
    parser.add_argument("--no-facts", action="store_true")
    args = parser.parse_args()
    if not args.no_facts:
        for key, value in machine_facts().items():
            console.print(f"  {key:<7} {value}")
    counts = [0, *(int(n) for n in args.hostile.split(","))]
    table = Table(title=f"honest party's webhook delay, {args.rounds} rounds (server from {args.src})")
    for column in ("hostile webhooks", "median s", "max s", "median / baseline", "rounds at the cap"):
        table.add_column(column, justify="right")
    baseline = 0.0
    for n in counts:
        delays = scenario(args.src.resolve(), n, args)
        median = statistics.median(delays)
        baseline = baseline or median
        at_cap = sum(d == args.cap_s for d in delays)
        label = f"{n} (baseline)" if n == 0 else f"{n} ({n - n // 2} silent, {n // 2} trickling)"
        low = "≥ " if median == args.cap_s else ""  # not delivered within the cap: the delay is at least that
        row = (f"{low}{median:.3f}", f"{'≥ ' if at_cap else ''}{max(delays):.3f}", f"{low}{median / baseline:.1f}×")
        table.add_row(label, *row, str(at_cap))
        console.print(f"  {label}: delays {', '.join(f'{d:.2f}' for d in delays)}", style="dim")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
