"""F3548-21 operational intent references and subscriptions through the HTTP API, in process, on both backends:
the key rule, states, implicit subscriptions, the subscribers to notify, and the standard's error cases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.config import Settings
from tests.conftest import BOTH_BACKENDS, Api, feature
from tests.integration.dss_harness import CMSA, CP, SC, Dss, serve_dss, volume

pytestmark = BOTH_BACKENDS


@pytest.fixture
def dss(tmp_path: Path, settings: Settings) -> Iterator[Dss]:
    yield from serve_dss(tmp_path, settings, (SC,))


def intent(
    *extents: dict[str, Any], key: list[str] | None = None, state: str = "Accepted", **more: Any
) -> dict[str, Any]:
    body = {"extents": list(extents), "key": key or [], "state": state, "uss_base_url": "https://uss.example",
            "new_subscription": {"uss_base_url": "https://uss.example"}}  # fmt: skip
    body.update(more)
    return body


def test_create_get_and_the_key_rule(dss: Dss) -> None:
    a_id, b_id = str(uuid.uuid4()), str(uuid.uuid4())
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{a_id}", json=intent(volume(35.0, 40.0)))
    assert r.status_code == 201, r.text
    a = r.json()["operational_intent_reference"]
    assert a["id"] == a_id and a["manager"] == "uss-a" and a["version"] == 1 and a["state"] == "Accepted"
    assert a["ovn"] and a["subscription_id"] and a["uss_availability"] == "Unknown"
    # uss-b intersects without a's OVN: 409 listing a (without its OVN: b does not manage it)
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{b_id}", json=intent(volume(35.001, 40.001)))
    assert r.status_code == 409, r.text
    missing = r.json()["missing_operational_intents"]
    assert [m["id"] for m in missing] == [a_id] and missing[0]["ovn"] == "Available from USS"
    # with it: created, and a's subscription is among those to notify
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{b_id}",
                 json=intent(volume(35.001, 40.001), key=[a["ovn"]]))  # fmt: skip
    assert r.status_code == 201, r.text
    notified = {s["subscription_id"] for group in r.json()["subscribers"] for s in group["subscriptions"]}
    assert a["subscription_id"] in notified
    # another USS reads a without its OVN
    got = dss.call("uss-b", "GET", f"/operational_intent_references/{a_id}").json()["operational_intent_reference"]
    assert got["ovn"] == "Available from USS" and got["id"] == a_id
    found = dss.call("uss-c", "POST", "/operational_intent_references/query",
                     json={"area_of_interest": volume(35.0, 40.0, 2000)}).json()  # fmt: skip
    assert {r["id"] for r in found["operational_intent_references"]} == {a_id, b_id}


def test_update_and_delete_by_ovn(dss: Dss) -> None:
    oi = str(uuid.uuid4())
    made = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", json=intent(volume(10.0, 10.0))).json()
    ovn = made["operational_intent_reference"]["ovn"]
    stale = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}/not-the-ovn-at-all",
                     json=intent(volume(10.0, 10.0), state="Activated"))  # fmt: skip
    assert stale.status_code == 409
    other = dss.call("uss-b", "PUT", f"/operational_intent_references/{oi}/{ovn}", json=intent(volume(10.0, 10.0)))
    assert other.status_code == 403
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}/{ovn}",
                 json=intent(volume(10.0, 10.0), state="Activated"))  # fmt: skip
    assert r.status_code == 200, r.text
    updated = r.json()["operational_intent_reference"]
    assert updated["version"] == 2 and updated["state"] == "Activated" and updated["ovn"] != ovn
    assert dss.call("uss-a", "DELETE", f"/operational_intent_references/{oi}/{ovn}").status_code == 409
    r = dss.call("uss-a", "DELETE", f"/operational_intent_references/{oi}/{updated['ovn']}")
    assert r.status_code == 200, r.text
    assert dss.call("uss-a", "GET", f"/operational_intent_references/{oi}").status_code == 404
    gone = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}/{updated['ovn']}",
                    json=intent(volume(10.0, 10.0)))  # fmt: skip
    assert gone.status_code == 400  # as the reference DSS (its NotFound is a 400 there); the table lists no 404
    # its implicit subscription went with it
    sub = updated["subscription_id"]
    assert dss.call("uss-a", "GET", f"/subscriptions/{sub}").status_code == 404


def test_errors_are_the_standards(dss: Dss) -> None:
    oi = str(uuid.uuid4())
    r = dss.client.get(f"/dss/v1/operational_intent_references/{oi}")
    assert r.status_code == 401 and "message" in r.json()
    r = dss.call("uss-a", "GET", f"/operational_intent_references/{oi}", scopes=(CP,))
    assert r.status_code == 403
    r = dss.call("uss-a", "PUT", "/operational_intent_references/not-a-uuid", json=intent(volume(1.0, 1.0)))
    assert r.status_code == 400 and "entityid" in r.json()["message"]
    bad = volume(1.0, 1.0)
    bad["volume"]["altitude_lower"]["reference"] = "SFC"
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", json=intent(bad))
    assert r.status_code == 400, r.text
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", content=b"{not json")
    assert r.status_code == 400


def test_subscriptions(dss: Dss) -> None:
    sub = str(uuid.uuid4())
    body = {"extents": volume(20.0, 20.0, 1000, 0, 60), "uss_base_url": "https://uss.example",
            "notify_for_operational_intents": True}  # fmt: skip
    r = dss.call("uss-a", "PUT", f"/subscriptions/{sub}", json=body)
    assert r.status_code == 200, r.text
    made = r.json()["subscription"]
    assert made["notification_index"] == 0 and made["version"]
    assert dss.call("uss-b", "GET", f"/subscriptions/{sub}").status_code == 403
    oi = str(uuid.uuid4())
    r = dss.call("uss-b", "PUT", f"/operational_intent_references/{oi}", json=intent(volume(20.0, 20.0)))
    assert r.status_code == 201, r.text
    mine = [s for g in r.json()["subscribers"] for s in g["subscriptions"] if s["subscription_id"] == sub]
    assert mine == [{"subscription_id": sub, "notification_index": 1}]
    assert dss.call("uss-a", "GET", f"/subscriptions/{sub}").json()["subscription"]["notification_index"] == 1
    stale = dss.call("uss-a", "PUT", f"/subscriptions/{sub}/wrong-version", json=body)
    assert stale.status_code == 409
    found = dss.call("uss-a", "POST", "/subscriptions/query", json={"area_of_interest": volume(20.0, 20.0)}).json()
    assert [s["id"] for s in found["subscriptions"]] == [sub]
    assert dss.call("uss-b", "POST", "/subscriptions/query", json={"area_of_interest": volume(20.0, 20.0)}).json()[
        "subscriptions"
    ] != [made]
    r = dss.call("uss-a", "DELETE", f"/subscriptions/{sub}/{made['version']}")
    assert r.status_code == 200, r.text


def test_one_engine_a_drone_near_a_notified_hospital_is_a_native_conflict(dss: Dss) -> None:
    """An intent's volumes are `flight` declarations of its USS's party: the hospital's party learns the conflict
    (not the drone's geometry) through the native API; two USSs' flights are deconflicted by the key rule, not
    by proximity."""
    native = Api(dss.client)
    native.add_party("msf", "Médecins Sans Frontières")
    now = datetime.now(UTC)
    since = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    point = {"type": "Point", "coordinates": [40.1405, 35.3352]}
    hospital = feature(point, kind="site", name="Al-Assad hospital", start=since, end=None, radius_m=100)
    native.declare("msf", hospital)
    near = volume(35.3352 + 0.004, 40.1405, 200)  # 445 m north: within flight/site's 500 m, circles 145 m apart
    oi = str(uuid.uuid4())
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", json=intent(near))
    assert r.status_code == 201, r.text
    conflicts = native.call("msf", "GET", "/v1/conflicts").json()
    assert len(conflicts) == 1
    c = conflicts[0]
    assert c["other_party"] == "uss-uss-a" and c["other_declaration"] is None
    # each side hidden from the other: compared as coverings at 1 km, the distance floored to 1 km
    assert c["required_m"] == 500 and c["distance_m"] == 0 and c["location_uncertainty_m"] > 0
    # the USS's party sees its own flight declaration, named after the intent
    uss_flights = dss.client.app.state.ctx.picture  # type: ignore[attr-defined]
    assert any(d.party == "uss-uss-a" and d.spec.kind.value == "flight" for d in uss_flights.declarations.values())
    # the intent deleted: the flight is cancelled and the hospital's conflict resolves
    ovn = r.json()["operational_intent_reference"]["ovn"]
    assert dss.call("uss-a", "DELETE", f"/operational_intent_references/{oi}/{ovn}").status_code == 200
    assert native.call("msf", "GET", "/v1/conflicts").json()[0]["status"] == "resolved"


def test_a_down_uss_may_not_plan_nominal_intents_nor_delete(dss: Dss) -> None:
    oi = str(uuid.uuid4())
    made = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", json=intent(volume(5.0, 5.0))).json()
    ovn = made["operational_intent_reference"]["ovn"]
    aa = ("utm.availability_arbitration",)
    status = dss.call("uss-arbiter", "GET", "/uss_availability/uss-a", scopes=aa).json()
    assert status == {"version": "", "status": {"uss": "uss-a", "availability": "Unknown"}}
    r = dss.call("uss-arbiter", "PUT", "/uss_availability/uss-a", scopes=aa,
                 json={"old_version": "", "availability": "Down"})  # fmt: skip
    assert r.status_code == 200, r.text
    stale = dss.call("uss-arbiter", "PUT", "/uss_availability/uss-a", scopes=aa,
                     json={"old_version": "", "availability": "Normal"})  # fmt: skip
    assert stale.status_code == 409
    got = dss.call("uss-b", "GET", f"/operational_intent_references/{oi}").json()["operational_intent_reference"]
    assert got["uss_availability"] == "Down"
    other = str(uuid.uuid4())
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{other}", json=intent(volume(6.0, 6.0)))
    assert r.status_code == 403 and "Down" in r.json()["message"]
    assert dss.call("uss-a", "DELETE", f"/operational_intent_references/{oi}/{ovn}").status_code == 403
    # an off-nominal state is still allowed: the USS can say its flight is Nonconforming
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}/{ovn}", scopes=(SC, CMSA),
                 json=intent(volume(5.0, 5.0), state="Nonconforming"))  # fmt: skip
    assert r.status_code == 200, r.text


def test_ended_entities_expire(dss: Dss) -> None:
    from deconfliction.services.dss_sweeper import sweep

    ctx = dss.client.app.state.ctx  # type: ignore[attr-defined]
    oi = str(uuid.uuid4())
    made = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", json=intent(volume(30.0, 30.0)))
    assert made.status_code == 201
    implicit = made.json()["operational_intent_reference"]["subscription_id"]
    sub = str(uuid.uuid4())
    body = {"extents": volume(30.0, 30.0, 1000, 0, 60), "uss_base_url": "https://uss.example",
            "notify_for_operational_intents": True}  # fmt: skip
    assert dss.call("uss-a", "PUT", f"/subscriptions/{sub}", json=body).status_code == 200
    assert sweep(ctx, retention_s=3600) == 0  # nothing has ended yet
    real = ctx.clock
    try:
        ctx.clock = lambda: real() + timedelta(hours=2)  # the subscription has ended; the intent ended 55 min ago
        assert sweep(ctx, retention_s=3600) == 1
        assert dss.call("uss-a", "GET", f"/subscriptions/{sub}").status_code == 404
        assert dss.call("uss-a", "GET", f"/operational_intent_references/{oi}").status_code == 200
        ctx.clock = lambda: real() + timedelta(hours=3)
        assert sweep(ctx, retention_s=3600) == 1
    finally:
        ctx.clock = real
    assert dss.call("uss-a", "GET", f"/operational_intent_references/{oi}").status_code == 404
    assert dss.call("uss-a", "GET", f"/subscriptions/{implicit}").status_code == 404
    assert not [d for d in ctx.picture.declarations.values() if d.party == "uss-uss-a"]  # its flights cancelled
    with ctx.store.read() as tx:
        assert tx.get_dss("oir", oi) is None


def test_an_intents_subscription_follows_it_and_is_let_go(dss: Dss) -> None:
    oi = str(uuid.uuid4())
    made = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}", json=intent(volume(40.0, 40.0)))
    ref = made.json()["operational_intent_reference"]
    implicit = ref["subscription_id"]
    # moved 50 km north naming its implicit subscription: the subscription is stretched to cover it (both places)
    moved = intent(volume(40.45, 40.0), subscription_id=implicit)
    del moved["new_subscription"]
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}/{ref['ovn']}", json=moved)
    assert r.status_code == 200, r.text
    ref = r.json()["operational_intent_reference"]
    assert ref["subscription_id"] == implicit
    for lat in (40.0, 40.45):
        found = dss.call("uss-a", "POST", "/subscriptions/query", json={"area_of_interest": volume(lat, 40.0)}).json()
        assert [s["id"] for s in found["subscriptions"]] == [implicit], lat
    # now an explicit subscription: the implicit one goes, the explicit one lists the intent as depending on it
    sub = str(uuid.uuid4())
    body = {"extents": volume(40.45, 40.0, 5000, 0, 120), "uss_base_url": "https://uss.example",
            "notify_for_operational_intents": True}  # fmt: skip
    explicit = dss.call("uss-a", "PUT", f"/subscriptions/{sub}", json=body).json()["subscription"]
    named = intent(volume(40.45, 40.0), subscription_id=sub)
    del named["new_subscription"]
    r = dss.call("uss-a", "PUT", f"/operational_intent_references/{oi}/{ref['ovn']}", json=named)
    assert r.status_code == 200, r.text
    assert dss.call("uss-a", "GET", f"/subscriptions/{implicit}").status_code == 404
    after = dss.call("uss-a", "GET", f"/subscriptions/{sub}").json()["subscription"]
    assert after["dependent_operational_intents"] == [oi]
    r = dss.call("uss-a", "DELETE", f"/subscriptions/{sub}/{after['version']}")
    assert r.status_code == 400 and oi in r.json()["message"]
    assert explicit["version"] == after["version"]  # the DSS's own bookkeeping is no change by the USS
