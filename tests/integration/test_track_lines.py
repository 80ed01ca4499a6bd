"""Live tracks across agreed lines, in process: a track of a bound party reporting beyond the tolerance opens a `line`
conflict for both parties (events and the record), held while it stays across, resolved when it is back on its side;
withdrawing the line ends it. The scenario's Euphrates line: sdf keeps to the north-east bank, saa to the south-west."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deconfliction.bootstrap import Wired
from deconfliction.domain.timewindow import format_time, utcnow
from deconfliction.services import tracks
from deconfliction.services.events import events_after
from deconfliction.services.track_picture import TrackSettings
from tests.conftest import BOTH_BACKENDS, Api
from tests.integration.test_lines_api import AIRPORT, EAST_BANK, accept, ledger, line_conflicts, parties, propose

pytestmark = BOTH_BACKENDS
FARTHER = (40.10, 35.22)  # south-west of the airport: deeper into saa's side


def report(api: Api, who: str, track_id: str, lon: float, lat: float, seconds_ago: float = 0.0) -> dict[str, Any]:
    fix = {"t": format_time(utcnow() - timedelta(seconds=seconds_ago)), "lon": lon, "lat": lat}
    r = api.call(who, "POST", f"/v1/tracks/{track_id}/positions", json=[fix])
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


def event_types(wired: Wired, party: str) -> list[str]:
    return [e.type for e in events_after(wired.ctx, party, 0)]


def test_a_track_across_an_accepted_line_opens_a_line_conflict_for_both_until_back_on_its_side(
    api: Api, wired: Wired
) -> None:
    parties(api)
    line = propose(api)
    assert report(api, "sdf", "patrol-1", *AIRPORT, seconds_ago=30)["warnings"] == []  # proposed: binds no one
    accept(api, line["id"])
    assert line_conflicts(api, "sdf") == []  # accepting judges declarations; tracks on their next report
    (warning,) = report(api, "sdf", "patrol-1", *AIRPORT, seconds_ago=20)["warnings"]
    assert warning["kind"] == "line" and warning["line"] == line["id"]
    assert warning["declaration"] == "track:patrol-1" and warning["other_party"] == "saa"
    assert warning["required_m"] == 500 and 2_500 < warning["distance_m"] < 4_000  # ~3.1 km across
    [theirs] = line_conflicts(api, "saa", "open")
    assert theirs["id"] == warning["id"] and theirs["declaration"] == f"line:{line['id']}"
    assert theirs["other_party"] == "sdf" and theirs["distance_m"] == warning["distance_m"]
    assert "conflict.opened" in event_types(wired, "sdf") and "conflict.opened" in event_types(wired, "saa")

    assert report(api, "sdf", "patrol-1", *FARTHER, seconds_ago=10)["warnings"] == []  # still across: the same one
    assert [c["id"] for c in line_conflicts(api, "sdf", "open")] == [warning["id"]]

    assert report(api, "sdf", "patrol-1", *EAST_BANK)["warnings"] == []  # back on its side
    assert line_conflicts(api, "sdf", "open") == [] and line_conflicts(api, "saa", "open") == []
    [resolved] = line_conflicts(api, "saa")
    assert resolved["resolved_reason"] == "separated"
    assert event_types(wired, "saa").count("conflict.resolved") == 1
    recorded = [e for e in ledger(api) if e["subject"] == [warning["id"]]]
    assert [e["type"] for e in recorded] == ["conflict.opened", "conflict.resolved"]


def test_only_bound_parties_on_the_wrong_side_beyond_the_tolerance_raise_one(api: Api) -> None:
    parties(api)
    accept(api, propose(api)["id"])
    assert report(api, "saa", "column-1", *AIRPORT)["warnings"] == []  # saa at home
    assert report(api, "sdf", "patrol-2", *EAST_BANK)["warnings"] == []  # sdf at home
    warnings = report(api, "coalition", "drone-1", *AIRPORT)["warnings"]  # not bound by the line
    assert [w["kind"] for w in warnings] == ["convergence"]  # only with saa's column there
    assert line_conflicts(api, "sdf") == [] and line_conflicts(api, "saa") == []


def test_withdrawing_the_line_ends_a_track_conflict_and_the_track_raises_no_more(api: Api) -> None:
    parties(api)
    line = propose(api)
    accept(api, line["id"])
    assert len(report(api, "sdf", "patrol-3", *AIRPORT, seconds_ago=10)["warnings"]) == 1
    assert api.call("saa", "DELETE", f"/v1/lines/{line['id']}").status_code == 204
    [ended] = line_conflicts(api, "sdf")
    assert ended["resolved_reason"] == "line_ended"
    assert report(api, "sdf", "patrol-3", *FARTHER)["warnings"] == []
    assert len(line_conflicts(api, "sdf")) == 1


def test_an_open_track_line_conflict_survives_a_restart(api: Api, wired: Wired) -> None:
    parties(api)
    accept(api, propose(api)["id"])
    (warning,) = report(api, "sdf", "patrol-4", *AIRPORT, seconds_ago=10)["warnings"]
    wired.ctx.bound_lines.clear()
    picture = tracks.configure(wired.ctx, TrackSettings())  # as at start-up: loaded from the store
    assert [c.id for c in picture.open.values()] == [warning["id"]]
    assert report(api, "sdf", "patrol-4", *FARTHER, seconds_ago=5)["warnings"] == []  # held, not opened again
    report(api, "sdf", "patrol-4", *EAST_BANK)
    assert line_conflicts(api, "sdf", "open") == []
