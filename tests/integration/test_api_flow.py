"""The v1 contract in-process: parties, links, declarations, conflicts told to both sides, revision, cancel."""

from __future__ import annotations

from tests.conftest import BOTH_BACKENDS, Api, feature, square

pytestmark = BOTH_BACKENDS


def setup_sides(api: Api) -> None:
    for party in ("sdf", "saa", "coalition", "russia"):
        api.add_party(party)


def test_parties_and_links(api: Api) -> None:
    setup_sides(api)
    r = api.call("sdf", "GET", "/v1/parties")
    assert r.status_code == 200
    assert {p["id"]: p["status"] for p in r.json()} == {
        "sdf": "active",
        "saa": "active",
        "coalition": "active",
        "russia": "active",
    }
    assert api.call("admin", "POST", "/v1/links", json={"a": "sdf", "b": "coalition"}).status_code == 201
    r = api.call("admin", "POST", "/v1/links", json={"a": "coalition", "b": "russia", "relay": "review"})
    assert r.status_code == 201 and r.json()["relay"] == "review"
    assert api.call("admin", "POST", "/v1/links", json={"a": "russia", "b": "coalition"}).status_code == 409
    assert api.call("admin", "POST", "/v1/links", json={"a": "sdf", "b": "nobody"}).status_code == 422
    links = api.call("saa", "GET", "/v1/links").json()
    assert {(x["a"], x["b"], x["relay"]) for x in links} == {
        ("coalition", "sdf", "auto"),
        ("coalition", "russia", "review"),
    }
    r = api.call("admin", "POST", "/v1/parties", json={"id": "sdf", "name": "again"})
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"


def test_conflict_is_told_to_both_sides_with_their_own_view(api: Api) -> None:
    setup_sides(api)
    a = api.declare("sdf", feature(square(40.20, 35.35), separation_m=5000, audience=["coalition"]))
    assert a["conflicts"] == [] and a["version"] == 1
    assert a["declaration"]["properties"]["party"] == "sdf"
    b = api.declare("saa", feature(square(40.24, 35.35), audience="all"))
    assert len(b["conflicts"]) == 1
    theirs = b["conflicts"][0]
    assert theirs["other_party"] == "sdf" and theirs["other_declaration"] is None  # audience excludes saa
    assert theirs["declaration"] == b["id"] and theirs["status"] == "open" and theirs["kind"] == "proximity"
    # sdf's square is hidden from saa: compared as its covering (1 km cells), the distance floored to 1 km
    assert theirs["distance_m"] in (0, 1000, 2000) and theirs["required_m"] == 5000
    assert theirs["location_uncertainty_m"] > 1000
    assert theirs["time"] == {"start": "2017-09-09T05:00:00Z", "end": "2017-09-20T00:00:00Z"}
    mine = api.call("sdf", "GET", "/v1/conflicts").json()
    assert len(mine) == 1 and mine[0]["id"] == theirs["id"]
    assert mine[0]["other_declaration"] == b["id"]  # saa shared with all
    assert mine[0]["declaration"] == a["id"]
    assert mine[0]["distance_m"] == theirs["distance_m"]
    # each location lies on the caller's own shape: sdf's east edge, saa's west edge
    assert abs(mine[0]["location"]["coordinates"][0] - 40.21) < 1e-6
    assert abs(theirs["location"]["coordinates"][0] - 40.23) < 1e-6
    # nobody else hears of it
    assert api.call("coalition", "GET", "/v1/conflicts").json() == []


def test_acknowledge_is_per_side_and_idempotent(api: Api) -> None:
    setup_sides(api)
    api.declare("sdf", feature(square(40.20, 35.35), separation_m=5000))
    conflict = api.declare("saa", feature(square(40.24, 35.35)))["conflicts"][0]
    r = api.call("saa", "POST", f"/v1/conflicts/{conflict['id']}/ack")
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert (
        api.call("saa", "POST", f"/v1/conflicts/{conflict['id']}/ack").json()["acknowledged_at"]
        == r.json()["acknowledged_at"]
    )
    sdf_view = api.call("sdf", "GET", "/v1/conflicts?status=open").json()
    assert len(sdf_view) == 1 and sdf_view[0]["other_acknowledged"] is True
    assert api.call("saa", "GET", "/v1/conflicts?status=open").json() == []
    assert api.call("coalition", "POST", f"/v1/conflicts/{conflict['id']}/ack").status_code == 404
    assert api.call("saa", "GET", "/v1/conflicts?status=maybe").status_code == 422


def test_revise_with_if_match_and_cancel_resolve_conflicts(api: Api) -> None:
    setup_sides(api)
    a = api.declare("sdf", feature(square(40.20, 35.35), separation_m=5000))
    api.declare("saa", feature(square(40.24, 35.35)))
    path = f"/v1/declarations/{a['id']}"
    assert api.call("sdf", "PUT", path, json=feature(square(40.0, 35.0))).status_code == 428
    assert (
        api.call("sdf", "PUT", path, json=feature(square(40.0, 35.0)), headers={"If-Match": '"7"'}).status_code == 412
    )
    assert (
        api.call("saa", "PUT", path, json=feature(square(40.0, 35.0)), headers={"If-Match": '"1"'}).status_code == 404
    )  # saa may not see it: existence is secret
    r = api.call("sdf", "PUT", path, json=feature(square(40.0, 35.0), separation_m=5000), headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert r.json()["conflicts"] == []  # moved away
    saa = api.call("saa", "GET", "/v1/conflicts").json()
    assert [(c["status"], c["resolved_reason"]) for c in saa] == [("resolved", "updated")]
    r = api.call("sdf", "PUT", path, json=feature(square(40.21, 35.35), separation_m=5000), headers={"If-Match": '"2"'})
    assert len(r.json()["conflicts"]) == 1
    assert api.call("sdf", "DELETE", path).status_code == 204
    saa = api.call("saa", "GET", "/v1/conflicts").json()
    assert [(c["status"], c["resolved_reason"]) for c in saa] == [("resolved", "cancelled"), ("resolved", "updated")]
    got = api.call("sdf", "GET", path)
    assert got.status_code == 200 and got.json()["properties"]["status"] == "cancelled"
    assert api.call("sdf", "GET", "/v1/declarations").json()["features"] == []
    assert len(api.call("sdf", "GET", "/v1/declarations?status=all").json()["features"]) == 1


def test_list_filters_by_bbox_time_and_visibility(api: Api) -> None:
    setup_sides(api)
    api.declare("sdf", feature(square(40.2, 35.3)))
    api.declare("saa", feature(square(10.0, 10.0), audience=["sdf"]))
    across = {
        "type": "Polygon",
        "coordinates": [[[179.99, -0.01], [-179.99, -0.01], [-179.99, 0.01], [179.99, 0.01], [179.99, -0.01]]],
    }
    api.declare("russia", feature(across, audience="all"))  # straddles 180° without being cut
    api.declare("coalition", feature(square(20.0, 20.0)))  # audience conflicts: hidden from sdf

    def names(query: str) -> list[str]:
        r = api.call("sdf", "GET", "/v1/declarations" + query)
        assert r.status_code == 200, r.text
        return sorted(f["properties"]["party"] for f in r.json()["features"])

    assert names("") == ["russia", "saa", "sdf"]
    assert names("?bbox=40,35,41,36") == ["sdf"]
    assert names("?bbox=179,-1,-179,1") == ["russia"]  # a bbox across the antimeridian
    assert names("?bbox=-180,-1,-179.99,1") == ["russia"]
    assert names("?start=2017-09-21T00:00:00Z") == []
    assert names("?start=2017-09-10T00:00:00Z&end=2017-09-11T00:00:00Z") == ["russia", "saa", "sdf"]
    assert api.call("sdf", "GET", "/v1/declarations?bbox=1,2,3").status_code == 422
    assert names("?limit=2") == ["saa", "sdf"]


def test_suspended_party_reads_but_does_not_write_and_withdrawn_is_locked_out(api: Api) -> None:
    setup_sides(api)
    r = api.call("admin", "PATCH", "/v1/parties/saa", json={"status": "suspended"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    assert api.call("saa", "POST", "/v1/declarations", json=feature(square(1, 1))).status_code == 403
    assert api.call("saa", "GET", "/v1/declarations").status_code == 200
    api.call("admin", "PATCH", "/v1/parties/saa", json={"status": "withdrawn"})
    assert api.call("saa", "GET", "/v1/declarations").status_code == 403
    assert api.call("admin", "PATCH", "/v1/parties/saa", json={"status": "gone"}).status_code == 422
    assert api.call("admin", "PATCH", "/v1/parties/nobody", json={"status": "active"}).status_code == 404


def test_health_and_docs_answer(api: Api) -> None:
    # every endpoint in the OpenAPI document: tests/e2e/test_server_process.py, over real HTTP
    assert api.client.get("/healthz").json()["status"] == "ok"
    assert api.client.get("/docs").status_code == 200


def test_timed_routes_report_the_instant_of_closest_approach_to_both_sides(api: Api) -> None:
    api.add_party("sdf")
    api.add_party("saa")
    east = {"type": "LineString", "coordinates": [[40.0, 34.5], [41.0, 34.5]]}
    north = {"type": "LineString", "coordinates": [[40.5, 34.0], [40.5, 35.0]]}
    # shared with each other: a timed route hidden from the other party is compared hour by hour (concepts.md)
    times = ["2017-09-10T05:00:00Z", "2017-09-10T07:00:00Z"]
    api.declare("sdf", feature(east, kind="route", times=times, audience="all"))
    written = api.declare("saa", feature(north, kind="route", times=times, audience="all"))
    [mine] = written["conflicts"]
    assert mine["kind"] == "convergence"
    assert mine["time"]["start"] == mine["time"]["end"] and mine["time"]["start"].startswith("2017-09-10T06:0")
    [theirs] = api.call("sdf", "GET", "/v1/conflicts").json()  # read back from the store
    assert theirs["kind"] == "convergence" and theirs["time"] == mine["time"]


def test_control_characters_in_stored_text_are_422_on_both_backends(api: Api) -> None:
    """PostgreSQL's text cannot hold NUL: a name or URL carrying one must be refused, not turned into a 500."""
    api.add_party("sdf")
    r = api.call("admin", "POST", "/v1/parties", json={"id": "saa", "name": "S\x00AA"})
    assert r.status_code == 422 and r.json()["field"] == "name"
    r = api.call("sdf", "POST", "/v1/webhooks", json={"url": "https://example.org/\x00hook"})
    assert r.status_code == 422 and r.json()["field"] == "url"
    assert api.call("sdf", "GET", "/v1/webhooks").json() == []
    assert [p["id"] for p in api.call("sdf", "GET", "/v1/parties").json()] == ["sdf"]
