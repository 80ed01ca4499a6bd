"""Live tracks: position reports ingested per second with CPA evaluation, at 1k and 10k active tracks, and the latency
from a report to its warning event — in process, through `services.tracks.ingest`, on a real SQLite file (group
commit, fsync).

    .venv/bin/python bench/bench_tracks.py [--sizes 1000,10000] [--seconds 5] [--clients 16] [--batches 1,10]

The workload: N tracks of 10 parties spread uniformly over the bench region (~1,000 × 1,000 km, as the other
benches), each moving straight at 1–15 m/s on a random course (ground convoys, boats); the default threshold
(1,852 m) and horizon (30 min); 1,000 declared sites and areas (the bench distribution, active now) that tracks
may head into. `--clients` threads each drive their share of the tracks round robin: every call
reports one track's newest position(s) — `batch` successive fixes one second apart, ending now — and waits for the
answer (durable, its warnings evaluated). Rows:

* reports/s — reports accepted per second (calls × batch), with how many warnings opened and resolved meanwhile;
* report → warning p50/p99 — for the calls that opened a warning: from calling `ingest` until it returned, which is
  when the `conflict.opened` events of both parties are committed and the event hub has been told; and the same
  over every call (report → durable acknowledgement);
* baselines, same run, same tracks, no storage: a naive all-pairs check (the exact CPA of the reporting track
  against every other party's track, in Python) and a vectorised all-pairs screen (numpy over every track, then the
  exact check on the few left) — what one report's evaluation costs without the grid.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from deconfliction.bootstrap import wire
from deconfliction.config import load_settings
from deconfliction.domain.cpa import closest_approach, screen
from deconfliction.domain.timewindow import format_time, utcnow
from deconfliction.domain.tracks import TrackStatus
from deconfliction.services import declarations, parties, tracks
from deconfliction.services.context import Context
from deconfliction.services.track_picture import TrackPicture

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, percentile, random_feature

PARTIES = [f"p{i:02d}" for i in range(10)]
M_PER_DEG = 111_320.0


@dataclass
class Mover:
    party: str
    track_id: str
    lon: float
    lat: float
    at_s: float  # time of (lon, lat)
    speed_mps: float
    course_deg: float

    def fixes(self, now_s: float, batch: int) -> list[dict[str, float | str]]:
        """`batch` fixes one second apart, the last at now (flat dead reckoning: cheap, and close enough here)."""
        out: list[dict[str, float | str]] = []
        c = math.radians(self.course_deg)
        for k in range(batch - 1, -1, -1):
            dt = now_s - k - self.at_s
            north, east = self.speed_mps * dt * math.cos(c), self.speed_mps * dt * math.sin(c)
            lat = self.lat + north / M_PER_DEG
            lon = self.lon + east / (M_PER_DEG * math.cos(math.radians(self.lat)))
            at = utcnow() + timedelta(seconds=now_s - k - time.time())
            out.append({"t": format_time(at), "lon": lon, "lat": lat, "speed_mps": self.speed_mps,
                        "course_deg": self.course_deg})  # fmt: skip
        return out


def _channel(folder: Path) -> Context:
    settings = load_settings(env={}, overrides={"db": str(folder / "bench.db"), "admin_token": "bench-admin"})
    ctx = wire(settings).ctx
    for pid in PARTIES:
        parties.create_party(ctx, pid, pid.upper(), None)
    return ctx


def _places(ctx: Context, n: int, seed: int) -> None:
    """`n` declared sites and areas of the bench distribution, active now, of the same 10 parties."""
    rng = random.Random(seed)
    start, end = format_time(utcnow() - timedelta(hours=1)), format_time(utcnow() + timedelta(days=1))
    for i in range(n):
        feature = random_feature(rng, f"place {i}")
        feature["properties"].update(start=start, end=end)
        feature["properties"].pop("altitude", None)
        declarations.declare(ctx, PARTIES[i % len(PARTIES)], feature)


def _movers(n: int, seed: int) -> list[Mover]:
    rng = random.Random(seed)
    now = time.time()
    return [
        Mover(PARTIES[i % len(PARTIES)], f"t{i}", rng.uniform(LON_MIN, LON_MAX), rng.uniform(LAT_MIN, LAT_MAX), now,
              rng.uniform(1.0, 15.0), rng.uniform(0.0, 360.0))
        for i in range(n)
    ]  # fmt: skip


@dataclass
class Run:
    reports: int = 0
    calls: int = 0
    seconds: float = 0.0
    opened: int = 0
    all_s: list[float] | None = None
    warned_s: list[float] | None = None


def drive(ctx: Context, movers: list[Mover], seconds: float, clients: int, batch: int) -> Run:
    """Every client thread reports its share of the movers round robin for `seconds`; returns what was done."""
    stop_at = time.perf_counter() + seconds
    lat_all: list[list[float]] = [[] for _ in range(clients)]
    lat_warned: list[list[float]] = [[] for _ in range(clients)]
    counts = [[0, 0, 0] for _ in range(clients)]

    def client(k: int) -> None:
        mine = movers[k::clients]
        i = 0
        while time.perf_counter() < stop_at and mine:
            mover = mine[i % len(mine)]
            i += 1
            body = mover.fixes(time.time(), batch)
            t0 = time.perf_counter()
            result = tracks.ingest(ctx, mover.party, mover.track_id, body)
            dt = time.perf_counter() - t0
            lat_all[k].append(dt)
            counts[k][0] += result.accepted
            counts[k][1] += 1
            if result.warnings:
                lat_warned[k].append(dt)
                counts[k][2] += len(result.warnings)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return Run(
        reports=sum(c[0] for c in counts),
        calls=sum(c[1] for c in counts),
        seconds=elapsed,
        opened=sum(c[2] for c in counts),
        all_s=sorted(x for xs in lat_all for x in xs),
        warned_s=sorted(x for xs in lat_warned for x in xs),
    )


def _picture(ctx: Context) -> TrackPicture:
    with ctx.store.read() as tx:
        return tracks.picture_of(ctx, tx)


def naive_rate(picture: TrackPicture, samples: int, budget_s: float) -> float:
    """Reports/s if each report were checked by the exact CPA against every other party's active track."""
    active = [t for t in picture.tracks.values() if t.status is TrackStatus.ACTIVE]
    now_s = time.time()
    done, t0 = 0, time.perf_counter()
    for track in active[:samples]:
        motion = track.motion()
        for other in active:
            if other.party != track.party:
                closest_approach(motion, other.motion(), now_s, picture.horizon_s)
        done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    return done / (time.perf_counter() - t0)


def screen_rate(picture: TrackPicture, samples: int) -> float:
    """Reports/s if each report were screened (numpy) against every track, then checked exactly where it may warn."""
    slots = picture.active_slots()
    keys = [picture.key_of(int(s)) for s in slots]
    rows = picture.state[slots]
    now_s = time.time()
    t0 = time.perf_counter()
    done = 0
    for i, key in enumerate(keys[:samples]):
        track = picture.tracks[key]
        pos = rows[:, 0:3] + rows[:, 3:6] * (now_s - rows[:, 6])[:, None]
        _, d = screen(pos - pos[i], rows[:, 3:6] - rows[i, 3:6], picture.horizon_s)
        for j in np.flatnonzero(d < picture.threshold_m * 1.1 + 200.0):
            other = picture.tracks[keys[int(j)]]
            if other.party != track.party:
                closest_approach(track.motion(), other.motion(), now_s, picture.horizon_s)
        done += 1
    return done / (time.perf_counter() - t0)


def measure(
    size: int, seconds: float, clients: int, batches: list[int], places: int, console: Console
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="deconf-bench-tracks-") as folder:
        ctx = _channel(Path(folder))
        try:
            _places(ctx, places, seed=size + 1)
            movers = _movers(size, seed=size)
            gc.disable()
            t0 = time.perf_counter()
            first = drive_all(ctx, movers, clients)
            gc.enable()
            gc.freeze()
            console.print(f"  {size:,} tracks: first reports of all in {time.perf_counter() - t0:.1f} s "
                          f"({first.opened:,} warnings opened)", style="dim")  # fmt: skip
            picture = _picture(ctx)
            open_before = len(picture.open)
            for batch in batches:
                w = ctx.writer
                before = (w.groups, w.jobs, w.run_s, w.commit_s)
                run = drive(ctx, movers, seconds, clients, batch)
                groups, jobs = w.groups - before[0], max(1, w.jobs - before[1])
                per_job_us = (w.run_s - before[2]) / jobs * 1e6
                per_commit_ms = (w.commit_s - before[3]) / max(1, groups) * 1e3
                writer = (
                    f"{jobs / max(1, groups):.0f} jobs/commit, {per_job_us:.0f} µs/job, {per_commit_ms:.0f} ms/commit"
                )
                rate = run.reports / run.seconds
                assert run.all_s is not None and run.warned_s is not None
                calls = f"{run.calls / run.seconds:,.0f} calls/s, {run.opened:,} opened"
                rows.append((f"{size:,}", f"reports/s, batches of {batch}", f"{rate:,.0f}", f"{calls}; {writer}"))
                rows.append((f"{size:,}", f"report → warning p50 / p99 (batch {batch})",
                             _ms(run.warned_s), f"{len(run.warned_s):,} calls that opened one"))  # fmt: skip
                rows.append((f"{size:,}", f"report → durable answer p50 / p99 (batch {batch})",
                             _ms(run.all_s), f"all {run.calls:,} calls, {clients} clients"))  # fmt: skip
            naive = naive_rate(picture, 50, 10.0)
            rows.append((f"{size:,}", "baseline: naive all-pairs exact CPA, reports/s", f"{naive:,.1f}",
                         "evaluation only, no storage"))  # fmt: skip
            vector = screen_rate(picture, 300)
            rows.append((f"{size:,}", "baseline: numpy all-pairs screen + exact, reports/s", f"{vector:,.0f}",
                         "evaluation only, no storage"))  # fmt: skip
            rows.append((f"{size:,}", "open warnings (start → end of the run)",
                         f"{open_before:,} → {len(picture.open):,}",
                         f"{len(picture):,} active tracks, {picture.fast_count} kept aside as fast"))  # fmt: skip
        finally:
            ctx.close()
    return rows


def drive_all(ctx: Context, movers: list[Mover], clients: int) -> Run:
    """One report of every mover (their first): the picture fills up."""
    done = [0] * clients
    opened = [0] * clients

    def client(k: int) -> None:
        for mover in movers[k::clients]:
            result = tracks.ingest(ctx, mover.party, mover.track_id, mover.fixes(time.time(), 1))
            done[k] += result.accepted
            opened[k] += len(result.warnings)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Run(reports=sum(done), opened=sum(opened))


def _ms(sorted_s: list[float]) -> str:
    if not sorted_s:
        return "n/a"
    return f"{percentile(sorted_s, 50) * 1e3:.1f} / {percentile(sorted_s, 99) * 1e3:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batches", default="1,10")
    parser.add_argument("--places", type=int, default=1_000, help="declared sites and areas the tracks may head into")
    args = parser.parse_args(argv)
    console = Console()
    batches = [int(b) for b in args.batches.split(",")]
    table = Table(title=f"Live tracks: ingest with CPA evaluation ({args.clients} client threads, SQLite, fsync)")
    for column in ("tracks", "figure", "value", "beside it"):
        table.add_column(column, justify="right" if column in ("tracks", "value") else "left")
    for size in (int(s) for s in args.sizes.split(",")):
        for row in measure(size, args.seconds, args.clients, batches, args.places, console):
            table.add_row(*row)
    console.print(table)
    console.print("Target (issue 4): ≥ 10,000 reports/s at 10k active tracks; report → warning p99 ≤ 1 s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
