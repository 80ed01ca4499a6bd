"""The map, live: how long a conflict takes to appear in the other party's browser, beside the same event read by a
plain SSE client — on a real `deconf serve` process loaded with the Deir ez-Zor scenario, in Debian's Chromium.

    .venv/bin/python bench/bench_browser.py [--rounds 30]

Each round the SAA declares, over HTTP, a small site on the SDF's field hospital (shared with every party). Timed
from just before that POST:
* baseline — until a plain SSE client following the SDF's `/v1/events` has the `conflict.opened` event;
* the map — until the SDF's signed-in page lists the new conflict in its Conflicts panel (the event arrived over
  the page's own stream, the page fetched the conflicts again and redrew).
The issue's target: the second party's browser sees the conflict within a second.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright
from rich.console import Console
from rich.table import Table

from deconfliction import demo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, percentile

ROOT = Path(__file__).resolve().parents[1]
DECONF = str(ROOT / ".venv" / "bin" / "deconf")
ADMIN = "bench-admin-token-0123456789"
console = Console()


def start(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
    env.update({"DECONF_ADMIN_TOKEN": ADMIN, "DECONF_RATE_LIMIT_PER_S": "0", "DECONF_LOG_LEVEL": "warning"})
    proc = subprocess.Popen(
        [DECONF, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("deconf serve did not start")


class Follower(threading.Thread):
    """A plain SSE client: the time each conflict.opened event arrives, by conflict id."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.stream("GET", f"{self.url}/v1/events", headers=headers, timeout=None) as r:
            self.ready.set()
            event = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "conflict.opened":
                    self.arrived[json.loads(line[5:])["data"]["id"]] = time.perf_counter()  # the event's conflict


def site(n: int) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [40.6, 35.1]},
        "properties": {
            "kind": "site",
            "name": f"Bench firing position {n}",
            "start": "2017-09-12T06:00:00Z",
            "end": "2017-09-14T18:00:00Z",
            "radius_m": 300,
            "audience": "all",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    if not Path("/usr/bin/chromium").exists():
        console.print("[red]/usr/bin/chromium is missing: `make bench` installs it[/red]")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start(Path(tmp) / "bench.db", port)
        try:
            loaded = demo.load(url, ADMIN)
            hospital = next(
                d["declaration"] for d in loaded.declarations if "hospital" in d["declaration"]["properties"]["name"]
            )
            lon, lat = hospital["geometry"]["coordinates"]
            follower = Follower(url, loaded.tokens["sdf"])
            follower.start()
            follower.ready.wait(10)
            baseline, browser = rounds(url, loaded, (lon, lat), follower, args.rounds)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    report(baseline, browser)
    return 0


def rounds(
    url: str, loaded: demo.Loaded, at: tuple[float, float], follower: Follower, n: int
) -> tuple[list[float], list[float]]:
    baseline: list[float] = []
    browser: list[float] = []
    with sync_playwright() as p, httpx.Client(base_url=url, headers=_auth(loaded, "saa")) as saa:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url + "/")
        page.get_by_label("Token").fill(loaded.tokens["sdf"])
        page.get_by_role("button", name="Sign in").click()
        page.locator("#live.on").wait_for()
        page.wait_for_timeout(1000)
        for i in range(n):
            feature = site(i)
            feature["geometry"]["coordinates"] = list(at)
            count = page.locator("#conflicts li").count()
            t0 = time.perf_counter()
            written = saa.post("/v1/declarations", json=feature).json()
            grown = "(n) => document.querySelectorAll('#conflicts li').length > n"
            page.wait_for_function(grown, arg=count, polling="raf")
            browser.append(time.perf_counter() - t0)
            theirs = [c["id"] for c in written["conflicts"] if c["other_party"] == "sdf"]
            deadline = time.monotonic() + 5
            while not all(c in follower.arrived for c in theirs) and time.monotonic() < deadline:
                time.sleep(0.001)
            baseline.append(min(follower.arrived[c] for c in theirs) - t0)
            saa.delete(f"/v1/declarations/{written['id']}")  # its conflicts resolve: the list stays short
            page.wait_for_function("(n) => document.querySelectorAll('#conflicts li').length === n", arg=count)
        chromium.close()
    return baseline, browser


def _auth(loaded: demo.Loaded, party: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {loaded.tokens[party]}"}


def report(baseline: list[float], browser: list[float]) -> None:
    table = Table(title="A conflict reaching the other party: declared over HTTP → seen")
    for column in ("path", "rounds", "p50 ms", "p95 ms", "max ms", "within 1 s"):
        table.add_column(column, justify="right" if column != "path" else "left")
    baseline, browser = sorted(baseline), sorted(browser)
    for name, values in (("baseline: plain SSE client has the event", baseline), ("the map lists it", browser)):
        within = sum(v < 1.0 for v in values)
        table.add_row(
            name,
            str(len(values)),
            f"{percentile(values, 50) * 1000:.0f}",
            f"{percentile(values, 95) * 1000:.0f}",
            f"{max(values) * 1000:.0f}",
            f"{within}/{len(values)}",
        )
    console.print(table)
    ratio = percentile(browser, 50) / max(percentile(baseline, 50), 1e-9)
    console.print(f"The map's p50 is {ratio:.1f}× the plain SSE client's (it refetches the conflicts and redraws).")


if __name__ == "__main__":
    sys.exit(main())
