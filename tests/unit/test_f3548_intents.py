"""F3548-21 operational intents: states, scopes, the key rule, OVNs, ids, base URLs and time rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uas_standards.astm.f3548.v21 import constants
from uas_standards.astm.f3548.v21.api import OperationalIntentState

from deconfliction.domain.errors import Forbidden, InvalidInput
from deconfliction.domain.f3548 import volumes
from deconfliction.domain.f3548.identifiers import check_entity_id, check_subscription_id, check_uss_base_url
from deconfliction.domain.f3548.intents import (
    OIState,
    Scope,
    check_transition,
    is_ovn_format,
    key_required,
    missing_ovns,
    new_ovn,
    ovn_with_suffix,
    parse_state,
    uuid7_time,
)
from deconfliction.domain.f3548.timing import (
    CSTR_MAX_DURATION,
    CSTR_MAX_PLAN_HORIZON,
    OI_MAX_PLAN_HORIZON,
    SUBSCRIPTION_MAX_DURATION,
    check_constraint_window,
    check_oi_window,
    subscription_window,
)
from deconfliction.domain.timewindow import TimeWindow

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SC = frozenset({Scope.STRATEGIC_COORDINATION.value})
CMSA = frozenset({Scope.CONFORMANCE_MONITORING_SA.value})
BOTH = SC | CMSA
OI_ID = "03e5572a-f733-49af-bc14-8a18bd53ee39"


# --- our enums and constants mirror uas-standards ------------------------------------------------------------------


def test_states_and_scopes_mirror_the_standard() -> None:
    assert {s.value for s in OIState} == {s.value for s in OperationalIntentState}
    assert {s.value for s in Scope} == {s.value for s in constants.Scope}


def test_limits_mirror_the_standard_constants() -> None:
    assert constants.OiMaxVertices == volumes.OI_MAX_VERTICES
    assert constants.CstrMaxVertices == volumes.CSTR_MAX_VERTICES
    assert constants.CstrMaxAreaKm2 * 1e6 == volumes.CSTR_MAX_AREA_M2
    assert constants.IntersectionMinimumPrecisionCm / 100 == volumes.INTERSECTION_MINIMUM_PRECISION_M
    assert timedelta(days=constants.OiMaxPlanHorizonDays) == OI_MAX_PLAN_HORIZON
    assert timedelta(days=constants.CstrMaxPlanningHorizonDays) == CSTR_MAX_PLAN_HORIZON
    assert timedelta(hours=constants.CstrMaxDurationHours) == CSTR_MAX_DURATION
    assert timedelta(hours=constants.DSSMaxSubscriptionDurationHours) == SUBSCRIPTION_MAX_DURATION


def test_parse_state() -> None:
    assert parse_state("Activated") is OIState.ACTIVATED
    for bad in ("Ended", "activated", None, 3):
        with pytest.raises(InvalidInput) as e:
            parse_state(bad)
        assert e.value.field == "state"


# --- transitions and scopes ----------------------------------------------------------------------------------------


def test_creation_is_in_accepted_only() -> None:
    # reference DSS: "Invalid state for initial version" (400) for any other initial state
    check_transition(None, OIState.ACCEPTED, SC)
    for state in (OIState.ACTIVATED, OIState.NONCONFORMING, OIState.CONTINGENT):
        with pytest.raises(InvalidInput) as e:
            check_transition(None, state, BOTH)
        assert e.value.field == "state" and not isinstance(e.value, Forbidden)


@pytest.mark.parametrize("previous", [OIState.ACCEPTED, OIState.ACTIVATED])
@pytest.mark.parametrize("new", [OIState.NONCONFORMING, OIState.CONTINGENT])
def test_off_nominal_states_need_the_cmsa_scope(previous: OIState, new: OIState) -> None:
    # SCD0100; the conformance suite: "Transition from Activated to Nonconforming is forbidden" with only
    # utm.strategic_coordination
    with pytest.raises(Forbidden) as e:
        check_transition(previous, new, SC)
    assert e.value.status == 403 and "utm.conformance_monitoring_sa" in e.value.detail
    check_transition(previous, new, CMSA)


@pytest.mark.parametrize("new", [OIState.ACCEPTED, OIState.ACTIVATED])
def test_nominal_states_need_the_strategic_coordination_scope(new: OIState) -> None:
    check_transition(OIState.ACCEPTED, new, SC)
    with pytest.raises(Forbidden):
        check_transition(OIState.NONCONFORMING, new, CMSA)
    check_transition(OIState.NONCONFORMING, new, BOTH)  # "Nonconforming … expected to be recoverable"


def test_same_state_update_is_allowed() -> None:
    # the conformance suite updates an Activated OI as Activated ("Transition from Activated to Ended")
    for state in OIState:
        check_transition(state, state, BOTH)


@pytest.mark.parametrize("new", [OIState.ACCEPTED, OIState.ACTIVATED, OIState.NONCONFORMING])
def test_contingent_must_transition_to_ended(new: OIState) -> None:
    # Contingent: "This state must transition to Ended."
    with pytest.raises(InvalidInput) as e:
        check_transition(OIState.CONTINGENT, new, BOTH)
    assert "Ended" in e.value.detail


def test_key_rule() -> None:
    # Key: "This field is not required when declaring an operational intent Nonconforming or Contingent"
    assert key_required(OIState.ACCEPTED) and key_required(OIState.ACTIVATED)
    assert not key_required(OIState.NONCONFORMING) and not key_required(OIState.CONTINGENT)


def test_missing_ovns() -> None:
    # AirspaceConflictResponse: "operational intent references for which current proof of knowledge was not provided"
    relevant = {"a": "ovn-a-2222222222", "b": "ovn-b-1111111111", "c": "ovn-c-3333333333"}
    assert missing_ovns(relevant, ["ovn-b-1111111111"]) == ["a", "c"]
    assert missing_ovns(relevant, ["ovn-a-1111111111", "ovn-b-1111111111", "ovn-c-3333333333"]) == ["a"]  # stale
    assert missing_ovns(relevant, list(relevant.values())) == []
    assert missing_ovns({}, []) == []


# --- OVNs ----------------------------------------------------------------------------------------------------------


def test_new_ovn_is_opaque_well_formed_and_new_at_every_version() -> None:
    # EntityOVN: minLength 16, maxLength 128
    ovns = {new_ovn(OI_ID, NOW, str(version)) for version in range(50)}
    assert len(ovns) == 50
    assert all(is_ovn_format(o) and len(o) == 43 for o in ovns)
    assert new_ovn(OI_ID, NOW, "1") != new_ovn(OI_ID, NOW + timedelta(microseconds=1), "1")
    assert new_ovn(OI_ID, NOW, "1") == new_ovn(OI_ID, NOW, "1")
    assert not is_ovn_format("short") and not is_ovn_format("x" * 129) and not is_ovn_format("Available from USS")


def _uuid7(at: datetime, tail: int = 0x123) -> str:
    millis = int(at.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (tail << 64) | (0b10 << 62) | 0xABCDEF
    return str(uuid.UUID(int=value))


def test_requested_ovn_suffix() -> None:
    # "If the suffix is valid, the DSS will set the OVN of the operational intent to be `{entityid}_{suffix}`."
    suffix = _uuid7(NOW - timedelta(seconds=3))
    assert uuid7_time(suffix) == NOW - timedelta(seconds=3)
    ovn = ovn_with_suffix(OI_ID, suffix, NOW)
    assert ovn == f"{OI_ID}_{suffix}" and is_ovn_format(ovn)


@pytest.mark.parametrize(
    "suffix",
    [
        str(uuid.uuid4()),  # "must be a UUIDv7 string"
        _uuid7(NOW).replace("-", ""),
        _uuid7(NOW).upper().replace("-7", "-4", 1),
        "not-a-uuid",
        None,
        _uuid7(NOW - timedelta(minutes=6)),  # "notably if the time is too far in the past or the future"
        _uuid7(NOW + timedelta(minutes=6)),
    ],
)
def test_bad_requested_ovn_suffix(suffix: object) -> None:
    with pytest.raises(InvalidInput) as e:
        ovn_with_suffix(OI_ID, suffix, NOW)
    assert e.value.field == "requested_ovn_suffix"


def test_ovn_suffix_variant_must_be_rfc() -> None:
    good = _uuid7(NOW)
    bad_variant = good[:19] + "c" + good[20:]
    with pytest.raises(InvalidInput):
        ovn_with_suffix(OI_ID, bad_variant, NOW)


# --- ids and URLs --------------------------------------------------------------------------------------------------


def test_entity_ids_are_uuid4() -> None:
    # EntityID: UUIDv4Format, "String whose format matches a version-4 UUID according to RFC 4122."
    assert check_entity_id(OI_ID) == OI_ID
    assert check_entity_id(OI_ID.upper()) == OI_ID
    assert check_subscription_id("00000000-0000-4000-8000-000000000000", "subscription_id")
    for bad in (
        str(uuid.uuid1()),
        OI_ID.replace("-49af-", "-59af-"),  # version 5
        OI_ID.replace("-bc14-", "-cc14-"),  # variant not RFC 4122
        OI_ID.replace("-", ""),
        "{" + OI_ID + "}",
        f"urn:uuid:{OI_ID}",
        OI_ID + "\n",
        "",
        None,
    ):
        with pytest.raises(InvalidInput) as e:
            check_entity_id(bad, "entityid")
        assert e.value.field == "entityid"
    with pytest.raises(InvalidInput) as e:
        check_subscription_id("x", "subscription_id")
    assert "SubscriptionID" in e.value.detail


@given(st.uuids(version=4))
def test_every_uuid4_is_an_entity_id(value: uuid.UUID) -> None:
    assert check_entity_id(str(value)) == str(value)


def test_uss_base_url() -> None:
    assert check_uss_base_url("https://uss.example/api") == "https://uss.example/api"
    # The standard: "may not have a trailing '/'"; the reference DSS and the prober accept one (kept as given).
    assert check_uss_base_url("https://uss.example/uss/v1/") == "https://uss.example/uss/v1/"
    assert check_uss_base_url("http://localhost:8074", allow_http=True) == "http://localhost:8074"
    for bad, detail in (
        ("http://uss.example", "https"),
        ("ftp://uss.example", "https"),
        ("uss.example", "https"),
        ("https://", "no host"),
        ("https://uss.example?x=1", "query"),
        ("https://uss.example/a#b", "fragment"),
        ("https://uss.example/a b", "white space"),
        ("https://[::1", "not a valid URL"),
        ("", "required"),
        (None, "required"),
    ):
        with pytest.raises(InvalidInput) as e:
            check_uss_base_url(bad, "new_subscription.uss_base_url")
        assert e.value.field == "new_subscription.uss_base_url" and detail in e.value.detail, bad


# --- time rules ----------------------------------------------------------------------------------------------------


def test_oi_end_time_may_not_be_in_the_past() -> None:
    # "The end time may not be in the past."
    check_oi_window(TimeWindow(NOW - timedelta(hours=1), NOW), NOW)  # ends now: accepted, as the reference
    with pytest.raises(InvalidInput) as e:
        check_oi_window(TimeWindow(NOW - timedelta(hours=1), NOW - timedelta(microseconds=1)), NOW)
    assert e.value.field == "extents" and "past" in e.value.detail


def test_oi_planning_horizon() -> None:
    # OiMaxPlanHorizonDays = 30
    check_oi_window(TimeWindow(NOW + timedelta(days=30), NOW + timedelta(days=30, hours=1)), NOW)
    far = TimeWindow(NOW + timedelta(days=30, seconds=1), NOW + timedelta(days=31))
    with pytest.raises(InvalidInput) as e:
        check_oi_window(far, NOW)
    assert "OiMaxPlanHorizonDays" in e.value.detail
    check_oi_window(far, NOW, horizon=None)


def test_constraint_windows() -> None:
    check_constraint_window(TimeWindow(NOW, NOW + timedelta(hours=24)), NOW)
    for window, detail in (
        (TimeWindow(NOW, NOW + timedelta(hours=24, seconds=1)), "CstrMaxDurationHours"),
        (TimeWindow(NOW + timedelta(days=57), NOW + timedelta(days=57, hours=1)), "CstrMaxPlanningHorizonDays"),
        (TimeWindow(NOW - timedelta(hours=2), NOW - timedelta(hours=1)), "past"),
    ):
        with pytest.raises(InvalidInput) as e:
            check_constraint_window(window, NOW)
        assert detail in e.value.detail
    check_constraint_window(TimeWindow(NOW, NOW + timedelta(days=3)), NOW, max_duration=None)


def test_subscription_defaults() -> None:
    # "If end time is not specified, the value will be chosen automatically by the DSS. If start time is not
    # specified, it will default to the time the request is processed."
    w = subscription_window(None, None, NOW)
    assert w.start == NOW and w.end == NOW + SUBSCRIPTION_MAX_DURATION
    start = NOW + timedelta(hours=2)
    assert subscription_window(start, None, NOW).end == start + timedelta(hours=24)
    previous = TimeWindow(NOW - timedelta(hours=3), NOW + timedelta(hours=3))
    w = subscription_window(None, None, NOW, previous=previous)
    assert w == previous
    assert subscription_window(NOW - timedelta(minutes=4), None, NOW).start == NOW - timedelta(minutes=4)


def test_subscription_limits() -> None:
    # DSSMaxSubscriptionDurationHours = 24; "The end time may not be in the past."
    for start, end, field in (
        (NOW - timedelta(minutes=6), None, "extents.time_start"),
        (NOW, NOW + timedelta(hours=24, seconds=1), "extents.time_end"),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=1), "extents.time_end"),
        (None, NOW - timedelta(seconds=1), "extents.time_end"),
    ):
        with pytest.raises(InvalidInput) as e:
            subscription_window(start, end, NOW)
        assert e.value.field == field
    assert subscription_window(NOW, NOW + timedelta(hours=24), NOW).end == NOW + timedelta(hours=24)


@settings(max_examples=50)
@given(st.integers(0, 300), st.integers(0, 24 * 3600))
def test_a_valid_subscription_window_is_within_the_limits(after_s: int, length_s: int) -> None:
    start = NOW + timedelta(seconds=after_s)
    w = subscription_window(start, start + timedelta(seconds=length_s), NOW)
    assert w.start == start and w.end is not None and w.end - w.start <= SUBSCRIPTION_MAX_DURATION
