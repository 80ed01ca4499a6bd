"""What a hostile party learns of declarations hidden from it (issue 13): each attack of the red-team tests, run
with nothing but a party token over HTTP against ten hidden sites, with the error of its best estimate and the
requests it spent — against this tree's server, and (`--src`) another checkout's, e.g. the commit before coverings.

    .venv/bin/python bench/bench_red_team.py [--sites 10] [--src OTHER/src --label before]

The attacker knows roughly where to look (within 2 km) and shares its probes with everyone (they are then compared
exactly: its sharpest probe). Probing is not slowed here (disclosure_probe_delay_s 0): the figures are what the
answers can tell, however many; the slowing is measured by the requests it would cost (60 s each once flagged).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from geographiclib.geodesic import Geodesic
from rich.console import Console
from rich.table import Table

from bench_webhooks import ADMIN, ROOT, server

console = Console(width=150)
WGS84 = Geodesic.WGS84
START, END = "2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z"


class Attacker:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.tokens = {p: self._party(p) for p in ("victim", "attacker")}
        self.requests = 0

    def _party(self, pid: str) -> str:
        r = self.http.post("/v1/parties", json={"id": pid, "name": pid}, headers={"Authorization": f"Bearer {ADMIN}"})
        r.raise_for_status()
        return str(r.json()["token"])

    def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        if who == "attacker":
            self.requests += 1
        return self.http.request(method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)

    def probe(self, feature: dict[str, Any]) -> list[dict[str, Any]]:
        """Declare a probe shared with everyone, read its conflicts, cancel it (two requests)."""
        feature["properties"].setdefault("audience", "all")
        r = self.call("attacker", "POST", "/v1/declarations", json=feature)
        r.raise_for_status()
        self.call("attacker", "DELETE", f"/v1/declarations/{r.json()['id']}")
        return list(r.json()["conflicts"])


def site(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    properties = {"kind": "site", "name": "s", "start": START, "end": END, **props}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def offset(p: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    g = WGS84.Direct(p[1], p[0], azimuth, metres)
    return g["lon2"], g["lat2"]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(WGS84.Inverse(a[1], a[0], b[1], b[0])["s12"])


# attacks: each returns its error (metres or seconds) for one hidden site ------------------------------------------
def location_read(a: Attacker, true: tuple[float, float], near: tuple[float, float]) -> float:
    """One probe with a big radius and separation over the site; the estimate is the conflict's `location`."""
    [told] = a.probe(site(*near, radius_m=3000, separation_m=20_000))
    return metres(tuple(told["location"]["coordinates"]), true)  # type: ignore[arg-type]


def trilateration(a: Attacker, true: tuple[float, float], near: tuple[float, float]) -> float:
    """Three point probes 4 km around; the estimate best matches their reported distances (100 m grid search)."""
    probes = [offset(near, az, 4000.0) for az in (0.0, 120.0, 240.0)]
    told = [a.probe(site(*p, separation_m=15_000))[0]["distance_m"] for p in probes]
    best, best_err = near, math.inf
    for dx in range(-25, 26):
        for dy in range(-25, 26):
            guess = offset(offset(near, 90.0, dx * 100.0), 0.0, dy * 100.0)
            err = sum((metres(guess, p) - d) ** 2 for p, d in zip(probes, told, strict=True))
            if err < best_err:
                best, best_err = guess, err
    return metres(best, true)


def bisection(a: Attacker, true: tuple[float, float], near: tuple[float, float]) -> float:
    """Yes/no only: where does a 0 m probe stop conflicting, east and west along the site's parallel (14 bits
    each); the estimate is the midpoint."""
    edges = []
    for azimuth in (90.0, 270.0):
        inside, outside = 0.0, 8000.0
        start = offset(true, 0.0, 0.0)
        for _ in range(14):
            mid = (inside + outside) / 2
            if a.probe(site(*offset(start, azimuth, mid), separation_m=0)):
                inside = mid
            else:
                outside = mid
        edges.append(offset(start, azimuth, (inside + outside) / 2))
    centre = ((edges[0][0] + edges[1][0]) / 2, (edges[0][1] + edges[1][1]) / 2)
    return metres(centre, true)


def altitude_bisection(a: Attacker, true: tuple[float, float], upper_m: float) -> float:
    """Yes/no on 1 m-thin probes: the top of the hidden band, to 14 bits over 0-5000 m."""
    below, above = 0.0, 5000.0
    for _ in range(14):
        mid = (below + above) / 2
        if a.probe(site(*true, separation_m=0, altitude={"lower_m": mid, "upper_m": mid + 1})):
            below = mid
        else:
            above = mid
    return abs((below + above) / 2 - upper_m)


def time_bisection(a: Attacker, true: tuple[float, float], start: datetime) -> float:
    """Yes/no on one-second probes: the start of the hidden window, to 14 bits over six hours."""
    early, late = start - timedelta(hours=3), start + timedelta(hours=3)  # not in the window, in it
    for _ in range(14):
        mid = early + (late - early) / 2
        window = {"start": _fmt(mid), "end": _fmt(mid + timedelta(seconds=1))}
        if a.probe(site(*true, separation_m=0, **window)):
            late = mid
        else:
            early = mid
    return abs(((early + (late - early) / 2) - start).total_seconds())


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run(url: str, sites: int) -> dict[str, tuple[float, float]]:
    """Each attack's median error over `sites` hidden sites, and the requests it spent on each."""
    a = Attacker(url)
    errors: dict[str, list[float]] = {}
    spent: dict[str, list[int]] = {}
    for i in range(sites):
        true = (round(40.0 + 0.37 * i, 6), round(35.0 + 0.23 * (i % 4), 6))
        near = offset(true, 37.0 * i, 1200.0)  # the attacker knows roughly where: within 2 km
        upper_m = 1234.5 + 37 * i
        start = datetime(2017, 9, 9, 5, 0, tzinfo=UTC) + timedelta(minutes=17 * i + 7)
        hidden = site(*true, radius_m=80, altitude={"lower_m": 0, "upper_m": upper_m}, start=_fmt(start))
        victim = a.call("victim", "POST", "/v1/declarations", json=hidden).json()["id"]
        attacks: dict[str, Callable[[], float]] = {
            "location read": lambda t=true, n=near: location_read(a, t, n),
            "trilateration (3 distances)": lambda t=true, n=near: trilateration(a, t, n),
            "bisection of position (yes/no)": lambda t=true, n=near: bisection(a, t, n),
            "bisection of altitude band top": lambda t=true, u=upper_m: altitude_bisection(a, t, u),
            "bisection of window start": lambda t=true, s=start: time_bisection(a, t, s),
        }
        for name, attack in attacks.items():
            before = a.requests
            errors.setdefault(name, []).append(attack())
            spent.setdefault(name, []).append(a.requests - before)
        a.call("victim", "DELETE", f"/v1/declarations/{victim}")
    return {name: (statistics.median(errors[name]), statistics.median(spent[name])) for name in errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--src", type=Path, help="also run against this src/ (e.g. the commit before coverings)")
    parser.add_argument("--label", default="other", help="the name of --src's column")
    args = parser.parse_args()
    trees = [("this tree", ROOT / "src")] + ([(args.label, args.src)] if args.src else [])
    results = {}
    t0 = time.perf_counter()
    for label, src in trees:
        with (
            tempfile.TemporaryDirectory() as tmp,
            server(src, Path(tmp), {"DECONF_DISCLOSURE_PROBE_DELAY_S": "0"}) as url,
        ):
            results[label] = run(url, args.sites)
    table = Table(title=f"What an attacker learns of a hidden site: median error over {args.sites} sites")
    table.add_column("attack")
    table.add_column("unit")
    for label, _ in trees:
        table.add_column(f"{label}: median error", justify="right")
        table.add_column("requests", justify="right")
    for name in results["this tree"]:
        unit = "s" if "window" in name else "m"
        row = [name, unit]
        for label, _ in trees:
            err, req = results[label][name]
            row += [f"{err:,.1f}", f"{req:.0f}"]
        table.add_row(*row)
    console.print(table)
    console.print("(precision 1000 m, time step 3600 s, altitude step 100 m: the defaults)", style="dim")
    console.print(f"bench_red_team: {time.perf_counter() - t0:.0f} s", style="dim")


if __name__ == "__main__":
    main()
