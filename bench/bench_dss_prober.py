"""The F3548 DSS under the load InterUSS's prober puts on a DSS: its heavy-traffic concurrent scenario (20
operational intents created, read, searched, mutated and deleted concurrently) at 10, 30 and 100 prober workers,
against one `deconf serve` — the prober's wall time and, from the server's own access log, p50/p99 per DSS
operation — then the same phases with 10, 30 and 100 flights at once from this bench's own load client (the
prober's 20 intents cap its concurrency at 20), beside the channel's own query (`GET /v1/declarations?bbox=…`)
p99 measured on the same server in the same run.

    .venv/bin/python bench/bench_dss_prober.py [--workers 10,30,100] [--server-workers 1] [--database-url URL]

The prober (not part of the project) is found at $DECONF_F3548_PROBER, else ../shared/f3548-prober; without it
this bench says so and exits 0. The scenario has 20 intents: beyond 20 prober workers its concurrency does not grow
(the prober's semaphore bounds it; each phase launches one request per intent). The server runs with rate limits
off, as the other benches. Figures are only comparable as ratios to the baseline printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import free_port, machine_facts, percentile, random_feature, request_json  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789"
SCENARIO = "scd/test_operation_simple_heavy_traffic_concurrent.py"
SUMMARY = re.compile(r"(\d+ (?:passed|failed|skipped)[^\n]*? in [\d.]+s)")
PHASE = re.compile(r"^(test_\w+) time_taken: (\S+)", re.MULTILINE)


def prober_dir() -> Path | None:
    given = os.environ.get("DECONF_F3548_PROBER")
    where = Path(given) if given else ROOT.parent / "shared" / "f3548-prober"
    return where if (where / "run").is_file() else None


def start_server(
    workdir: Path, keys: Path, workers: int, database_url: str | None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
    env.update({"DECONF_F3548_PUBLIC_KEYS": str(keys), "DECONF_F3548_AUDIENCE": "localhost",
                "DECONF_ADMIN_TOKEN": ADMIN_TOKEN, "DECONF_RATE_LIMIT_PER_S": "0", "DECONF_LOG_FORMAT": "json",
                "DECONF_LOG_LEVEL": "info", "DECONF_COT_TLS_PORT": "0"})  # fmt: skip
    if database_url:
        env["DECONF_DATABASE_URL"] = database_url
    deconf = ROOT / ".venv" / "bin" / "deconf"
    cmd = [str(deconf), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(workdir / "dss.db"),
           "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if request_json(port, "GET", "/healthz", timeout_s=2)[0] == 200:
                return proc, port, log
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"deconf serve did not start:\n{log.read_text()[-2000:]}")


def access_durations(log: Path, offset: int, prefix: str) -> dict[str, list[float]]:
    """Server-side durations (ms) per `METHOD route` of the access-log lines written after `offset`."""
    found: dict[str, list[float]] = defaultdict(list)
    with log.open("rb") as f:
        f.seek(offset)
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("logger") == "deconfliction.access" and str(line.get("path", "")).startswith(prefix):
                found[f"{line['method']} {line['route']}"].append(float(line["duration_ms"]))
    return found


def run_scenario(prober: Path, port: int, workers: int) -> tuple[float, str, list[tuple[str, str]]]:
    started = time.perf_counter()
    run = subprocess.run([str(prober / "run"), f"http://localhost:{port}", SCENARIO, "-q", "-s", "-p", "no:randomly",
                          "--heavy_traffic_concurrent_workers", str(workers)],
                         capture_output=True, text=True, timeout=1800, cwd=tempfile.gettempdir())  # fmt: skip
    wall_s = time.perf_counter() - started
    out = run.stdout + run.stderr
    summary = SUMMARY.findall(out)
    return wall_s, summary[-1] if summary else f"no summary (exit {run.returncode})", PHASE.findall(out)


def native_queries(port: int, threads: int = 10, per_thread: int = 100) -> list[float]:
    """The channel's own query: 500 declarations, then `threads` clients each listing a random bbox; latencies in
    ms seen by the client."""
    status, party = request_json(port, "POST", "/v1/parties", {"id": "bench", "name": "Bench"}, token=ADMIN_TOKEN)
    assert status == 201, party
    rng = random.Random(7)
    for i in range(500):
        request_json(port, "POST", "/v1/declarations", random_feature(rng, f"d{i}"), token=party["token"])

    def client(seed: int) -> list[float]:
        r, out = random.Random(seed), []
        for _ in range(per_thread):
            lon, lat = r.uniform(36.5, 46.5), r.uniform(30.5, 38.5)
            t0 = time.perf_counter()
            status, _ = request_json(port, "GET", f"/v1/declarations?bbox={lon},{lat},{lon + 0.5},{lat + 0.5}",
                                     token=party["token"])  # fmt: skip
            out.append((time.perf_counter() - t0) * 1000)
            assert status == 200
        return out

    with ThreadPoolExecutor(threads) as pool:
        return [ms for part in pool.map(client, range(threads)) for ms in part]


def _circle(i: int, start_s: float, minutes: float) -> dict[str, Any]:
    """Flight i's volume: a 100 m circle on a grid 1.1 km apart (flights never meet: no 409s), 0-120 m W84."""

    def at(t: float) -> dict[str, str]:
        return {"value": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)), "format": "RFC3339"}

    centre = {"lat": -40.0 + (i // 20) * 0.01, "lng": 170.0 + (i % 20) * 0.013}
    return {"volume": {"outline_circle": {"center": centre, "radius": {"value": 100, "units": "M"}},
                       "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                       "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}},
            "time_start": at(start_s), "time_end": at(start_s + minutes * 60)}  # fmt: skip


def flights_at_once(port: int, token: str, n: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The prober's scenario with n flights and n at once: create, get, query, mutate (Activated, key from a
    query), delete — each phase n requests released together. Wall seconds per phase, client ms per operation."""
    oir = "/dss/v1/operational_intent_references"
    ids = [str(uuid.uuid4()) for _ in range(n)]
    refs: dict[str, dict[str, Any]] = {}
    latencies: dict[str, list[float]] = defaultdict(list)
    start_s = time.time() + 300

    def call(op: str, method: str, path: str, body: object = None) -> Any:
        t0 = time.perf_counter()
        status, answer = request_json(port, method, path, body, token=token, timeout_s=120)
        latencies[op].append((time.perf_counter() - t0) * 1000)
        assert 200 <= status < 300, (op, status, answer)
        return answer

    def create(i: int) -> None:
        body = {
            "extents": [_circle(i, start_s, 60)],
            "key": [],
            "state": "Accepted",
            "uss_base_url": "https://uss.example",
            "new_subscription": {"uss_base_url": "https://uss.example"},
        }
        refs[ids[i]] = call("create", "PUT", f"{oir}/{ids[i]}", body)["operational_intent_reference"]  # fmt: skip

    def get(i: int) -> None:
        call("get", "GET", f"{oir}/{ids[i]}")

    def query(i: int) -> None:
        call("query", "POST", f"{oir}/query", {"area_of_interest": _circle(i, start_s, 60)})

    def mutate(i: int) -> None:
        found = call("query", "POST", f"{oir}/query", {"area_of_interest": _circle(i, start_s, 70)})
        key = [r["ovn"] for r in found["operational_intent_references"]]
        ref = refs[ids[i]]
        body = {"extents": [_circle(i, start_s, 70)], "key": key, "state": "Activated",
                "uss_base_url": "https://uss.example", "subscription_id": ref["subscription_id"]}  # fmt: skip
        refs[ids[i]] = call("mutate", "PUT", f"{oir}/{ids[i]}/{ref['ovn']}", body)["operational_intent_reference"]

    def delete(i: int) -> None:
        call("delete", "DELETE", f"{oir}/{ids[i]}/{refs[ids[i]]['ovn']}")

    walls: dict[str, float] = {}
    with ThreadPoolExecutor(n) as pool:
        for name, step in (("create", create), ("get", get), ("query", query), ("mutate", mutate),
                           ("delete", delete)):  # fmt: skip
            t0 = time.perf_counter()
            list(pool.map(step, range(n)))
            walls[name] = time.perf_counter() - t0
    return walls, latencies


def show(title: str, durations: dict[str, list[float]]) -> None:
    print(f"  {title}")
    print(f"    {'operation':<58} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}")
    for op, values in sorted(durations.items()):
        values.sort()
        print(f"    {op:<58} {len(values):>5} {percentile(values, 50):>9.1f} {percentile(values, 99):>9.1f}")


def prober_rounds(prober: Path, port: int, log: Path, workers: list[int]) -> None:
    for n in workers:
        offset = log.stat().st_size
        wall_s, summary, phases = run_scenario(prober, port, n)
        time.sleep(0.5)  # the last access lines reach the log
        print(f"\n  {n} prober workers: wall {wall_s:.1f} s (the prober's own start included); {summary}")
        for name, taken in phases:
            print(f"    {name:<40} {taken}")
        show("server-side, per DSS operation:", access_durations(log, offset, "/dss/v1"))


def load_rounds(port: int, log: Path, token: str, flights: list[int]) -> None:
    """The same phases with as many flights as workers: the concurrency the prober's 20 intents cannot reach."""
    for n in flights:
        offset = log.stat().st_size
        walls, client = flights_at_once(port, token, n)
        time.sleep(0.5)
        phases = ", ".join(f"{name} {wall:.2f} s" for name, wall in walls.items())
        print(f"\n  {n} flights at once (bench load client): wall {sum(walls.values()):.1f} s — {phases}")
        show("client-side, per operation:", client)
        show("server-side, per DSS operation:", access_durations(log, offset, "/dss/v1"))


def baseline(port: int, log: Path) -> None:
    offset = log.stat().st_size
    client_ms = sorted(native_queries(port))
    server_ms = sorted(access_durations(log, offset, "/v1/declarations").get("GET /v1/declarations", []))
    print("\n  baseline, same server, same run: the channel's own query GET /v1/declarations?bbox (10 clients)")
    print(f"    client p50 {percentile(client_ms, 50):.1f} ms, p99 {percentile(client_ms, 99):.1f} ms; "
          f"server p50 {percentile(server_ms, 50):.1f} ms, p99 {percentile(server_ms, 99):.1f} ms "
          f"(n={len(client_ms)})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="10,30,100", help="prober workers, and flights of the load client")
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--database-url", help="PostgreSQL (a fresh schema); default: SQLite in a temporary folder")
    parser.add_argument("--no-facts", action="store_true")
    args = parser.parse_args(argv)
    prober = prober_dir()
    if prober is None:
        print("InterUSS's prober is not at $DECONF_F3548_PROBER nor ../shared/f3548-prober: skipped (docs/f3548.md)")
        return 0
    if not args.no_facts:
        for key, value in machine_facts().items():
            print(f"  {key:<7} {value}")
    workers = [int(w) for w in args.workers.split(",")]
    sys.path.insert(0, str(ROOT))
    from tests.f3548_tokens import TokenMint

    with tempfile.TemporaryDirectory(prefix="deconf-dss-prober-") as tmp:
        mint = TokenMint(Path(tmp) / "auth", audience="localhost")
        keys = Path(tmp) / "keys.pem"  # the prober's NoAuth key and the load client's, one file
        keys.write_bytes((prober / "noauth-public.pem").read_bytes() + mint.public_pem)
        proc, port, log = start_server(Path(tmp), keys, args.server_workers, args.database_url)
        try:
            backend = "PostgreSQL" if args.database_url else "SQLite"
            print(f"deconf serve on {backend}, {args.server_workers} worker(s); prober scenario {SCENARIO}")
            prober_rounds(prober, port, log, workers)
            load_rounds(port, log, mint.mint("bench-uss", ["utm.strategic_coordination"]), workers)
            baseline(port, log)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
