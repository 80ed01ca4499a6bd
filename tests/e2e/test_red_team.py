"""Need to know, attacked as a hostile party would: with nothing but a party token and the documented API, over real
HTTP, against `deconf serve` started as a user starts it.

The victim (sdf) declares sites and areas hidden from the attacker (saa). Each attack runs its whole script of
declarations, reads and cancellations, and keeps everything the API answered (ids and clock times aside): the
attacker's *transcript*. The promise (issue 13, docs/concepts.md) is that a party outside the audience learns a
declaration's position no better than its `precision_m`, its window's edges no better than `disclosure_time_s`, its
band's edges no better than `disclosure_altitude_m`. So: move the hidden declaration within its H3 cell, its time
step, its altitude step — and every transcript must stay the same, byte for byte. That the same scripts tell the
positions apart when the victim shares them (audience "all") shows the attacks are real.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h3
import pytest
from geographiclib.geodesic import Geodesic

from tests.e2e.channel import Channel
from tests.e2e.conftest import Server, start_server

pytestmark = pytest.mark.slow

START, END = "2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z"
PRECISION_M = 1000.0  # the channel's default disclosure_precision_m
WGS84 = Geodesic.WGS84


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Channel]:
    """A channel whose attacker is never slowed (disclosure_probe_delay_s 0): the attacks measure what answers can
    tell, however many; the slowing itself is tested below on a channel of its own."""
    env = {"DECONF_DISCLOSURE_PROBE_DELAY_S": "0"}
    server: Server = start_server(tmp_path_factory.mktemp("red-team"), extra_env=env)
    ch = Channel(server)
    for pid in ("sdf", "saa"):
        ch.party(pid)
    yield ch
    ch.close()
    server.stop()


def site(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    properties = {"kind": "site", "name": "s", "start": START, "end": END, **props}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def offset(lon: float, lat: float, azimuth_deg: float, metres: float) -> tuple[float, float]:
    g = WGS84.Direct(lat, lon, azimuth_deg, metres)
    return g["lon2"], g["lat2"]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(WGS84.Inverse(a[1], a[0], b[1], b[0])["s12"])


def twin_points(
    lon: float, lat: float, apart_m: float = PRECISION_M
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two points `apart_m` apart (by default the precision itself) in the same resolution-7 H3 cell (the cell of
    1 km precision)."""
    cell = h3.latlng_to_cell(lat, lon, 7)
    clat, clon = h3.cell_to_latlng(cell)
    a, b = offset(clon, clat, 90.0, apart_m / 2), offset(clon, clat, 270.0, apart_m / 2)
    assert h3.latlng_to_cell(a[1], a[0], 7) == cell == h3.latlng_to_cell(b[1], b[0], 7)
    return a, b


# the attacker's side ----------------------------------------------------------------------------------------------
def probe(ch: Channel, feature: dict[str, Any]) -> list[dict[str, Any]]:
    """Declare as the attacker, keep what the conflicts said (ids and clock times aside), cancel. The attacker
    shares its probes with everyone: then they are compared exactly, the sharpest probe it can make."""
    feature["properties"].setdefault("audience", "all")
    written = ch.declare("saa", feature)
    ch.ok("saa", "DELETE", f"/v1/declarations/{written['id']}", 204)
    return [_told(c) for c in written["conflicts"]]


def _told(conflict: dict[str, Any]) -> dict[str, Any]:
    keep = ("kind", "other_party", "other_declaration", "distance_m", "required_m", "time", "location")
    return {**{k: conflict[k] for k in keep}, "uncertainty": conflict.get("location_uncertainty_m")}


def conflicts_yes(ch: Channel, feature: dict[str, Any]) -> bool:
    return bool(probe(ch, feature))


def bisect_east_edge(ch: Channel, lon: float, lat: float, steps: int = 14) -> float:
    """Bisect, one bit a request, where a 0 m-separation probe site stops conflicting east of (lon, lat)."""
    near, far = 0.0, 20_000.0
    for _ in range(steps):
        mid = (near + far) / 2
        if conflicts_yes(ch, site(*offset(lon, lat, 90.0, mid), separation_m=0)):
            near = mid
        else:
            far = mid
    return (near + far) / 2


Attack = Callable[[Channel, float, float], list[Any]]


def location_read(ch: Channel, lon: float, lat: float) -> list[Any]:
    """One request: a site with a big radius and separation over the hidden one; read `location` and the rest."""
    return probe(ch, site(lon + 0.01, lat, radius_m=2000, separation_m=20_000))


def trilateration(ch: Channel, lon: float, lat: float) -> list[Any]:
    """Three point probes around the hidden site; their distances would place it by trilateration."""
    return [probe(ch, site(*offset(lon, lat, az, 3000.0), separation_m=10_000)) for az in (0.0, 120.0, 240.0)]


def bisection(ch: Channel, lon: float, lat: float) -> list[Any]:
    return [bisect_east_edge(ch, lon, lat)]


ATTACKS: dict[str, Attack] = {"location read": location_read, "trilateration": trilateration, "bisection": bisection}


def transcript(ch: Channel, hidden: dict[str, Any], attack: Attack, at: tuple[float, float]) -> list[Any]:
    """Everything `attack` learns while the victim's `hidden` declaration stands."""
    victim = ch.declare("sdf", hidden)
    try:
        return attack(ch, *at)
    finally:
        ch.ok("sdf", "DELETE", f"/v1/declarations/{victim['id']}", 204)


# the promise --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_hidden_site_moved_within_its_cell_answers_every_attack_the_same(channel: Channel, name: str) -> None:
    a, b = twin_points(40.1405, 35.3352)
    attack = ATTACKS[name]
    seen_a = transcript(channel, site(*a, radius_m=100), attack, a)
    seen_b = transcript(channel, site(*b, radius_m=100), attack, a)
    assert seen_a == seen_b, f"{name} told apart two positions 1 km apart in one cell"
    # the attack is real: shared with everyone, the same script does tell them apart
    shared_a = transcript(channel, site(*a, radius_m=100, audience="all"), attack, a)
    shared_b = transcript(channel, site(*b, radius_m=100, audience="all"), attack, a)
    assert shared_a != shared_b


def test_what_a_conflict_reports_of_a_hidden_site_holds_nothing_finer_than_its_precision(channel: Channel) -> None:
    """Ten hidden sites; each attacked by one location read and by trilateration from three distances. The location
    is the attacker's own point, never one built from the hidden site; the trilaterated estimate stays as far off as
    a position rounded to the precision would leave it (the median distance from the centre of a precision-wide
    square to a point in it is 0.38 × precision; a cell of 1 km precision is five such squares)."""
    errors_trilateration = []
    for i in range(10):
        hidden = (round(40.0 + 0.07 * i, 6), round(35.1 + 0.045 * i, 6))
        victim = channel.declare("sdf", site(*hidden, radius_m=50))
        try:
            own = [round(hidden[0] + 0.005, 6), hidden[1]]
            [told] = probe(channel, site(*own, radius_m=2000, separation_m=20_000))
            assert told["location"]["coordinates"] == own  # on the attacker's own shape: nothing of the other's
            assert told["distance_m"] % PRECISION_M == 0 and told["uncertainty"] >= PRECISION_M
            errors_trilateration.append(metres(_trilaterate(channel, hidden), hidden))
        finally:
            channel.ok("sdf", "DELETE", f"/v1/declarations/{victim['id']}", 204)
    assert statistics.median(errors_trilateration) >= 0.3 * PRECISION_M, errors_trilateration


def _trilaterate(ch: Channel, near: tuple[float, float]) -> tuple[float, float]:
    """The attacker's best guess from three reported distances: the grid point (100 m steps) whose distances to
    the three probes best match them."""
    probes = [offset(*near, az, 4000.0) for az in (0.0, 120.0, 240.0)]
    told = [probe(ch, site(*p, separation_m=10_000))[0]["distance_m"] for p in probes]
    best, best_err = near, float("inf")
    for dx in range(-30, 31):
        for dy in range(-30, 31):
            guess = offset(*offset(*near, 90.0, dx * 100.0), 0.0, dy * 100.0)
            err = sum((metres(guess, p) - d) ** 2 for p, d in zip(probes, told, strict=True))
            if err < best_err:
                best, best_err = guess, err
    return best


def test_time_and_altitude_edges_within_their_steps_answer_the_same(channel: Channel) -> None:
    """Probes of one hour's window and 10 m bands bisect the hidden window and band: the edges moved within their
    step (05:10 vs 05:50; 1210 m vs 1290 m) give the same answers."""
    lon, lat = 40.3, 35.6

    def attack(ch: Channel, lon: float, lat: float) -> list[Any]:
        hours = [f"2017-09-09T{h:02d}:00:00Z" for h in range(3, 9)]
        told = [
            conflicts_yes(ch, site(lon, lat, start=hours[i], end=hours[i + 1], separation_m=0))
            for i in range(len(hours) - 1)
        ]
        bands = [(lower, lower + 10) for lower in range(1150, 1360, 10)]
        told += [
            conflicts_yes(ch, site(lon, lat, separation_m=0, altitude={"lower_m": lo, "upper_m": hi}))
            for lo, hi in bands
        ]
        return told

    def hidden(start: str, upper_m: float, audience: str = "conflicts") -> dict[str, Any]:
        return site(lon, lat, start=start, altitude={"lower_m": 0, "upper_m": upper_m}, audience=audience)

    early = transcript(channel, hidden("2017-09-09T05:10:00Z", 1210), attack, (lon, lat))
    late = transcript(channel, hidden("2017-09-09T05:50:00Z", 1290), attack, (lon, lat))
    assert early == late
    shared_early = transcript(channel, hidden("2017-09-09T05:10:00Z", 1210, "all"), attack, (lon, lat))
    shared_late = transcript(channel, hidden("2017-09-09T05:50:00Z", 1290, "all"), attack, (lon, lat))
    assert shared_early != shared_late


def test_a_hidden_polygons_vertices_moved_within_their_cells_answer_the_same(channel: Channel) -> None:
    corners = [(40.60, 35.70), (40.75, 35.70), (40.75, 35.80), (40.60, 35.80)]
    moved = [twin_points(*c, apart_m=400.0) for c in corners]

    def polygon(i: int, audience: str = "conflicts") -> dict[str, Any]:
        ring = [list(m[i]) for m in moved] + [list(moved[0][i])]
        props = {"kind": "area", "name": "a", "start": START, "end": END, "audience": audience}
        return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}

    def attack(ch: Channel, lon: float, lat: float) -> list[Any]:
        return [probe(ch, site(*offset(*c, 225.0, 2500.0), separation_m=3000)) for c in corners]

    assert transcript(channel, polygon(0), attack, corners[0]) == transcript(channel, polygon(1), attack, corners[0])
    assert transcript(channel, polygon(0, "all"), attack, corners[0]) != transcript(
        channel, polygon(1, "all"), attack, corners[0]
    )


def test_the_globe_scan_with_wide_routes_is_refused(channel: Channel) -> None:
    """70 zig-zag routes of 100 km radius once found every hidden site of a party: a route's grown area now counts
    against max_area_km2, and separation_m is capped."""
    zigzag = [[lon, 30.0 + (lon % 2)] for lon in range(0, 18)]  # 2500 km long, 100 km wide: 250,000 km²
    route = {"type": "LineString", "coordinates": zigzag}
    props = {"kind": "route", "name": "scan", "start": START, "end": END, "radius_m": 50_000}
    body = {"type": "Feature", "geometry": route, "properties": props}
    r = channel.call("saa", "POST", "/v1/declarations", json=body)
    assert r.status_code == 422 and r.json()["field"] == "properties.radius_m", r.text
    r = channel.call("saa", "POST", "/v1/declarations", json=site(40.0, 35.0, separation_m=60_000))
    assert r.status_code == 422 and r.json()["field"] == "properties.separation_m", r.text


def test_a_disclosure_by_conflict_is_a_view_the_owner_sees(channel: Channel) -> None:
    hidden = channel.declare("sdf", site(41.0, 36.0, radius_m=100))
    try:
        assert probe(channel, site(41.001, 36.0, separation_m=1000))
        views = channel.ok("sdf", "GET", f"/v1/declarations/{hidden['id']}/views")
        assert [(v["party"], v["via"]) for v in views] == [("saa", "conflict")]
    finally:
        channel.ok("sdf", "DELETE", f"/v1/declarations/{hidden['id']}", 204)


def test_precision_m_is_a_documented_bounded_property(channel: Channel, tmp_path: Path) -> None:
    for bad in (99, 50_001, "1000", None):
        r = channel.call("saa", "POST", "/v1/declarations", json=site(42.0, 36.0, precision_m=bad))
        if bad is None:
            assert r.status_code == 201 and r.json()["declaration"]["properties"]["precision_m"] == PRECISION_M
            channel.ok("saa", "DELETE", f"/v1/declarations/{r.json()['id']}", 204)
        else:
            assert r.status_code == 422 and r.json()["field"] == "properties.precision_m", r.text


def test_a_prober_is_seen_by_the_owner_and_the_admin_and_slowed(tmp_path: Path) -> None:
    """With the defaults: the sixth brief probe of the same hidden site tells its owner and the admin (event streams,
    /metrics), and the prober's next declaration within the minute gets 429 with Retry-After."""
    server = start_server(tmp_path)
    ch = Channel(server)
    try:
        for pid in ("sdf", "saa"):
            ch.party(pid)
        owner, admin = ch.stream("sdf"), ch.stream("admin")
        hidden = ch.declare("sdf", site(40.1405, 35.3352, radius_m=100))
        for i in range(6):
            assert probe(ch, site(40.141 + i * 0.001, 35.335, separation_m=2000))
        told, _ = owner.wait_for(lambda e: e.event == "disclosure.probing", timeout_s=10)
        assert told is not None
        data = told.json()["data"]
        assert data["party"] == "saa" and data["declaration"] == hidden["id"] and data["count"] == 6
        seen, _ = admin.wait_for(lambda e: e.event == "disclosure.probing", timeout_s=10)
        assert seen is not None and seen.json()["data"]["owner"] == "sdf"
        metrics = ch.call("admin", "GET", "/metrics").text
        assert "deconf_disclosure_probing_total 1" in metrics
        r = ch.call("saa", "POST", "/v1/declarations", json=site(45.0, 30.0))
        assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60, r.text
        assert "probing" in r.json()["detail"]
        owner.close()
        admin.close()
    finally:
        ch.close()
        server.stop()
