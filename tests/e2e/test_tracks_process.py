"""Live tracks against a real `deconf serve` process over HTTP: two parties' tracks converge and both hear of it on
their event streams, then separate and both hear it resolved; a silent track is marked lost by the sweeper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from deconfliction.domain.geodesy import destination
from deconfliction.domain.timewindow import format_time, utcnow
from tests.e2e.channel import Channel
from tests.e2e.conftest import Server, SseEvent


def report(at: datetime, lon: float, lat: float, speed_mps: float, course_deg: float) -> list[dict[str, Any]]:
    return [{"t": format_time(at), "lon": lon, "lat": lat, "speed_mps": speed_mps, "course_deg": course_deg}]


def of_type(kind: str) -> Callable[[SseEvent], bool]:
    return lambda e: e.event == kind


@pytest.mark.slow
def test_converging_tracks_warn_both_parties_live_then_resolve(server_factory: Callable[..., Server]) -> None:
    server = server_factory(extra_env={"DECONF_TRACK_LOST_S": "2", "DECONF_COT_TLS_PORT": "0"})
    ch = Channel(server)
    ch.party("sdf")
    ch.party("saa")
    sdf, saa = ch.stream("sdf"), ch.stream("saa")
    try:
        # sdf's convoy heads east at 10 m/s; saa's column, 8 km east, heads west toward it
        ch.ok("sdf", "POST", "/v1/tracks/convoy-3/positions", 202, json=report(utcnow(), 40.0, 35.0, 10.0, 90.0))
        lon, lat = destination(40.0, 35.0, 90.0, 8_000.0)
        answer = ch.ok(
            "saa", "POST", "/v1/tracks/column-7/positions", 202, json=report(utcnow(), lon, lat, 10.0, 270.0)
        )
        (warning,) = answer["warnings"]
        for stream, own in ((sdf, "track:convoy-3"), (saa, "track:column-7")):
            opened, seen = stream.wait_for(of_type("conflict.opened"), timeout_s=5)
            assert opened is not None, [e.event for e in seen]
            data = opened.json()["data"]
            assert data["id"] == warning["id"] and data["kind"] == "convergence"
            assert data["declaration"] == own and data["other_declaration"] is None
        # a further report of the same converging pair opens nothing new
        ch.ok("sdf", "POST", "/v1/tracks/convoy-3/positions", 202, json=report(utcnow(), 40.0, 35.0, 10.0, 90.0))
        # saa's column turns north: they will pass 5.7 km apart
        ch.ok("saa", "POST", "/v1/tracks/column-7/positions", 202, json=report(utcnow(), lon, lat, 10.0, 0.0))
        for stream in (sdf, saa):
            resolved, seen = stream.wait_for(of_type("conflict.resolved"), timeout_s=5)
            assert resolved is not None, [e.event for e in seen]
            assert [e.event for e in seen].count("conflict.opened") == 0
            data = resolved.json()["data"]
            assert data["id"] == warning["id"] and data["resolved_reason"] == "separated"
        # no one's stream names the other's track
        assert "column-7" not in sdf.text() and "convoy-3" not in saa.text()
        # both go silent: the sweeper marks each lost within a couple of seconds
        lost, seen = sdf.wait_for(of_type("track.lost"), timeout_s=6)
        assert lost is not None, [e.event for e in seen]
        assert lost.json()["data"]["id"] == "convoy-3" and lost.json()["data"]["status"] == "lost"
        listed = ch.ok("sdf", "GET", "/v1/tracks")
        assert [(t["id"], t["status"]) for t in listed] == [("convoy-3", "lost")]
    finally:
        sdf.close()
        saa.close()
        ch.close()
