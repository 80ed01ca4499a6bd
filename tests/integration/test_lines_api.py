"""Agreed lines over HTTP, in process: propose, accept, reject, withdraw; line conflicts; signatures; the record;
need to know. The scenario's line: the Euphrates between sdf (north/east, on the left going downstream) and saa."""

from __future__ import annotations

from typing import Any

import pytest

from deconfliction.bootstrap import Wired
from deconfliction.domain.signing import Purpose, SigningKey, digest_of, new_salt
from deconfliction.services.events import events_after
from tests.conftest import Api, feature, square

EUPHRATES = [[39.01, 35.95], [39.66, 35.74], [40.14, 35.34], [40.43, 35.16], [40.45, 35.02], [40.59, 34.92],
             [40.92, 34.45]]  # fmt: skip
LINE = {"type": "LineString", "coordinates": EUPHRATES}
AIRPORT = (40.18, 35.28)  # Deir ez-Zor military airport: south-west of the river, saa's side, ~3.1 km from it
EAST_BANK = (40.30, 35.32)  # north-east of the river, sdf's side, ~6 km from it


def parties(api: Api, keys: dict[str, SigningKey] | None = None) -> None:
    keys = keys or {}
    for party in ("sdf", "saa", "coalition"):
        body: dict[str, Any] = {"id": party, "name": party.upper()}
        if party in keys:
            body["public_key"] = keys[party].public_key_b64
        r = api.call("admin", "POST", "/v1/parties", json=body)
        assert r.status_code == 201, r.text
        api.tokens[party] = r.json()["token"]


def propose(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"with": "saa", "geometry": LINE, "left": "sdf", "right": "saa", "tolerance_m": 500, **extra}
    r = api.call("sdf", "POST", "/v1/lines", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def accept(api: Api, line_id: str, **body: Any) -> dict[str, Any]:
    r = api.call("saa", "POST", f"/v1/lines/{line_id}/accept", json=body or None)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def line_conflicts(api: Api, party: str, status: str | None = None) -> list[dict[str, Any]]:
    params = {} if status is None else {"status": status}
    found = api.call(party, "GET", "/v1/conflicts", params=params).json()
    return [c for c in found if c["kind"] == "line"]


def ledger(api: Api) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = api.call("coalition", "GET", "/v1/ledger", params={"limit": 1000}).json()
    return entries


def test_a_proposed_line_binds_no_one_and_accepting_it_opens_a_conflict_for_both(api: Api, wired: Wired) -> None:
    parties(api)
    across = api.declare("sdf", feature(square(*AIRPORT, 0.005), name="Airport raid"))  # on saa's side
    own = api.declare("saa", feature(square(*AIRPORT, 0.005), name="Airport"))  # saa at home: never a line conflict
    api.declare("sdf", feature(square(*EAST_BANK, 0.01), name="East bank"))  # sdf at home
    line = propose(api)
    assert line["status"] == "proposed" and line["left"] == "sdf" and line["right"] == "saa"
    assert line["tolerance_m"] == 500 and line["geometry"] == LINE
    assert [e.type for e in events_after(wired.ctx, "saa", 0)][-1] == "line.proposed"
    assert line_conflicts(api, "sdf") == []  # only accepted lines bind
    accepted = accept(api, line["id"])
    assert accepted["status"] == "accepted" and accepted["answered_at"] is not None
    [for_saa] = accepted["conflicts"]  # the accepting party sees its side of what opened
    [mine] = line_conflicts(api, "sdf", "open")
    assert mine["declaration"] == across["id"] and mine["other_party"] == "saa"
    assert mine["other_declaration"] is None  # a line is no declaration
    assert mine["required_m"] == 500 and 3000 < mine["distance_m"] < 4000  # the square's far corner, ~3.6 km across
    [theirs] = line_conflicts(api, "saa", "open")
    assert theirs == for_saa
    assert theirs["declaration"] == f"line:{line['id']}" and theirs["other_party"] == "sdf"
    assert theirs["other_declaration"] is None  # sdf's raid is not shared with saa: no id, no geometry
    assert theirs["distance_m"] == mine["distance_m"]
    assert all(c["kind"] != "line" for c in own["conflicts"])
    for party in ("sdf", "saa"):
        assert "conflict.opened" in [e.type for e in events_after(wired.ctx, party, 0)]
    types = [e["type"] for e in ledger(api)]
    assert types.index("line.proposed") < types.index("line.accepted") < len(types) - 1
    assert types[-1] == "conflict.opened"


def test_rejecting_binds_no_one_and_a_rejected_line_cannot_be_accepted(api: Api) -> None:
    parties(api)
    api.declare("sdf", feature(square(*AIRPORT, 0.005)))
    line = propose(api)
    assert api.call("sdf", "POST", f"/v1/lines/{line['id']}/accept").status_code == 403  # not the proposer's to answer
    r = api.call("saa", "POST", f"/v1/lines/{line['id']}/reject")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert api.call("saa", "POST", f"/v1/lines/{line['id']}/accept").status_code == 409
    assert api.call("sdf", "DELETE", f"/v1/lines/{line['id']}").status_code == 409
    assert line_conflicts(api, "sdf") == []
    assert "line.rejected" in [e["type"] for e in ledger(api)]


def test_withdrawing_an_accepted_line_resolves_its_conflicts(api: Api, wired: Wired) -> None:
    parties(api)
    api.declare("sdf", feature(square(*AIRPORT, 0.005)))
    line = propose(api)
    accept(api, line["id"])
    assert len(line_conflicts(api, "saa", "open")) == 1
    assert api.call("saa", "DELETE", f"/v1/lines/{line['id']}").status_code == 204  # either party may withdraw
    seen = api.call("sdf", "GET", f"/v1/lines/{line['id']}").json()
    assert seen["status"] == "withdrawn" and seen["withdrawn_by"] == "saa"
    for party in ("sdf", "saa"):
        assert line_conflicts(api, party, "open") == []
        [resolved] = line_conflicts(api, party, "resolved")
        assert resolved["resolved_reason"] == "line_ended"
        assert [e.type for e in events_after(wired.ctx, party, 0)][-1] == "conflict.resolved"
    assert [e.type for e in events_after(wired.ctx, "sdf", 0)][-2] == "line.withdrawn"
    assert api.call("sdf", "DELETE", f"/v1/lines/{line['id']}").status_code == 204  # again: nothing changes
    assert [e["type"] for e in ledger(api)].count("line.withdrawn") == 1


def test_a_third_party_sees_nothing_of_a_line(api: Api) -> None:
    parties(api)
    line = propose(api)
    assert api.call("coalition", "GET", f"/v1/lines/{line['id']}").status_code == 404
    assert api.call("coalition", "GET", "/v1/lines").json() == []
    assert api.call("coalition", "POST", f"/v1/lines/{line['id']}/accept").status_code == 404
    assert api.call("coalition", "DELETE", f"/v1/lines/{line['id']}").status_code == 404
    assert api.call("admin", "GET", "/v1/lines").status_code == 403
    for party in ("sdf", "saa"):
        assert [x["id"] for x in api.call(party, "GET", "/v1/lines").json()] == [line["id"]]
    assert api.call("saa", "GET", "/v1/lines", params={"status": "accepted"}).json() == []
    entry = next(e for e in ledger(api) if e["type"] == "line.proposed")
    assert entry["subject"] == [line["id"]] and entry["digest"] == line["digest"]
    assert "40.14" not in str(entry)  # the record holds the salted digest, never the geometry


def test_signed_proposal_and_acceptance_are_recorded_and_forgeries_refused(api: Api) -> None:
    keys = {"sdf": SigningKey.generate(), "saa": SigningKey.generate()}
    parties(api, keys)
    salt = new_salt()
    content = {"id": "euphrates", "salt": salt, "proposer": "sdf", "with": "saa", "geometry": LINE, "left": "sdf",
               "right": "saa", "tolerance_m": 500}  # fmt: skip
    digest = digest_of(content)
    forged = SigningKey.generate().sign(Purpose.MESSAGE, digest)
    body = {"with": "saa", "geometry": LINE, "left": "sdf", "right": "saa", "tolerance_m": 500, "id": "euphrates"}
    r = api.call("sdf", "POST", "/v1/lines", json={**body, "salt": salt, "signature": forged})
    assert r.status_code == 422 and r.json()["field"] == "signature"
    r = api.call("sdf", "POST", "/v1/lines", json={**body, "signature": keys["sdf"].sign(Purpose.MESSAGE, digest)})
    assert r.status_code == 422 and r.json()["field"] == "salt"  # the digest covers a salt the client must choose
    line = propose(api, id="euphrates", salt=salt, signature=keys["sdf"].sign(Purpose.MESSAGE, digest))
    assert line["digest"] == digest and line["proposal_signature"] is not None
    assert api.call("sdf", "POST", "/v1/lines", json={**body, "salt": salt}).status_code == 409  # the id is taken
    replayed = api.call("saa", "POST", "/v1/lines/euphrates/accept", json={"signature": line["proposal_signature"]})
    assert replayed.status_code == 422  # a proposal's signature is no acceptance
    receipt = api.call(
        "saa", "POST", "/v1/lines/euphrates/accept", json={"signature": keys["saa"].sign(Purpose.ACK, digest)}
    )
    assert receipt.status_code == 422  # a receipt is no agreement: accepting a line signs with the "agree" purpose
    accepted = accept(api, "euphrates", signature=keys["saa"].sign(Purpose.AGREE, digest))
    assert accepted["answer_signature"] is not None
    entries = {e["type"]: e for e in ledger(api)}
    assert entries["line.proposed"]["party_signature"]["purpose"] == "message"
    assert entries["line.accepted"]["party_signature"]["party"] == "saa"
    assert entries["line.accepted"]["party_signature"]["purpose"] == "agree"
    assert entries["line.accepted"]["digest"] == digest


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"with": None}, "with"),
        ({"with": "sdf"}, "with"),
        ({"with": "unhcr", "right": "unhcr"}, "with"),
        ({"geometry": {"type": "Polygon", "coordinates": [[*EUPHRATES, EUPHRATES[0]]]}}, "geometry.type"),
        ({"geometry": {"type": "LineString", "coordinates": [[40.0, 35.0], [190.0, 35.0]]}}, "geometry.coordinates[1]"),
        ({"geometry": {"type": "LineString", "coordinates": [[40.0, 35.0]]}}, "geometry.coordinates"),
        ({"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 0], [1, 1], [0.5, -1]]}},
         "geometry.coordinates"),
        ({"left": "coalition"}, "left"),
        ({"left": "saa", "right": "saa"}, "right"),
        ({"left": None, "right": None}, "left"),
        ({"tolerance_m": -1}, "tolerance_m"),
        ({"tolerance_m": 1e9}, "tolerance_m"),
        ({"tolerance_m": "500"}, "tolerance_m"),
        ({"colour": "red"}, "colour"),
        ({"id": "no spaces"}, "id"),
    ],
)  # fmt: skip
def test_bad_proposals_are_422_naming_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    parties(api)
    body = {"with": "saa", "geometry": LINE, "left": "sdf", "right": "saa", "tolerance_m": 500}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    r = api.call("sdf", "POST", "/v1/lines", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert r.headers["content-type"] == "application/problem+json"


def test_one_side_named_is_enough(api: Api) -> None:
    parties(api)
    r = api.call("sdf", "POST", "/v1/lines", json={"with": "saa", "geometry": LINE, "right": "saa"})
    assert r.status_code == 201, r.text
    assert (r.json()["left"], r.json()["right"], r.json()["tolerance_m"]) == ("sdf", "saa", 0)


def test_a_declaration_written_across_an_accepted_line_conflicts_until_revised_back(api: Api) -> None:
    parties(api)
    line = propose(api)
    accept(api, line["id"])
    home = api.declare("sdf", feature(square(*EAST_BANK, 0.01)))
    assert [c for c in home["conflicts"] if c["kind"] == "line"] == []
    written = api.declare("sdf", feature(square(*AIRPORT, 0.005), radius_m=100))
    [conflict] = [c for c in written["conflicts"] if c["kind"] == "line"]
    assert conflict["other_party"] == "saa" and conflict["distance_m"] > 3500  # the radius counts
    assert len(line_conflicts(api, "saa", "open")) == 1
    back = feature(square(*EAST_BANK, 0.005))
    r = api.call("sdf", "PUT", f"/v1/declarations/{written['id']}", json=back, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert line_conflicts(api, "saa", "open") == []
    [resolved] = line_conflicts(api, "saa", "resolved")
    assert resolved["resolved_reason"] == "updated"
