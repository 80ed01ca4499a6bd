"""Live tracks through the service, on a real SQLite channel with a clock the test moves: reports out of order and
twice, lost and removed tracks, convergence warnings opened once and resolved, time to entry into a declared area,
and what survives a restart."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.bootstrap import wire
from deconfliction.domain.covering import cell_reach_m, resolution_for
from deconfliction.domain.errors import Forbidden, InvalidInput
from deconfliction.domain.geodesy import destination, distance_m
from deconfliction.domain.timewindow import format_time
from deconfliction.domain.tracks import merge_newest, parse_reports
from deconfliction.services import conflicts, declarations, parties, tracks
from deconfliction.services.context import Context
from tests.conftest import feature, make_settings, square

START = datetime(2017, 9, 9, 5, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


def open_channel(tmp_path: Path, clock: Clock) -> Context:
    ctx = wire(make_settings(tmp_path, track_lost_s=60, track_remove_s=900)).ctx
    ctx.clock = clock
    return ctx


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ctx(tmp_path: Path, clock: Clock) -> Iterator[Context]:
    channel = open_channel(tmp_path, clock)
    for pid in ("sdf", "saa", "coalition"):
        parties.create_party(channel, pid, pid.upper(), None)
    yield channel
    channel.close()


def fix(at: datetime, lon: float, lat: float, **extra: Any) -> dict[str, Any]:
    return {"t": format_time(at), "lon": lon, "lat": lat, **extra}


def events(ctx: Context, party: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    with ctx.store.read() as tx:
        return [(e.type, e.data) for e in tx.events_after(party, 0, 1_000) if e.type.startswith(prefix)]


def east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return destination(lon, lat, 90.0, metres)


# reports --------------------------------------------------------------------------------------------------------
def test_reports_out_of_order_and_twice(ctx: Context, clock: Clock) -> None:
    t0, t1, t2 = START - timedelta(seconds=20), START - timedelta(seconds=10), START
    first = tracks.ingest(ctx, "sdf", "convoy-3", [fix(t2, 40.2, 35.2), fix(t1, 40.1, 35.1), fix(t1, 40.9, 35.9)])
    assert (first.accepted, first.duplicates) == (2, 1)  # the second report at t1 is a duplicate: the first stands
    late = tracks.ingest(ctx, "sdf", "convoy-3", [fix(t0, 40.0, 35.0)])
    assert (late.accepted, late.duplicates) == (1, 0)
    again = tracks.ingest(ctx, "sdf", "convoy-3", [fix(t2, 40.2, 35.2)])
    assert (again.accepted, again.duplicates) == (0, 1)
    view = tracks.get_track(ctx, "sdf", "convoy-3", history=10)
    assert view["position"]["coordinates"] == [40.2, 35.2]  # the late report did not move it back
    assert view["t"] == format_time(t2) and view["first_t"] == format_time(t0)
    assert view["reports"] == 3
    assert [(r["t"], r["lon"]) for r in view["history"]] == [
        (format_time(t2), 40.2),
        (format_time(t1), 40.1),
        (format_time(t0), 40.0),
    ]


def test_a_bad_report_refuses_the_whole_batch(ctx: Context) -> None:
    with pytest.raises(InvalidInput) as caught:
        tracks.ingest(ctx, "sdf", "c1", [fix(START, 40.0, 35.0), fix(START, 40.0, 95.0)])
    assert caught.value.field == "[1].lat"
    with ctx.store.read() as tx:
        assert tx.get_track("sdf", "c1") is None and tx.track_reports("sdf", "c1", 10) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"t": "2017-09-09T05:00:00Z", "lon": 40}, "[0].lat"),
        ({"t": "2017-09-09 05:00", "lon": 40, "lat": 35}, "[0].t"),
        ({"t": "2017-09-09T05:00:00Z", "lon": 40, "lat": 35, "course_deg": 400}, "[0].course_deg"),
        ({"t": "2017-09-09T05:00:00Z", "lon": 40, "lat": 35, "speed_mps": -1}, "[0].speed_mps"),
        ({"t": "2017-09-09T05:00:00Z", "lon": 40, "lat": 35, "course": 90}, "[0].course"),
        ({"t": "2017-09-09T05:00:00Z", "lon": True, "lat": 35}, "[0].lon"),
        ({"t": "2017-09-09T05:00:00Z", "lon": 40, "lat": 35, "stale": "2017-09-09T04:00:00Z"}, "[0].stale"),
        ({"t": "2017-09-09T06:00:00Z", "lon": 40, "lat": 35}, "[0].t"),  # an hour ahead of the server's clock
        ("not a report", "[0]"),
    ],
)
def test_each_bad_field_is_named(body: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_reports([body], START)
    assert caught.value.field == field


def test_a_batch_must_be_a_non_empty_array() -> None:
    for body in ({"t": "x"}, [], "[]"):
        with pytest.raises(InvalidInput) as caught:
            parse_reports(body, START)
        assert caught.value.field == "body"


def test_the_newest_two_reports_are_kept_first_come() -> None:
    r = parse_reports([fix(START, 1.0, 1.0), fix(START, 2.0, 2.0), fix(START - timedelta(seconds=5), 3.0, 3.0)], START)
    latest, previous = merge_newest(None, None, r)
    assert (latest.lon, previous and previous.lon) == (1.0, 3.0)


def test_a_motion_not_reported_is_derived_from_the_last_two_reports(ctx: Context) -> None:
    lon, lat = destination(40.0, 35.0, 60.0, 100.0)
    tracks.ingest(ctx, "sdf", "c1", [fix(START - timedelta(seconds=10), 40.0, 35.0), fix(START, lon, lat)])
    view = tracks.get_track(ctx, "sdf", "c1")
    assert view["motion"] == "derived"
    assert view["speed_mps"] == pytest.approx(10.0, rel=1e-6)
    assert view["course_deg"] == pytest.approx(60.0, abs=0.01)


def test_two_parties_may_use_the_same_track_id(ctx: Context) -> None:
    tracks.ingest(ctx, "sdf", "alpha", [fix(START, 40.0, 35.0)])
    tracks.ingest(ctx, "saa", "alpha", [fix(START, 41.0, 36.0)])
    assert tracks.get_track(ctx, "sdf", "alpha")["position"]["coordinates"] == [40.0, 35.0]
    assert tracks.get_track(ctx, "saa", "alpha")["position"]["coordinates"] == [41.0, 36.0]
    assert [t["id"] for t in tracks.list_tracks(ctx, "sdf", "live", 10)] == ["alpha"]


def test_a_suspended_party_cannot_report(ctx: Context) -> None:
    parties.update_party(ctx, "saa", "suspended", None, False)
    with pytest.raises(Forbidden):
        tracks.ingest(ctx, "saa", "c1", [fix(START, 40.0, 35.0)])


# lost and removed -----------------------------------------------------------------------------------------------
def test_a_silent_track_is_lost_then_removed_and_comes_back_when_it_reports(ctx: Context, clock: Clock) -> None:
    tracks.ingest(ctx, "sdf", "c1", [fix(START, 40.0, 35.0)])
    clock.advance(59)
    assert tracks.sweep(ctx) == (0, 0)
    clock.advance(1)
    assert tracks.sweep(ctx) == (1, 0)
    assert tracks.get_track(ctx, "sdf", "c1")["status"] == "lost"
    assert tracks.sweep(ctx) == (0, 0)  # marked once
    clock.advance(900 - 60)
    assert tracks.sweep(ctx) == (0, 1)
    assert tracks.get_track(ctx, "sdf", "c1")["status"] == "removed"
    assert tracks.list_tracks(ctx, "sdf", "live", 10) == []
    assert [t["id"] for t in tracks.list_tracks(ctx, "sdf", "removed", 10)] == ["c1"]
    assert [t for t, _ in events(ctx, "sdf", "track.")] == ["track.lost", "track.removed"]
    assert events(ctx, "saa", "track.") == []  # only the owner hears of its tracks
    tracks.ingest(ctx, "sdf", "c1", [fix(clock(), 40.1, 35.1)])
    back = tracks.get_track(ctx, "sdf", "c1")
    assert back["status"] == "active" and back["reports"] == 2


def test_a_report_past_its_stale_time_loses_the_track_sooner(ctx: Context, clock: Clock) -> None:
    tracks.ingest(ctx, "sdf", "c1", [fix(START, 40.0, 35.0, stale=format_time(START + timedelta(seconds=20)))])
    clock.advance(20)
    assert tracks.sweep(ctx) == (1, 0)


def test_a_report_already_too_old_makes_a_lost_track(ctx: Context) -> None:
    tracks.ingest(ctx, "sdf", "old", [fix(START - timedelta(seconds=120), 40.0, 35.0)])
    assert tracks.get_track(ctx, "sdf", "old")["status"] == "lost"


# warnings between tracks ----------------------------------------------------------------------------------------
def head_on(ctx: Context, at: datetime, gap_m: float = 10_000.0) -> list[dict[str, Any]]:
    """sdf's track going east at 10 m/s, saa's coming west at 10 m/s, `gap_m` apart on the same parallel."""
    tracks.ingest(ctx, "sdf", "a", [fix(at, 40.0, 35.0, speed_mps=10.0, course_deg=90.0)])
    lon, lat = east_of(40.0, 35.0, gap_m)
    return tracks.ingest(ctx, "saa", "b", [fix(at, lon, lat, speed_mps=10.0, course_deg=270.0)]).warnings


def test_converging_tracks_warn_both_parties_once_then_resolve_when_apart(ctx: Context, clock: Clock) -> None:
    warnings = head_on(ctx, START)
    assert len(warnings) == 1
    w = warnings[0]
    assert w["kind"] == "convergence" and w["other_party"] == "sdf" and w["status"] == "open"
    assert w["declaration"] == "track:b" and w["declaration_version"] == 0
    assert w["other_declaration"] is None  # sdf's track id is not saa's to know
    assert w["distance_m"] < 100 and w["required_m"] == 1852.0
    # each track compared as its 100 m cell's centre (disclosure_track_precision_m): the closest approach is 500 s
    # away give or take the cells' reach at the closing speed of 20 m/s
    assert w["time"]["start"] == w["time"]["end"]
    cpa_s = (datetime.fromisoformat(w["time"]["start"].replace("Z", "+00:00")) - START).total_seconds()
    assert abs(cpa_s - 500) <= 2 * w["location_uncertainty_m"] / 20.0 + 1
    # still converging: later reports keep the one warning, no new event
    for _ in range(3):
        at = clock.advance(10)
        lon, lat = east_of(40.0, 35.0, 10.0 * (at - START).total_seconds())
        assert tracks.ingest(ctx, "sdf", "a", [fix(at, lon, lat, speed_mps=10.0, course_deg=90.0)]).warnings == []
    assert [t for t, _ in events(ctx, "sdf", "conflict.")] == ["conflict.opened"]
    seen_by_sdf = events(ctx, "sdf", "conflict.")[0][1]
    assert seen_by_sdf["id"] == w["id"] and seen_by_sdf["declaration"] == "track:a"
    assert seen_by_sdf["other_declaration"] is None
    # sdf turns away north: they pass more than 1,852 m apart
    at = clock.advance(10)
    lon, lat = east_of(40.0, 35.0, 10.0 * (at - START).total_seconds())
    assert tracks.ingest(ctx, "sdf", "a", [fix(at, lon, lat, speed_mps=10.0, course_deg=0.0)]).warnings == []
    for party in ("sdf", "saa"):
        kinds = [(t, d["resolved_reason"]) for t, d in events(ctx, party, "conflict.")]
        assert kinds == [("conflict.opened", None), ("conflict.resolved", "separated")]
    assert conflicts.list_conflicts(ctx, "saa", "resolved", 10)[0]["id"] == w["id"]


def test_diverging_parallel_and_same_party_tracks_do_not_warn(ctx: Context) -> None:
    tracks.ingest(ctx, "sdf", "a", [fix(START, 40.0, 35.0, speed_mps=10.0, course_deg=270.0)])
    lon, lat = east_of(40.0, 35.0, 3_000.0)
    assert tracks.ingest(ctx, "saa", "b", [fix(START, lon, lat, speed_mps=10.0, course_deg=90.0)]).warnings == []
    # parallel, 3 km apart: no closing, no warning
    lon, lat = destination(40.0, 35.0, 0.0, 3_000.0)
    assert tracks.ingest(ctx, "saa", "c", [fix(START, lon, lat, speed_mps=10.0, course_deg=270.0)]).warnings == []
    # the same party's tracks never warn each other, however close
    assert tracks.ingest(ctx, "sdf", "d", [fix(START, 40.0, 35.0001, speed_mps=10.0, course_deg=90.0)]).warnings == []
    assert events(ctx, "sdf", "conflict.") == []


def test_parallel_tracks_within_the_threshold_warn(ctx: Context) -> None:
    tracks.ingest(ctx, "sdf", "a", [fix(START, 40.0, 35.0, speed_mps=10.0, course_deg=0.0)])
    lon, lat = east_of(40.0, 35.0, 1_000.0)
    warnings = tracks.ingest(ctx, "saa", "b", [fix(START, lon, lat, speed_mps=10.0, course_deg=0.0)]).warnings
    assert len(warnings) == 1 and warnings[0]["distance_m"] < 1_000.0


def test_a_report_may_ask_for_a_wider_separation(ctx: Context) -> None:
    tracks.ingest(ctx, "sdf", "a", [fix(START, 40.0, 35.0)])
    lon, lat = east_of(40.0, 35.0, 4_000.0)
    assert tracks.ingest(ctx, "saa", "b", [fix(START, lon, lat)]).warnings == []
    later = START + timedelta(seconds=1)
    warned = tracks.ingest(ctx, "saa", "b", [fix(later, lon, lat, separation_m=5_000.0)]).warnings
    assert len(warned) == 1 and warned[0]["required_m"] == 5_000.0


def test_a_lost_track_resolves_its_warnings(ctx: Context, clock: Clock) -> None:
    assert len(head_on(ctx, START)) == 1
    clock.advance(30)
    lon, lat = east_of(40.0, 35.0, 300.0)
    tracks.ingest(ctx, "sdf", "a", [fix(clock(), lon, lat, speed_mps=10.0, course_deg=90.0)])
    clock.advance(31)  # saa's track has been silent 61 s
    assert tracks.sweep(ctx) == (1, 0)
    resolved = events(ctx, "sdf", "conflict.resolved")
    assert len(resolved) == 1 and resolved[0][1]["resolved_reason"] == "separated"
    assert tracks.ingest(ctx, "sdf", "a", [fix(clock(), lon, lat, speed_mps=10.0, course_deg=90.0)]).warnings == []


def test_an_acknowledgement_survives_the_resolution(ctx: Context, clock: Clock) -> None:
    w = head_on(ctx, START)[0]
    conflicts.acknowledge(ctx, "saa", w["id"])
    at = clock.advance(5)
    tracks.ingest(ctx, "saa", "b", [fix(at, 41.0, 36.0, speed_mps=10.0, course_deg=0.0)])  # far away now
    seen = conflicts.get_conflict(ctx, "saa", w["id"])
    assert seen["status"] == "resolved" and seen["acknowledged_at"] is not None


def test_open_warnings_and_tracks_survive_a_restart(tmp_path: Path, clock: Clock) -> None:
    first = open_channel(tmp_path, clock)
    for pid in ("sdf", "saa"):
        parties.create_party(first, pid, pid.upper(), None)
    w = head_on(first, START)[0]
    first.close()
    again = open_channel(tmp_path, clock)
    try:
        lon, lat = east_of(40.0, 35.0, 10_000.0)
        at = clock.advance(1)
        # still converging: the warning known before the restart holds, none is opened
        assert tracks.ingest(again, "saa", "b", [fix(at, lon, lat, speed_mps=10.0, course_deg=270.0)]).warnings == []
        tracks.ingest(again, "saa", "b", [fix(clock.advance(1), lon, lat, speed_mps=10.0, course_deg=90.0)])
        assert conflicts.get_conflict(again, "sdf", w["id"])["resolved_reason"] == "separated"
    finally:
        again.close()


# warnings about places ------------------------------------------------------------------------------------------
def test_a_hidden_area_warns_a_track_on_entering_its_covering(ctx: Context) -> None:
    """Hidden from sdf, the area is compared as its covering (1 km cells): the warning comes as the track nears the
    covering — earlier than at the area itself, never later — and tells sdf nothing finer."""
    declarations.declare(ctx, "saa", feature(square(40.3, 35.0, 0.02), kind="area"))
    warnings = tracks.ingest(ctx, "sdf", "a", [fix(START, 40.0, 35.0, speed_mps=20.0, course_deg=90.0)]).warnings
    (w,) = warnings
    assert w["other_declaration"] is None  # the area's audience is "conflicts": its id is not sdf's to know
    exact_s = (distance_m(40.0, 35.0, 40.28, 35.0) - 2_000.0) / 20.0
    entered_s = (datetime.fromisoformat(w["time"]["start"].replace("Z", "+00:00")) - START).total_seconds()
    assert exact_s - w["location_uncertainty_m"] / 20.0 <= entered_s <= exact_s + 1.0
    assert w["distance_m"] % 1000 == 0 and w["location_uncertainty_m"] > 0


def test_a_track_heading_into_an_area_is_warned_with_its_time_of_entry(ctx: Context) -> None:
    area = declarations.declare(ctx, "saa", feature(square(40.3, 35.0, 0.02), kind="area", audience="all"))
    written = area.declaration
    lon, lat = 40.0, 35.0  # heading east toward the area's west edge, 40.28° E
    warnings = tracks.ingest(ctx, "sdf", "a", [fix(START, lon, lat, speed_mps=20.0, course_deg=90.0)]).warnings
    assert len(warnings) == 1
    w = warnings[0]
    assert w["kind"] == "convergence" and w["required_m"] == 2_000.0  # area/route default
    assert w["other_declaration"] == written.id  # shared with all: compared exactly
    entry_s = (distance_m(40.0, 35.0, 40.28, 35.0) - 2_000.0) / 20.0
    entered = datetime.fromisoformat(w["time"]["start"].replace("Z", "+00:00"))
    # the track is compared as its 100 m cell's centre, the zone grown by the cell's reach: its entry may come up to
    # twice that reach sooner, at 20 m/s
    reach_m = cell_reach_m(resolution_for(100.0))  # disclosure_track_precision_m
    assert (entered - START).total_seconds() == pytest.approx(entry_s, abs=2.0 + 2 * reach_m / 20.0)
    assert w["location"]["coordinates"][0] == pytest.approx(40.28 - 2_000.0 / 91_300, abs=0.005)
    (kind, seen_by_saa), *_ = events(ctx, "saa", "conflict.")
    assert kind == "conflict.opened"
    assert seen_by_saa["declaration"] == written.id and seen_by_saa["other_declaration"] is None  # the track's
    # saa sees a place on its own area's edge, not the track's position
    assert seen_by_saa["location"]["coordinates"][0] == pytest.approx(40.28, abs=1e-4)
    # turning back ends it
    later = START + timedelta(seconds=5)
    tracks.ingest(ctx, "sdf", "a", [fix(later, lon, lat, speed_mps=20.0, course_deg=270.0)])
    assert [t for t, _ in events(ctx, "saa", "conflict.")] == ["conflict.opened", "conflict.resolved"]


def test_an_area_out_of_reach_or_of_the_same_party_does_not_warn(ctx: Context) -> None:
    declarations.declare(ctx, "saa", feature(square(41.5, 35.0, 0.02), kind="area"))
    declarations.declare(ctx, "sdf", feature(square(40.1, 35.0, 0.02), kind="area"))
    assert tracks.ingest(ctx, "sdf", "a", [fix(START, 40.0, 35.0, speed_mps=20.0, course_deg=90.0)]).warnings == []


def test_the_screen_never_misses_what_the_exact_check_would_find() -> None:
    """The screen (straight lines in 3-D) stays within its slack of the exact closest approach, anywhere on Earth,
    for ground movers and aircraft alike: so no pair that converges is left out of the exact check."""
    import numpy as np

    from deconfliction.domain.cpa import Motion, closest_approach, screen
    from deconfliction.domain.geodesy import unit_vector
    from deconfliction.services.track_picture import screen_slack_m, velocity

    rng = random.Random(11)
    horizon_s, radius_m = 1800.0, 6_371_008.8
    for _ in range(2_000):
        lat, lon = rng.uniform(-89.5, 89.5), rng.uniform(-180.0, 180.0)
        speed_a, speed_b = (rng.choice((rng.uniform(0, 20), rng.uniform(0, 300))) for _ in range(2))
        a = Motion(lon, lat, 0.0, speed_a, rng.uniform(0, 360))
        b_lon, b_lat = destination(lon, lat, rng.uniform(0, 360), rng.uniform(0, (speed_a + speed_b) * horizon_s))
        b = Motion(b_lon, b_lat, 0.0, speed_b, rng.uniform(0, 360))
        exact = closest_approach(a, b, 0.0, horizon_s)
        ua, ub = unit_vector(lon, lat), unit_vector(b_lon, b_lat)
        dp = (np.array(ub) - np.array(ua)) * radius_m
        dv = np.array(velocity(ub, speed_b, b.course_deg)) - np.array(velocity(ua, speed_a, a.course_deg))
        _, d = screen(dp[None, :], dv[None, :], horizon_s)
        if exact.distance_m < 50_000:
            assert abs(d[0] - exact.distance_m) < screen_slack_m((speed_a + speed_b) * horizon_s)


# what other parties learn of a track ------------------------------------------------------------------------------
def _twin_fixes(lon: float, lat: float, apart_m: float = 100.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two positions `apart_m` apart in one H3 cell of the track precision (100 m: resolution 9)."""
    import h3

    res = resolution_for(100.0)
    clat, clon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, res))
    a, b = destination(clon, clat, 90.0, apart_m / 2), destination(clon, clat, 270.0, apart_m / 2)
    assert h3.latlng_to_cell(a[1], a[0], res) == h3.latlng_to_cell(b[1], b[0], res)
    return a, b


def _told(warning: dict[str, Any]) -> tuple[Any, ...]:
    return (warning["distance_m"], warning["time"], warning["location"], warning["location_uncertainty_m"])


@pytest.mark.parametrize("seen_by", ["a site's owner", "another track's owner"])
def test_a_track_moved_within_its_cell_tells_the_other_party_nothing_new(
    tmp_path: Path, clock: Clock, seen_by: str
) -> None:
    """What saa is told of sdf's track — by its site's warning, or its own track's — is the same wherever in its
    100 m cell sdf's track reports from; sdf's own side keeps its exact position."""
    told = []
    for i, fix_at in enumerate(_twin_fixes(40.0, 35.0)):
        (tmp_path / str(i)).mkdir()
        channel = open_channel(tmp_path / str(i), clock)
        try:
            for pid in ("sdf", "saa"):
                parties.create_party(channel, pid, pid.upper(), None)
            ahead = east_of(40.0, 35.0, 3_000.0)  # the same place in both runs
            if seen_by == "a site's owner":
                site = feature({"type": "Point", "coordinates": list(ahead)}, kind="site", audience="all")
                declarations.declare(channel, "saa", site)  # shared: only the track is compared as shown
            else:
                tracks.ingest(channel, "saa", "b", [fix(START, *east_of(40.0, 35.0, 9_000.0), speed_mps=10.0,
                                                        course_deg=270.0)])  # fmt: skip
            [mine] = tracks.ingest(channel, "sdf", "a", [fix(START, *fix_at, speed_mps=10.0, course_deg=90.0)]).warnings
            [(_, theirs)] = events(channel, "saa", "conflict.opened")
            told.append(_told(theirs))
            assert mine["distance_m"] % 100 == 0 and theirs["location_uncertainty_m"] > 0
        finally:
            channel.close()
    assert told[0] == told[1]
