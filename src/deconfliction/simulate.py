"""Simulated live tracks: movers that report their positions to a channel over HTTP, as real trackers would.

Each mover starts at a place, keeps a course and a speed, and reports `t` (now), lon, lat, altitude, speed and
course every tick. The default movers replay September 2017 over Deir ez-Zor: coalition and Russian aircraft on
crossing courses above the valley, and the two sides' convoys closing on the river — the closest-point-of-approach
warnings they raise come back in each report's answer and as events to both parties.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deconfliction.client import Client
from deconfliction.domain.geodesy import destination
from deconfliction.domain.timewindow import format_time


@dataclass(frozen=True, slots=True)
class Mover:
    party: str
    track_id: str
    lon: float
    lat: float
    course_deg: float
    speed_mps: float
    alt_m: float = 0.0

    def report(self, elapsed_s: float, at: datetime) -> dict[str, Any]:
        lon, lat = destination(self.lon, self.lat, self.course_deg, self.speed_mps * elapsed_s)
        return {
            "t": format_time(at),
            "lon": round(lon, 6),
            "lat": round(lat, 6),
            "alt_m": self.alt_m,
            "speed_mps": self.speed_mps,
            "course_deg": self.course_deg,
        }


DEIR_EZ_ZOR = (
    Mover("coalition", "cjtf-viper-11", 39.95, 35.85, 135.0, 220.0, 6_000.0),
    Mover("russia", "vks-fencer-24", 40.95, 35.80, 225.0, 200.0, 6_000.0),
    Mover("sdf", "sdf-convoy-3", 40.27, 35.37, 245.0, 12.0),
    Mover("saa", "saa-column-7", 40.16, 35.33, 62.0, 12.0),
)


@dataclass
class Tick:
    elapsed_s: float
    mover: Mover
    position: dict[str, Any]
    warnings: list[dict[str, Any]]


def run(
    url: str,
    tokens: dict[str, str],
    movers: tuple[Mover, ...] = DEIR_EZ_ZOR,
    ticks: int = 10,
    interval_s: float = 1.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[Tick]:
    """Report every mover's position once per tick (`ticks` times, `interval_s` apart); yield what each answered."""
    clients = {party: Client(url, token) for party, token in tokens.items()}
    try:
        started = clock()
        for i in range(ticks):
            if i:
                time.sleep(interval_s)
            now = clock()
            elapsed_s = (now - started).total_seconds()
            for mover in movers:
                if mover.party not in clients:
                    continue
                position = mover.report(elapsed_s, now)
                answer = clients[mover.party].post(f"/v1/tracks/{mover.track_id}/positions", [position])
                yield Tick(elapsed_s, mover, position, list(answer.get("warnings", [])))
    finally:
        for client in clients.values():
            client.close()
