"""The tracks endpoints in process: 202 with the warnings raised, Problem Details naming the bad field, suspended
parties refused, and a party sees only its own tracks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from deconfliction.domain.geodesy import destination, distance_m
from deconfliction.domain.timewindow import format_time, parse_time, utcnow
from tests.conftest import Api, feature, square

T = "2017-09-09T05:00:00Z"


@pytest.fixture
def two(api: Api) -> Api:
    api.add_party("sdf")
    api.add_party("saa")
    return api


def now_fix(lon: float, lat: float, seconds_ago: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"t": format_time(utcnow() - timedelta(seconds=seconds_ago)), "lon": lon, "lat": lat, **extra}


def post(api: Api, who: str, track_id: str, body: Any) -> Any:
    return api.call(who, "POST", f"/v1/tracks/{track_id}/positions", json=body)


def test_reports_are_accepted_and_warnings_come_back(two: Api) -> None:
    r = post(two, "sdf", "convoy-3", [now_fix(40.0, 35.0, 5), now_fix(40.0, 35.0, speed_mps=12, course_deg=90)])
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0, "warnings": []}
    lon, lat = destination(40.0, 35.0, 90.0, 6_000.0)
    r = post(two, "saa", "column-7", [now_fix(lon, lat, speed_mps=12, course_deg=270)])
    assert r.status_code == 202
    (warning,) = r.json()["warnings"]
    assert warning["kind"] == "convergence" and warning["other_party"] == "sdf"
    assert warning["declaration"] == "track:column-7" and warning["other_declaration"] is None
    listed = two.call("sdf", "GET", "/v1/conflicts").json()
    assert [c["id"] for c in listed] == [warning["id"]] and listed[0]["declaration"] == "track:convoy-3"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"t": T, "lon": 40, "lat": 35}, {}, {"lon": 1}], "[1].t"),
        ([{"t": T, "lon": 40, "lat": 35}] * 2 + [{"t": T, "lon": 40}], "[2].lat"),
        ([{"t": T, "lon": 200, "lat": 35}], "[0].lon"),
        ([{"t": T, "lon": 40, "lat": 35, "alt_m": "high"}], "[0].alt_m"),
        ([{"t": T, "lon": 40, "lat": 35, "separation_m": -5}], "[0].separation_m"),
        ({"t": T, "lon": 40, "lat": 35}, "body"),
        ([], "body"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field_and_stores_nothing(two: Api, body: Any, field: str) -> None:
    r = post(two, "sdf", "c1", body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field
    assert two.call("sdf", "GET", "/v1/tracks/c1").status_code == 404


def test_malformed_json_and_bad_track_ids(two: Api) -> None:
    r = two.call("sdf", "POST", "/v1/tracks/c1/positions", content=b"[{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = post(two, "sdf", "x" * 200, [now_fix(40.0, 35.0)])
    assert r.status_code == 422 and r.json()["field"] == "track_id"


def test_a_suspended_party_may_not_report_and_tokens_are_needed(two: Api) -> None:
    r = two.call("admin", "PATCH", "/v1/parties/saa", json={"status": "suspended"})
    assert r.status_code == 200, r.text
    assert post(two, "saa", "c1", [now_fix(40.0, 35.0)]).status_code == 403
    assert post(two, "admin", "c1", [now_fix(40.0, 35.0)]).status_code == 403  # the admin is not a party
    r = two.client.post("/v1/tracks/c1/positions", json=[now_fix(40.0, 35.0)])
    assert r.status_code == 401


def test_a_party_sees_only_its_own_tracks(two: Api) -> None:
    assert post(two, "sdf", "alpha", [now_fix(40.0, 35.0)]).status_code == 202
    assert post(two, "saa", "bravo", [now_fix(41.0, 35.0)]).status_code == 202
    mine = two.call("sdf", "GET", "/v1/tracks").json()
    assert [t["id"] for t in mine] == ["alpha"] and mine[0]["party"] == "sdf"
    assert two.call("sdf", "GET", "/v1/tracks/bravo").status_code == 404
    one = two.call("saa", "GET", "/v1/tracks/bravo", params={"history": 5}).json()
    assert one["status"] == "active" and len(one["history"]) == 1
    assert two.call("saa", "GET", "/v1/tracks", params={"status": "nonsense"}).status_code == 422
    assert two.call("saa", "GET", "/v1/tracks", params={"status": "all"}).json()[0]["id"] == "bravo"


def test_duplicates_are_counted(two: Api) -> None:
    report = now_fix(40.0, 35.0)
    assert post(two, "sdf", "c1", [report, report]).json() == {"accepted": 1, "duplicates": 1, "warnings": []}
    assert post(two, "sdf", "c1", [report]).json()["duplicates"] == 1


@pytest.mark.parametrize(("alt_a", "alt_b", "warned"), [(6_000.0, 6_000.0, True), (6_000.0, 6_250.0, True),
                                                        (6_000.0, 6_300.0, False), (6_000.0, None, True)])  # fmt: skip
def test_altitude_counts_aircraft_a_flight_level_apart_are_not_warned(
    two: Api, alt_a: float, alt_b: float | None, warned: bool
) -> None:
    extra_b = {} if alt_b is None else {"alt_m": alt_b}
    assert (
        post(two, "sdf", "viper-1", [now_fix(40.0, 35.0, speed_mps=220, course_deg=90, alt_m=alt_a)]).status_code == 202
    )
    lon, lat = destination(40.0, 35.0, 90.0, 60_000.0)
    r = post(two, "saa", "fencer-2", [now_fix(lon, lat, speed_mps=200, course_deg=270, **extra_b)])
    assert r.status_code == 202
    assert bool(r.json()["warnings"]) is warned


def timed_route(depart_in_s: float, arrive_in_s: float, audience: str = "conflicts") -> dict[str, Any]:
    """A route of saa due north along 40.5° E over 34.9°–35.1° N, its window open from an hour ago for six hours."""
    now = utcnow()
    geometry = {"type": "LineString", "coordinates": [[40.5, 34.9], [40.5, 35.1]]}
    return feature(geometry, kind="route", start=format_time(now - timedelta(hours=1)),
                   end=format_time(now + timedelta(hours=6)), audience=audience,
                   times=[format_time(now + timedelta(seconds=s)) for s in (depart_in_s, arrive_in_s)])  # fmt: skip


@pytest.mark.parametrize(("depart_in_s", "warned"), [(0.0, True), (3 * 3600.0, False)])
@pytest.mark.parametrize("audience", ["all", "conflicts"])
def test_a_track_crossing_a_timed_route_is_warned_only_when_the_route_passes(
    two: Api, depart_in_s: float, warned: bool, audience: str
) -> None:
    """Shared with the track's party, the route is compared by its schedule: the warning is for the minute it
    passes. Hidden, it is compared as its covering — per hour, the part of its path it travels then — so the
    warning comes when the track nears that part, and still never for a crossing hours before it passes."""
    # the route takes 20 minutes: departing now, it is at 35° N in 10 minutes, when the track gets there
    route = two.declare("saa", timed_route(depart_in_s, depart_in_s + 1200.0, audience))
    lon, lat = destination(40.5, 35.0, 270.0, 6_000.0)
    r = post(two, "sdf", "convoy-3", [now_fix(lon, lat, speed_mps=10, course_deg=90)])
    assert r.status_code == 202, r.text
    if not warned:
        assert r.json()["warnings"] == []  # it crosses the route's path hours before the route passes
        assert two.call("saa", "GET", "/v1/conflicts").json() == []
        return
    (warning,) = r.json()["warnings"]
    assert warning["kind"] == "convergence" and warning["other_party"] == "saa"
    assert warning["declaration"] == "track:convoy-3"
    when = parse_time(warning["time"]["start"], "time")
    if audience == "all":
        assert warning["other_declaration"] == route["id"] and warning["location_uncertainty_m"] == 0
        assert abs((when - utcnow()).total_seconds() - 600.0) < 60.0
        assert distance_m(*warning["location"]["coordinates"], 40.5, 35.0) < 1_000.0
    else:
        assert warning["other_declaration"] is None and warning["location_uncertainty_m"] > 0
        assert 0 <= (when - utcnow()).total_seconds() <= 660.0  # on entering the covering's zone, not later
        assert warning["distance_m"] % 1000 == 0
    (theirs,) = two.call("saa", "GET", "/v1/conflicts").json()
    assert theirs["id"] == warning["id"] and theirs["declaration"] == route["id"]
    assert theirs["declaration_version"] == route["version"]
    assert theirs["time"] == warning["time"]
    assert distance_m(*theirs["location"]["coordinates"], 40.5, 35.0) < 2_000.0  # on saa's own route


def test_a_new_declaration_meets_the_tracks_near_it_at_once(two: Api) -> None:
    lon, lat = destination(40.5, 35.0, 270.0, 6_000.0)
    report = now_fix(lon, lat, speed_mps=10, course_deg=90)
    assert post(two, "sdf", "convoy-3", [report]).json()["warnings"] == []
    assert post(two, "sdf", "far-1", [now_fix(45.0, 35.0, speed_mps=10, course_deg=90)]).status_code == 202
    created = two.declare("saa", timed_route(0.0, 1200.0))
    (mine,) = created["conflicts"]  # the route's owner hears of the track at once, not at the track's next report
    assert mine["kind"] == "convergence" and mine["other_party"] == "sdf" and mine["other_declaration"] is None
    assert mine["declaration"] == created["id"] and mine["declaration_version"] == created["version"]
    (theirs,) = two.call("sdf", "GET", "/v1/conflicts").json()
    assert theirs["id"] == mine["id"] and theirs["declaration"] == "track:convoy-3"
    # the track's next report keeps the warning rather than opening another
    r = post(two, "sdf", "convoy-3", [now_fix(*destination(lon, lat, 90.0, 10.0), speed_mps=10, course_deg=90)])
    assert r.json()["warnings"] == []
    assert [c["id"] for c in two.call("sdf", "GET", "/v1/conflicts").json()] == [mine["id"]]
    # an untimed place in the track's way too; its own party's tracks are never warned of it
    place = two.declare("saa", feature(square(40.56, 35.0), kind="site", start=format_time(utcnow()),
                                       end=format_time(utcnow() + timedelta(hours=2))))  # fmt: skip
    (entry,) = place["conflicts"]
    assert entry["other_party"] == "sdf" and entry["kind"] == "convergence"
    own = feature(square(40.62, 35.0), kind="site", start=format_time(utcnow()),
                  end=format_time(utcnow() + timedelta(hours=2)))  # fmt: skip
    # (saa's timed route is hidden from sdf: its stretch of path this hour conflicts with the site — no track does)
    assert [c["kind"] for c in two.declare("sdf", own)["conflicts"]] == ["proximity"]
