"""The F3548 DSS under the load InterUSS's prober puts on a DSS: its heavy-traffic concurrent scenario (20
operational intents created, read, searched, mutated and deleted concurrently) at 10, 30 and 100 prober workers,
against one `deconf serve` — the prober's wall time and, from the server's own access log, p50/p99 per DSS
operation — beside the channel's own query (`GET /v1/declarations?bbox=…`) p99 measured on the same server in the
same run.

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
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    workdir: Path, prober: Path, workers: int, database_url: str | None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
    env.update({"DECONF_F3548_PUBLIC_KEYS": str(prober / "noauth-public.pem"), "DECONF_F3548_AUDIENCE": "localhost",
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


def show(title: str, durations: dict[str, list[float]]) -> None:
    print(f"  {title}")
    print(f"    {'operation':<58} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}")
    for op, values in sorted(durations.items()):
        values.sort()
        print(f"    {op:<58} {len(values):>5} {percentile(values, 50):>9.1f} {percentile(values, 99):>9.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="10,30,100", help="prober workers (--heavy_traffic_concurrent_workers)")
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
    backend = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="deconf-dss-prober-") as tmp:
        proc, port, log = start_server(Path(tmp), prober, args.server_workers, args.database_url)
        try:
            print(f"deconf serve on {backend}, {args.server_workers} worker(s); prober scenario {SCENARIO}")
            for n in (int(w) for w in args.workers.split(",")):
                offset = log.stat().st_size
                wall_s, summary, phases = run_scenario(prober, port, n)
                time.sleep(0.5)  # the last access lines reach the log
                print(f"\n  {n} prober workers: wall {wall_s:.1f} s (prober's own venv start included); {summary}")
                for name, taken in phases:
                    print(f"    {name:<40} {taken}")
                show("server-side, per DSS operation:", access_durations(log, offset, "/dss/v1"))
            offset = log.stat().st_size
            client_ms = sorted(native_queries(port))
            server_ms = access_durations(log, offset, "/v1/declarations").get("GET /v1/declarations", [])
            server_ms.sort()
            print("\n  baseline, same server, same run: the channel's own query GET /v1/declarations?bbox (10 clients)")
            print(f"    client p50 {percentile(client_ms, 50):.1f} ms, p99 {percentile(client_ms, 99):.1f} ms; "
                  f"server p50 {percentile(server_ms, 50):.1f} ms, p99 {percentile(server_ms, 99):.1f} ms "
                  f"(n={len(client_ms)})")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
