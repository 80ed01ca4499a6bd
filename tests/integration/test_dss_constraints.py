"""F3548-21 constraint references through the HTTP API, in process, on both backends: create, update and delete by
OVN, get, query; the OVN only to the manager; scopes; the constraint limits; the subscribers a change obliges its
writer to notify; and the key rule for intents whose subscription hears of constraints."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deconfliction.adapters.f3548_tokens import party_id_for
from deconfliction.config import Settings
from deconfliction.services import ledger
from tests.conftest import BOTH_BACKENDS
from tests.integration.dss_harness import CM, CMSA, CP, SC, Dss, band_and_times, serve_dss, volume

pytestmark = BOTH_BACKENDS


@pytest.fixture
def dss(tmp_path: Path, settings: Settings) -> Iterator[Dss]:
    yield from serve_dss(tmp_path, settings, (CM,))


def polygon(lat: float, lng: float, vertices: int, radius_m: float = 2000) -> dict[str, Any]:
    """A regular polygon of `vertices` vertices around (lat, lng)."""
    dlat = radius_m / 111_320
    dlng = dlat / math.cos(math.radians(lat))
    ring = [
        {
            "lat": lat + dlat * math.sin(2 * math.pi * i / vertices),
            "lng": lng + dlng * math.cos(2 * math.pi * i / vertices),
        }
        for i in range(vertices)
    ]
    more = band_and_times(5, 65)
    v3 = {"outline_polygon": {"vertices": ring},
          "altitude_lower": more.pop("altitude_lower"), "altitude_upper": more.pop("altitude_upper")}  # fmt: skip
    return {"volume": v3, **more}


def constraint(*extents: dict[str, Any], url: str = "https://cm.example") -> dict[str, Any]:
    return {"extents": list(extents), "uss_base_url": url}


def intent(
    *extents: dict[str, Any], key: list[str] | None = None, constraints: bool = False, sub: str | None = None
) -> dict[str, Any]:
    """An Accepted intent with a new implicit subscription (hearing of constraints or not), or with `sub`."""
    body: dict[str, Any] = {"extents": list(extents), "key": key or [], "state": "Accepted",
                            "uss_base_url": "https://uss.example"}  # fmt: skip
    if sub is not None:
        body["subscription_id"] = sub
    else:
        body["new_subscription"] = {"uss_base_url": "https://uss.example", "notify_for_constraints": constraints}
    return body


def notified(answer: dict[str, Any]) -> dict[str, int]:
    """subscription id → notification index, of the subscribers in a Change…Response."""
    return {s["subscription_id"]: s["notification_index"] for g in answer["subscribers"] for s in g["subscriptions"]}


def test_create_get_query_update_delete(dss: Dss) -> None:
    cid = str(uuid.uuid4())
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}", json=constraint(volume(30.0, 30.0)))
    assert r.status_code == 201, r.text
    made = r.json()["constraint_reference"]
    assert made["id"] == cid and made["manager"] == "cm-a" and made["version"] == 1
    assert made["ovn"] and made["uss_base_url"] == "https://cm.example" and made["uss_availability"] == "Unknown"
    assert set(made) == {"id", "manager", "uss_availability", "version", "ovn", "time_start", "time_end",
                         "uss_base_url"}  # fmt: skip
    assert made["time_start"]["format"] == "RFC3339" and made["time_end"]["value"].endswith("Z")
    assert r.json()["subscribers"] == []
    # the manager reads its OVN; a constraint processor (another USS) does not
    mine = dss.call("cm-a", "GET", f"/constraint_references/{cid}").json()["constraint_reference"]
    assert mine == made
    other = dss.call("cp-b", "GET", f"/constraint_references/{cid}", scopes=(CP,))
    assert other.status_code == 200, other.text
    assert (
        other.json()["constraint_reference"]["ovn"] == "Available from USS"
        and other.json()["constraint_reference"]["id"] == cid
    )
    found = dss.call("cp-b", "POST", "/constraint_references/query", scopes=(CP,),
                     json={"area_of_interest": volume(30.0, 30.0, 2000)}).json()  # fmt: skip
    assert [c["id"] for c in found["constraint_references"]] == [cid] and found["constraint_references"][0][
        "ovn"
    ] == "Available from USS"
    found = dss.call("cm-a", "POST", "/constraint_references/query",
                     json={"area_of_interest": volume(30.0, 30.0, 2000)}).json()  # fmt: skip
    assert found["constraint_references"][0]["ovn"] == made["ovn"]
    far = dss.call("cm-a", "POST", "/constraint_references/query", json={"area_of_interest": volume(-30.0, 30.0)})
    assert far.json() == {"constraint_references": []}
    # update: a new version and a new OVN, moved
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{made['ovn']}",
                 json=constraint(volume(30.5, 30.0), url="https://cm2.example"))  # fmt: skip
    assert r.status_code == 200, r.text
    updated = r.json()["constraint_reference"]
    assert updated["version"] == 2 and updated["ovn"] != made["ovn"]
    assert updated["uss_base_url"] == "https://cm2.example"
    moved = dss.call("cm-a", "POST", "/constraint_references/query", json={"area_of_interest": volume(30.0, 30.0)})
    assert moved.json()["constraint_references"] == []
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{updated['ovn']}", json=constraint(volume(30.5, 30.0)))
    assert r.status_code == 200 and r.json()["constraint_reference"]["version"] == 3
    last = r.json()["constraint_reference"]
    # delete by the current OVN answers the reference as it was
    r = dss.call("cm-a", "DELETE", f"/constraint_references/{cid}/{last['ovn']}")
    assert r.status_code == 200, r.text
    assert r.json()["constraint_reference"] == last and r.json()["subscribers"] == []
    assert dss.call("cm-a", "GET", f"/constraint_references/{cid}").status_code == 404
    # the record
    entries = [e for e in ledger.entries_after(dss.ctx, 0, 1000) if e["type"].startswith("dss.constraint_")]
    assert [(e["type"], e["subject"]) for e in entries] == [
        ("dss.constraint_created", [cid]),
        ("dss.constraint_updated", [cid]),
        ("dss.constraint_updated", [cid]),
        ("dss.constraint_deleted", [cid]),
    ]
    assert {e["actor"] for e in entries} == {party_id_for("cm-a")}
    assert [e["detail"].get("version") for e in entries] == [1, 2, 3, None]


def test_not_found_forbidden_and_version_conflicts(dss: Dss) -> None:
    cid, missing = str(uuid.uuid4()), str(uuid.uuid4())
    made = dss.call("cm-a", "PUT", f"/constraint_references/{cid}", json=constraint(volume(31.0, 31.0))).json()
    ovn = made["constraint_reference"]["ovn"]
    body = constraint(volume(31.0, 31.0))
    # create again: 409 (already exists)
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}", json=body)
    assert r.status_code == 409 and "message" in r.json()
    # another manager: 403 on update and delete, whatever the OVN
    assert dss.call("cm-b", "PUT", f"/constraint_references/{cid}/{ovn}", json=body).status_code == 403
    assert dss.call("cm-b", "DELETE", f"/constraint_references/{cid}/{ovn}").status_code == 403
    # an OVN that is not the current one: 409
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/not-the-current-ovn", json=body)
    assert r.status_code == 409 and "message" in r.json()
    assert dss.call("cm-a", "DELETE", f"/constraint_references/{cid}/not-the-current-ovn").status_code == 409
    # missing: 404 — but 409 for an update, whose table in the standard lists no 404 (as the reference DSS)
    assert dss.call("cm-a", "GET", f"/constraint_references/{missing}").status_code == 404
    assert dss.call("cm-a", "PUT", f"/constraint_references/{missing}/{ovn}", json=body).status_code == 409
    assert dss.call("cm-a", "DELETE", f"/constraint_references/{missing}/{ovn}").status_code == 404
    # an old OVN after an update: 409
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{ovn}", json=body)
    assert r.status_code == 200, r.text
    assert dss.call("cm-a", "DELETE", f"/constraint_references/{cid}/{ovn}").status_code == 409
    # nothing of the refused writes stuck
    got = dss.call("cm-a", "GET", f"/constraint_references/{cid}").json()["constraint_reference"]
    assert got["version"] == 2 and got["manager"] == "cm-a"


def test_scopes(dss: Dss) -> None:
    cid = str(uuid.uuid4())
    body = constraint(volume(32.0, 32.0))
    area = {"area_of_interest": volume(32.0, 32.0)}
    r = dss.client.put(f"/dss/v1/constraint_references/{cid}", json=body)
    assert r.status_code == 401 and "message" in r.json()
    # writes need utm.constraint_management: a strategic coordinator, a processor, a monitor get 403
    for scopes in ((SC,), (CP,), (CMSA,), (SC, CP)):
        r = dss.call("uss-x", "PUT", f"/constraint_references/{cid}", scopes=scopes, json=body)
        assert r.status_code == 403 and "message" in r.json(), scopes
    made = dss.call("cm-a", "PUT", f"/constraint_references/{cid}", json=body).json()["constraint_reference"]
    for method, path in (("PUT", f"/{cid}/{made['ovn']}"), ("DELETE", f"/{cid}/{made['ovn']}")):
        r = dss.call("cm-a", method, f"/constraint_references{path}", scopes=(SC,),
                     json=body if method == "PUT" else None)  # fmt: skip
        assert r.status_code == 403, (method, r.text)
    # reads: constraint management or constraint processing, nothing else
    for scopes, status in (((CM,), 200), ((CP,), 200), ((SC,), 403), ((CMSA,), 403)):
        assert dss.call("uss-x", "GET", f"/constraint_references/{cid}", scopes=scopes).status_code == status
        r = dss.call("uss-x", "POST", "/constraint_references/query", scopes=scopes, json=area)
        assert r.status_code == status, (scopes, r.text)
    # the refused writes changed nothing
    assert dss.call("cm-a", "GET", f"/constraint_references/{cid}").json()["constraint_reference"]["version"] == 1


def test_invalid_requests(dss: Dss) -> None:
    cid = str(uuid.uuid4())
    path = f"/constraint_references/{cid}"

    def status(body: Any, target: str = path) -> int:
        r = dss.call("cm-a", "PUT", target, json=body)
        assert "message" in r.json(), r.text
        return int(r.status_code)

    assert status(constraint(volume(33.0, 33.0)), "/constraint_references/not-a-uuid") == 400
    assert status({"uss_base_url": "https://cm.example"}) == 400  # no extents
    assert status(constraint()) == 400  # empty extents
    assert status({"extents": [volume(33.0, 33.0)]}) == 400  # no uss_base_url
    assert status(constraint(volume(33.0, 33.0), url="http://cm.example")) == 400  # not https
    assert status([constraint(volume(33.0, 33.0))]) == 400  # not an object
    untimed = volume(33.0, 33.0)
    del untimed["time_end"]
    assert status(constraint(untimed)) == 400
    unbounded = volume(33.0, 33.0)
    del unbounded["volume"]["altitude_upper"]
    assert status(constraint(unbounded)) == 400
    assert status(constraint(volume(33.0, 33.0, start_min=-120, end_min=-60))) == 400  # ended
    assert status(constraint(volume(33.0, 33.0, end_min=25 * 60))) == 400  # longer than CstrMaxDurationHours
    # CstrMaxVertices (1000) counts the vertices of all volumes together
    assert status(constraint(polygon(33.0, 33.0, 1001))) == 400
    assert status(constraint(polygon(33.0, 33.0, 600), polygon(33.1, 33.0, 401))) == 400
    r = dss.call("cm-a", "PUT", path, json=constraint(polygon(33.0, 33.0, 1000)))
    assert r.status_code == 201, r.text
    # an intent may have more (OiMaxVertices is 10 000)
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{uuid.uuid4()}", scopes=(SC,),
                 json=intent(polygon(34.0, 34.0, 1001)))  # fmt: skip
    assert r.status_code == 201, r.text
    # the refused ones left nothing behind; the query needs an area of interest
    assert dss.call("cm-a", "GET", "/constraint_references/not-a-uuid").status_code == 400
    for body in ({}, {"area_of_interest": None}, {"area_of_interest": {"volume": {}}}, []):
        r = dss.call("cm-a", "POST", "/constraint_references/query", json=body)
        assert r.status_code == 400, (body, r.text)
    found = dss.call("cm-a", "POST", "/constraint_references/query", json={"area_of_interest": volume(33.0, 33.0)})
    assert [c["id"] for c in found.json()["constraint_references"]] == [cid]


def test_subscribers_of_a_constraint_change(dss: Dss) -> None:
    hears, deaf = str(uuid.uuid4()), str(uuid.uuid4())
    for sub, uss, scopes, flags in (
        (hears, "cp-b", (CP,), {"notify_for_constraints": True}),
        (deaf, "sc-c", (SC,), {"notify_for_operational_intents": True}),
    ):
        r = dss.call(uss, "PUT", f"/subscriptions/{sub}", scopes=scopes,
                     json={"extents": volume(35.0, 35.0, 3000, 0, 120), "uss_base_url": f"https://{uss}.example",
                           **flags})  # fmt: skip
        assert r.status_code == 200, r.text
    cid = str(uuid.uuid4())
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}", json=constraint(volume(35.0, 35.0)))
    assert r.status_code == 201, r.text
    assert r.json()["subscribers"] == [
        {"uss_base_url": "https://cp-b.example", "subscriptions": [{"subscription_id": hears, "notification_index": 1}]}
    ]
    ovn = r.json()["constraint_reference"]["ovn"]
    # moved away: the subscription that heard of it where it was hears of it again
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{ovn}", json=constraint(volume(-35.0, 35.0)))
    assert r.status_code == 200, r.text
    assert notified(r.json()) == {hears: 2}
    ovn = r.json()["constraint_reference"]["ovn"]
    # elsewhere now: a change there notifies no one
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{ovn}", json=constraint(volume(-35.0, 35.0)))
    assert notified(r.json()) == {}
    ovn = r.json()["constraint_reference"]["ovn"]
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{ovn}", json=constraint(volume(35.0, 35.0)))
    assert notified(r.json()) == {hears: 3}
    r = dss.call("cm-a", "DELETE", f"/constraint_references/{cid}/{r.json()['constraint_reference']['ovn']}")
    assert r.status_code == 200 and notified(r.json()) == {hears: 4}
    kept = {sub: dss.call(uss, "GET", f"/subscriptions/{sub}", scopes=(scope,)).json()["subscription"]
            for sub, uss, scope in ((hears, "cp-b", CP), (deaf, "sc-c", SC))}  # fmt: skip
    assert kept[hears]["notification_index"] == 4 and kept[deaf]["notification_index"] == 0
    # a subscription made while a constraint lies there is answered with it
    again = str(uuid.uuid4())
    made = dss.call("cm-a", "PUT", f"/constraint_references/{again}", json=constraint(volume(35.0, 35.0))).json()
    r = dss.call("cp-b", "PUT", f"/subscriptions/{uuid.uuid4()}", scopes=(CP,),
                 json={"extents": volume(35.0, 35.0, 3000, 0, 120), "uss_base_url": "https://cp-b.example",
                       "notify_for_constraints": True})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["constraint_references"]] == [made["constraint_reference"]["id"]]


def test_the_key_rule_for_intents_that_hear_of_constraints(dss: Dss) -> None:
    cid = str(uuid.uuid4())
    where = volume(36.0, 36.0)  # the same times throughout: the intent's implicit subscription covers exactly these
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}", json=constraint(volume(36.0, 36.0)))
    assert r.status_code == 201, r.text
    c_ovn = r.json()["constraint_reference"]["ovn"]
    oi = str(uuid.uuid4())
    # hearing of constraints needs no scope of its own (as the reference DSS); the key must then hold the
    # constraint's OVN: 409 naming it (with the placeholder for its OVN: uss-b does not manage it)
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{oi}", scopes=(SC,),
                 json=intent(where, constraints=True))  # fmt: skip
    assert r.status_code == 409, r.text
    answer = r.json()
    assert [c["id"] for c in answer["missing_constraints"]] == [cid] and answer["missing_constraints"][0][
        "ovn"
    ] == "Available from USS"
    assert answer["missing_constraints"][0]["manager"] == "cm-a" and answer["missing_operational_intents"] == []
    assert dss.call("uss-b", "GET", f"/operational_intent_references/{oi}", scopes=(SC,)).status_code == 404
    # with the constraint's OVN (from its manager) in the key: created
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{oi}", scopes=(SC, CP),
                 json=intent(where, key=[c_ovn], constraints=True))  # fmt: skip
    assert r.status_code == 201, r.text
    oi_ref = r.json()["operational_intent_reference"]
    # the intent's implicit subscription now hears of the constraint's changes (its index already counts the intent)
    sub = oi_ref["subscription_id"]
    before = dss.call("uss-b", "GET", f"/subscriptions/{sub}", scopes=(SC,)).json()["subscription"]
    assert before["notify_for_constraints"] is True and before["implicit_subscription"] is True
    r = dss.call("cm-a", "PUT", f"/constraint_references/{cid}/{c_ovn}", json=constraint(volume(36.0, 36.0)))
    assert r.status_code == 200, r.text
    assert notified(r.json()) == {sub: before["notification_index"] + 1}
    new_c_ovn = r.json()["constraint_reference"]["ovn"]
    # the old OVN no longer does for the intent's update (keeping its subscription)
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{oi}/{oi_ref['ovn']}", scopes=(SC, CP),
                 json=intent(where, key=[c_ovn], sub=sub))  # fmt: skip
    assert r.status_code == 409, r.text
    assert [c["id"] for c in r.json()["missing_constraints"]] == [cid]
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{oi}/{oi_ref['ovn']}", scopes=(SC, CP),
                 json=intent(where, key=[new_c_ovn], sub=sub))  # fmt: skip
    assert r.status_code == 200, r.text
    # an intent whose subscription does not hear of constraints needs no constraint OVN
    oi_ovn = r.json()["operational_intent_reference"]["ovn"]
    r = dss.call("uss-c", "PUT", f"/operational_intent_references/{uuid.uuid4()}", scopes=(SC,),
                 json=intent(volume(36.0, 36.0, 100), key=[oi_ovn]))  # fmt: skip
    assert r.status_code == 201, r.text
