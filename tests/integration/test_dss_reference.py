"""Where F3548-21 leaves room, the DSS behaves as the reference DSS (interuss/dss) and InterUSS's prober expect;
in process, on both backends. Each test names the prober test or the reference behaviour it pins (docs/f3548.md).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.config import Settings
from tests.conftest import BOTH_BACKENDS
from tests.integration.dss_harness import CM, CMSA, CP, SC, Dss, serve_dss, t, volume

pytestmark = BOTH_BACKENDS
OIR = "/operational_intent_references"
NULL_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def dss(tmp_path: Path, settings: Settings) -> Iterator[Dss]:
    yield from serve_dss(tmp_path, settings, (SC, CM, CP, CMSA))


def intent(*extents: dict[str, Any], key: list[str] | None = None, **more: Any) -> dict[str, Any]:
    body = {"extents": list(extents), "key": key or [], "state": "Accepted", "uss_base_url": "https://uss.example",
            "new_subscription": {"uss_base_url": "https://uss.example"}}  # fmt: skip
    body.update(more)
    return body


def make(dss: Dss, uss: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = dss.call(uss, "PUT", f"{OIR}/{uuid.uuid4()}", json=body)
    assert r.status_code == status, r.text
    return dict(r.json())


def area(start: datetime | None, end: datetime | None, lat: float = 10.0, lng: float = 10.0) -> dict[str, Any]:
    aoi = volume(lat, lng)
    for name, at in (("time_start", start), ("time_end", end)):
        if at is None:
            del aoi[name]
        else:
            aoi[name] = t(at)
    return {"area_of_interest": aoi}


@pytest.mark.parametrize("path", [f"{OIR}/query", "/constraint_references/query", "/subscriptions/query"])
def test_a_query_of_an_instant_or_of_the_past_is_answered(dss: Dss, path: str) -> None:
    """Was a 500 (an empty window given to the index): prober test_constraint_does_not_exist_query and
    test_get_sub_by_search query from now to now; test_get_constraint_by_search_latest_time_excluded up to a minute
    ago with no start."""
    now = datetime.now(UTC)
    for start, end in ((now, now), (None, now - timedelta(minutes=1)), (None, now), (now, None)):
        r = dss.call("uss-a", "POST", path, json=area(start, end))
        assert r.status_code == 200, (start, end, r.text)


def test_intents_meet_by_their_union_extents(dss: Dss) -> None:
    """As the reference keeps one 4D extent per intent: a volume high early and one low late meet another's volume
    low early (prober test_missing_conflicted_operation)."""
    high_early = volume(20.0, 20.0, start_min=5, end_min=30)
    high_early["volume"]["altitude_lower"]["value"], high_early["volume"]["altitude_upper"]["value"] = 500, 600
    low_late = volume(20.0, 20.02, start_min=40, end_min=60)
    make(dss, "uss-a", intent(high_early, low_late))
    low_early = volume(20.0, 20.0, start_min=5, end_min=30)  # meets neither volume alone, but the union
    r = dss.call("uss-b", "PUT", f"{OIR}/{uuid.uuid4()}", json=intent(low_early))
    assert r.status_code == 409, r.text


def test_an_implicit_subscription_named_again_is_stretched_an_explicit_one_must_cover(dss: Dss) -> None:
    """Prober test_mutate_op / test_mutate_ops: an intent updated later, naming its implicit subscription."""
    made = make(dss, "uss-a", intent(volume(30.0, 30.0, start_min=5, end_min=65)))
    ref = made["operational_intent_reference"]
    later = intent(volume(30.0, 30.0, start_min=70, end_min=130), subscription_id=ref["subscription_id"])
    del later["new_subscription"]
    r = dss.call("uss-a", "PUT", f"{OIR}/{ref['id']}/{ref['ovn']}", json=later)
    assert r.status_code == 200, r.text
    sub = dss.call("uss-a", "GET", f"/subscriptions/{ref['subscription_id']}").json()["subscription"]
    assert sub["time_start"]["value"] <= volume(0, 0, start_min=5)["time_start"]["value"]
    assert sub["time_end"]["value"] >= later["extents"][0]["time_end"]["value"]
    explicit = str(uuid.uuid4())
    body = {"extents": volume(30.0, 30.0, radius_m=100, start_min=0, end_min=200), "uss_base_url": "https://u.example",
            "notify_for_operational_intents": True}  # fmt: skip
    assert dss.call("uss-a", "PUT", f"/subscriptions/{explicit}", json=body).status_code == 200
    ovn = r.json()["operational_intent_reference"]["ovn"]
    named = {**later, "subscription_id": explicit}  # a 100 m subscription does not cover a 500 m intent
    r = dss.call("uss-a", "PUT", f"{OIR}/{ref['id']}/{ovn}", json=named)
    assert r.status_code == 400 and "footprint" in r.json()["message"], r.text
    r = dss.call("uss-a", "PUT", f"{OIR}/{ref['id']}/{ovn}", json={**later, "subscription_id": str(uuid.uuid4())})
    assert r.status_code == 400, r.text  # a subscription that does not exist: 400, as the reference
    both = {**later, "new_subscription": {"uss_base_url": "https://uss.example"}}
    r = dss.call("uss-a", "PUT", f"{OIR}/{ref['id']}/{ovn}", json=both)
    assert r.status_code == 400 and r.json()["message"].startswith("give subscription_id or new_subscription")


def test_an_update_naming_no_subscription_drops_the_implicit_one(dss: Dss) -> None:
    made = make(dss, "uss-a", intent(volume(31.0, 31.0)))
    ref = made["operational_intent_reference"]
    bare = intent(volume(31.0, 31.0))
    del bare["new_subscription"]
    r = dss.call("uss-a", "PUT", f"{OIR}/{ref['id']}/{ref['ovn']}", json=bare)
    assert r.status_code == 200, r.text
    assert r.json()["operational_intent_reference"]["subscription_id"] == NULL_UUID  # the reference's placeholder
    assert dss.call("uss-a", "GET", f"/subscriptions/{ref['subscription_id']}").status_code == 404


def test_a_subscription_update_makes_it_explicit_and_must_cover_its_intents(dss: Dss) -> None:
    """Prober test_subscription_update_validation: shrinking below a dependent intent is 400; an update that
    still covers it is 200, and the subscription then outlives the intent (test_delete_sub)."""
    made = make(dss, "uss-a", intent(volume(32.0, 32.0, radius_m=500)))
    ref = made["operational_intent_reference"]
    sub_path = f"/subscriptions/{ref['subscription_id']}"
    version = dss.call("uss-a", "GET", sub_path).json()["subscription"]["version"]

    def update(extents: dict[str, Any]) -> Any:
        body = {"extents": extents, "uss_base_url": "https://uss.example", "notify_for_operational_intents": True,
                "notify_for_constraints": True}  # fmt: skip
        return dss.call("uss-a", "PUT", f"{sub_path}/{version}", json=body)

    assert update(volume(32.0, 32.0, radius_m=50)).status_code == 400  # footprint
    assert update(volume(32.0, 32.0, start_min=5, end_min=30)).status_code == 400  # end
    assert update(volume(32.0, 32.0, start_min=15, end_min=65)).status_code == 400  # start, beyond 5 minutes' lag
    r = update(volume(32.0, 32.0, radius_m=600, start_min=5, end_min=65))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["subscription"]["implicit_subscription"] is False and "constraint_references" in answer
    assert dss.call("uss-a", "DELETE", f"{OIR}/{ref['id']}/{ref['ovn']}").status_code == 200
    assert dss.call("uss-a", "GET", sub_path).status_code == 200  # explicit now: it did not go with the intent


def test_a_subscription_answer_lists_only_what_it_hears_of(dss: Dss) -> None:
    """Prober test_create_sub: no constraint_references for a subscription that does not notify for them."""
    body = {
        "extents": volume(33.0, 33.0),
        "uss_base_url": "https://uss.example",
        "notify_for_operational_intents": True,
    }
    answer = dss.call("uss-a", "PUT", f"/subscriptions/{uuid.uuid4()}", json=body).json()
    assert "operational_intent_references" in answer and "constraint_references" not in answer
    body = {**body, "notify_for_operational_intents": False, "notify_for_constraints": True}
    answer = dss.call("uss-a", "PUT", f"/subscriptions/{uuid.uuid4()}", json=body, scopes=(SC,)).json()
    assert "operational_intent_references" not in answer and "constraint_references" in answer  # no CP scope needed


def test_updating_a_subscription_that_does_not_exist_is_404_a_stale_version_409(dss: Dss) -> None:
    body = {
        "extents": volume(34.0, 34.0),
        "uss_base_url": "https://uss.example",
        "notify_for_operational_intents": True,
    }
    assert dss.call("uss-a", "PUT", f"/subscriptions/{uuid.uuid4()}/v1", json=body).status_code == 404
    sub = str(uuid.uuid4())
    assert dss.call("uss-a", "PUT", f"/subscriptions/{sub}", json=body).status_code == 200
    assert dss.call("uss-b", "PUT", f"/subscriptions/{sub}/stale", json=body).status_code == 409  # before the 403


def test_base_urls_with_a_trailing_slash_and_availability_in_any_case(dss: Dss) -> None:
    """Prober test_id_conversion_bug (a trailing '/') and test_set_uss_availability ("normal")."""
    made = make(dss, "uss-a", intent(volume(35.0, 35.0), uss_base_url="https://uss.example/uss/v1/"))
    assert made["operational_intent_reference"]["uss_base_url"] == "https://uss.example/uss/v1/"
    r = dss.call("arbiter", "PUT", "/uss_availability/uss-z", json={"availability": "normal"},
                 scopes=("utm.availability_arbitration",))  # fmt: skip
    assert r.status_code == 200 and r.json()["status"]["availability"] == "Normal", r.text


def test_off_nominal_intents_are_in_keys_an_accepted_one_of_a_down_uss_is_not(dss: Dss) -> None:
    """The reference's OperationalIntent.RequiresKey."""
    a = make(dss, "uss-a", intent(volume(36.0, 36.0)))["operational_intent_reference"]
    bumped = intent(volume(36.0, 36.0), state="Nonconforming", subscription_id=a["subscription_id"])
    del bumped["new_subscription"]
    r = dss.call("uss-a", "PUT", f"{OIR}/{a['id']}/{a['ovn']}", json=bumped)
    assert r.status_code == 200, r.text
    make(dss, "uss-b", intent(volume(36.0, 36.0)), status=409)  # a Nonconforming intent is still in keys
    c = make(dss, "uss-c", intent(volume(37.0, 37.0)))["operational_intent_reference"]
    down = {"availability": "Down", "old_version": ""}
    r = dss.call("arbiter", "PUT", "/uss_availability/uss-c", json=down, scopes=("utm.availability_arbitration",))
    assert r.status_code == 200, r.text
    assert c["state"] == "Accepted"
    make(dss, "uss-b", intent(volume(37.0, 37.0)))  # an Accepted intent of a Down USS is not


def test_expired_subscriptions_are_not_answered(dss: Dss) -> None:
    sub = str(uuid.uuid4())
    body = {"extents": volume(38.0, 38.0, start_min=0, end_min=0.02), "uss_base_url": "https://uss.example",
            "notify_for_operational_intents": True}  # fmt: skip
    assert dss.call("uss-a", "PUT", f"/subscriptions/{sub}", json=body).status_code == 200
    now = datetime.now(UTC)
    query = area(now - timedelta(minutes=1), now + timedelta(minutes=10), lat=38.0, lng=38.0)
    assert sub in [
        s["id"] for s in dss.call("uss-a", "POST", "/subscriptions/query", json=query).json()["subscriptions"]
    ]
    time.sleep(1.5)  # past its end; the sweeper (every minute) has not run
    found = dss.call("uss-a", "POST", "/subscriptions/query", json=query).json()["subscriptions"]
    assert sub not in [s["id"] for s in found]


@pytest.mark.parametrize(("method", "path"), [("POST", f"{OIR}/query/"), ("GET", "/subscriptions/"),
                                              ("PUT", f"/constraint_references/{uuid.uuid4()}/")])  # fmt: skip
def test_a_path_with_a_trailing_slash_is_no_operation(dss: Dss, method: str, path: str) -> None:
    """As the reference's router (whole-path patterns): 404 with an ErrorResponse, not a redirect."""
    r = dss.call("uss-a", method, path, json={}, follow_redirects=False)
    assert r.status_code == 404 and "trailing '/'" in r.json()["message"], r.text


def test_a_query_without_start_finds_what_ended_but_has_not_expired(dss: Dss) -> None:
    """The reference compares a query's bounds only when given: an absent start reaches into the past."""
    made = make(dss, "uss-a", intent(volume(39.0, 39.0, start_min=-1, end_min=0.02)))
    oi_id = made["operational_intent_reference"]["id"]
    time.sleep(1.5)  # it has ended; it stays until f3548_retention_s after its end
    now = datetime.now(UTC)
    path = f"{OIR}/query"
    unbounded = dss.call("uss-b", "POST", path, json=area(None, None, lat=39.0, lng=39.0)).json()
    from_now = dss.call("uss-b", "POST", path, json=area(now, None, lat=39.0, lng=39.0)).json()
    assert [r["id"] for r in unbounded["operational_intent_references"]] == [oi_id]
    assert from_now["operational_intent_references"] == []


def test_an_intents_write_checks_in_the_references_order(dss: Dss) -> None:
    """The scope of the state before the lookup; an update of nothing is 400; the manager before the OVN."""
    made = make(dss, "uss-a", intent(volume(41.0, 41.0)))["operational_intent_reference"]
    bumped = intent(volume(41.0, 41.0), state="Nonconforming", subscription_id=made["subscription_id"])
    del bumped["new_subscription"]
    # another USS, a stale OVN, no CMSA scope: the scope wins (403 naming it)
    r = dss.call("uss-b", "PUT", f"{OIR}/{made['id']}/stale-ovn-0123456789", json=bumped, scopes=(SC,))
    assert r.status_code == 403 and "utm.conformance_monitoring_sa" in r.json()["message"], r.text
    r = dss.call("uss-a", "PUT", f"{OIR}/{uuid.uuid4()}/stale-ovn-0123456789", json=intent(volume(41.0, 41.0)))
    assert r.status_code == 400 and "create it without an OVN" in r.json()["message"], r.text
    r = dss.call("uss-b", "PUT", f"{OIR}/{made['id']}/stale-ovn-0123456789", json=intent(volume(41.0, 41.0)))
    assert r.status_code == 403, r.text  # the manager before the OVN
    suffix = {"requested_ovn_suffix": "not-a-uuid"}
    r = dss.call("uss-b", "PUT", f"{OIR}/{made['id']}/stale", json=intent(volume(41.0, 41.0), **suffix))
    assert r.status_code == 400 and "requested_ovn_suffix" in r.json()["message"], r.text  # the request first
