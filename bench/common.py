"""Shared by the bench scripts: the workload's distribution, machine facts, the HTTP load client.

Imports only the standard library, so that load-client processes start fast and stay small.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import platform
import random
import socket
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any

# The region: ~1,000 x 1,000 km (lon 36-47 at lat ~34.5 is ~1,008 km wide; lat 30-39 ~1,000 km).
LON_MIN, LON_MAX = 36.0, 47.0
LAT_MIN, LAT_MAX = 30.0, 39.0
SIDE_KM = (0.5, 5.0)
DURATION_H = (1.0, 12.0)
WEEK_START = datetime(2030, 1, 7, tzinfo=UTC)  # a Monday; every window lies within the week after it
WEEK_S = 7 * 24 * 3600
# (lower_m, upper_m) or None for "absent" (surface to unlimited).
ALTITUDE_BANDS: tuple[tuple[float, float] | None, ...] = (
    None,
    (0.0, 500.0),
    (0.0, 3_000.0),
    (1_000.0, 5_000.0),
    (3_000.0, 12_000.0),
)
SITE_SHARE = 0.2  # the rest are operating areas
KM_PER_DEG_LAT = 111.32


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_feature(rng: random.Random, name: str) -> dict[str, Any]:
    """One declaration of the bench distribution: a 0.5-5 km square, 1-12 h in the week, a band."""
    side_km = rng.uniform(*SIDE_KM)
    half_lat = side_km / 2 / KM_PER_DEG_LAT
    lat = rng.uniform(LAT_MIN + half_lat, LAT_MAX - half_lat)
    half_lon = side_km / 2 / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    lon = rng.uniform(LON_MIN + half_lon, LON_MAX - half_lon)
    w, s, e, n = (round(v, 5) for v in (lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat))
    duration_s = round(rng.uniform(*DURATION_H) * 3600 / 60) * 60
    start = WEEK_START + timedelta(seconds=round(rng.uniform(0, WEEK_S - duration_s) / 60) * 60)
    props: dict[str, Any] = {
        "kind": "site" if rng.random() < SITE_SHARE else "area",
        "name": name,
        "start": _iso(start),
        "end": _iso(start + timedelta(seconds=duration_s)),
        "audience": "conflicts",
    }
    band = rng.choice(ALTITUDE_BANDS)
    if band is not None:
        props["altitude"] = {"lower_m": band[0], "upper_m": band[1]}
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": props,
    }


# Machine facts ------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "cpu": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100); NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# The load client ----------------------------------------------------------------------------------

HOST = "127.0.0.1"  # the bench only ever talks to this machine


def request_json(
    port: int,
    method: str,
    path: str,
    body: object = None,
    token: str | None = None,
    timeout_s: float = 30.0,
) -> tuple[int, Any]:
    """One request on a fresh connection; returns (status, parsed JSON or None)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return resp.status, parsed
    finally:
        conn.close()


def client_worker(
    index: int,
    port: int,
    path: str,
    token: str,
    seed: int,
    warmup_s: float,
    seconds: float,
    count_conflicts: bool,
    barrier: Any,
    results: Any,
) -> None:
    """One load client (its own process): POST random declarations over one keep-alive connection.

    Waits at `barrier` so all clients start together, sends for `warmup_s` unmeasured, then
    `seconds` measured, and puts a summary dict on `results`.
    """
    rng = random.Random(seed)
    bodies = [
        json.dumps(random_feature(rng, f"load {index}-{i}"), separators=(",", ":")).encode() for i in range(2_000)
    ]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sample_error = ""
    conflicts = ok = errors = 0
    try:
        barrier.wait(timeout=120)
        begin = time.perf_counter()
        measure_from, stop_at = begin + warmup_s, begin + warmup_s + seconds
        i = 0
        now = begin
        while now < stop_at:
            body = bodies[i % len(bodies)]
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                status, data = 0, repr(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            now = time.perf_counter()
            if now < measure_from or now >= stop_at:
                continue
            if 200 <= status < 300:
                ok += 1
                latencies.append(now - t0)
                if count_conflicts:
                    conflicts += len(json.loads(data)["conflicts"])
            else:
                errors += 1
                statuses[status] = statuses.get(status, 0) + 1
                if not sample_error:
                    sample_error = f"{status}: {data[:300].decode(errors='replace')}"
    except Exception as exc:  # report, never hang the parent
        sample_error = sample_error or f"client {index} failed: {exc!r}"
        errors += 1
    finally:
        conn.close()
    results.put(
        {
            "index": index,
            "ok": ok,
            "errors": errors,
            "statuses": statuses,
            "sample_error": sample_error,
            "latencies": latencies,
            "conflicts": conflicts,
        }
    )


def gather(procs: list[Any], barrier: Any, results: Any, within_s: float) -> list[dict[str, Any]]:
    """Start the load-client processes, release them together, and collect each one's figures from `results`
    (bounded by `within_s` plus 90 s); every process is joined, or terminated, before this returns."""
    for p in procs:
        p.start()
    gathered: list[dict[str, Any]] = []
    try:
        barrier.wait(timeout=120)
        deadline = time.monotonic() + within_s + 90
        while len(gathered) < len(procs) and time.monotonic() < deadline:
            try:
                gathered.append(results.get(timeout=1))
            except Exception:  # queue.Empty
                if not any(p.is_alive() for p in procs) and results.empty():
                    break
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    return gathered
