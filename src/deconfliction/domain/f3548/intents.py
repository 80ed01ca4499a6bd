"""F3548-21 operational intents: states and their transitions, scopes, the key rule, and OVNs.

Choices (the reference is the InterUSS DSS, pkg/scd):

* Creation: only in Accepted. The reference refuses any other initial state with 400 ("Invalid state for initial
  version") before it looks at scopes, and the conformance suite accepts 400 or 403 for a Nonconforming or
  Contingent creation. So Activated cannot be created directly either: an OI is Accepted, then Activated.
* Scopes (SCD0100): Nonconforming and Contingent need utm.conformance_monitoring_sa, else 403. Accepted and
  Activated need utm.strategic_coordination, else 403 — the reference lets either scope through its
  authorization layer; the standard gives these states to the strategic coordination role.
* Transitions after creation: any of the four states may follow any other, as in the reference — except that a
  Contingent OI stays Contingent (it "must transition to Ended", i.e. be deleted): 400 otherwise. The reference
  does not check that one.
* Key (`key_required`): not for Nonconforming or Contingent ("may omit a Key in this case"). Of the relevant
  intents, every one must be in the key but an Accepted one whose USS is Down (`required_in_keys`, as the
  reference); `missing_ovns` compares.
* OVNs: `new_ovn` is base64url(SHA-256(entity id, time, nonce)) without padding: 43 characters of
  [0-9A-Za-z_-], within EntityOVN's 16–128 (the reference: base64 of SHA-256 of a salt and the time, '+/='
  replaced). The caller passes a nonce that differs at every version (the version number, or random bytes).
* `requested_ovn_suffix` (InterUSS extension): a UUIDv7 in canonical form whose timestamp is within 5 minutes of
  now (the reference's maxClockSkew); the OVN is ``{entity_id}_{suffix}``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from deconfliction.domain.errors import Forbidden, InvalidInput
from deconfliction.domain.timewindow import format_time

OVN_SUFFIX_MAX_SKEW = timedelta(minutes=5)
OVN_PATTERN = re.compile(r"[0-9a-zA-Z_\-.]{16,128}")
_UUID7 = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}")


class OIState(StrEnum):
    """OperationalIntentState, as the DSS stores it (Ended is a deletion, not a state)."""

    ACCEPTED = "Accepted"
    ACTIVATED = "Activated"
    NONCONFORMING = "Nonconforming"
    CONTINGENT = "Contingent"


class Scope(StrEnum):
    """The F3548-21 OAuth scopes."""

    STRATEGIC_COORDINATION = "utm.strategic_coordination"
    CONSTRAINT_MANAGEMENT = "utm.constraint_management"
    CONSTRAINT_PROCESSING = "utm.constraint_processing"
    CONFORMANCE_MONITORING_SA = "utm.conformance_monitoring_sa"
    AVAILABILITY_ARBITRATION = "utm.availability_arbitration"


OFF_NOMINAL = frozenset({OIState.NONCONFORMING, OIState.CONTINGENT})


def parse_state(value: object, field: str = "state") -> OIState:
    """An OperationalIntentState string as an OIState; InvalidInput otherwise."""
    try:
        return OIState(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(s.value for s in OIState)
        raise InvalidInput(f"{field} {value!r} is not an operational intent state ({allowed})", field=field) from None


def required_scope(state: OIState) -> Scope:
    """The scope a USS needs to put an OI in `state` (SCD0100)."""
    return Scope.CONFORMANCE_MONITORING_SA if state in OFF_NOMINAL else Scope.STRATEGIC_COORDINATION


def check_initial_state(new: OIState) -> None:
    """An OI is created in the Accepted state (400 otherwise, checked with the request, as the reference)."""
    if new is not OIState.ACCEPTED:
        raise InvalidInput(f"an operational intent is created in the Accepted state, not {new.value}", field="state")


def check_scope(new: OIState, scopes: frozenset[str]) -> None:
    """The scope the state asks for (SCD0100), 403 without it — checked before the OI is looked up, as the
    reference checks its CMSA scope."""
    scope = required_scope(new)
    if scope.value not in scopes:
        raise Forbidden(f"the {new.value} state requires the {scope.value} scope (SCD0100)", field="state")


def check_transition(previous: OIState | None, new: OIState, scopes: frozenset[str]) -> None:
    """Whether an OI in `previous` (None: being created) may be put in `new` by a client holding `scopes`.

    InvalidInput (400) for a transition the standard forbids, Forbidden (403) for a missing scope; see the
    module doc for the rules and where they come from.
    """
    if previous is None:
        check_initial_state(new)
    if previous is OIState.CONTINGENT and new is not OIState.CONTINGENT:
        raise InvalidInput(
            f"a Contingent operational intent cannot become {new.value}: 'This state must transition to Ended' "
            "(delete it)",
            field="state",
        )
    check_scope(new, scopes)


def key_required(state: OIState) -> bool:
    """Whether a write putting an OI in `state` must carry a key: not for Nonconforming or Contingent."""
    return state not in OFF_NOMINAL


def required_in_keys(state: OIState, manager_availability: str) -> bool:
    """Whether another USS's key must hold this intent's OVN: always, except for an Accepted intent whose manager
    availability arbitration found Down (the reference DSS's OperationalIntent.RequiresKey) — an off-nominal
    intent is not exempt."""
    return not (state is OIState.ACCEPTED and manager_availability == "Down")


def missing_ovns(relevant: Mapping[str, str], key: Sequence[str]) -> list[str]:
    """Ids of the relevant entities (id → current OVN) whose current OVN is not in the key, in `relevant`'s order.

    The caller leaves out the OI being written ("The key does not need to contain the OVN for the operational
    intent being updated").
    """
    known = set(key)
    return [entity_id for entity_id, ovn in relevant.items() if ovn not in known]


def new_ovn(entity_id: str, at: datetime, nonce: str) -> str:
    """An opaque OVN for `entity_id` at `at`: 43 characters of [0-9A-Za-z_-], different for every nonce."""
    digest = hashlib.sha256(f"{entity_id}\n{format_time(at)}\n{nonce}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def is_ovn_format(value: object) -> bool:
    """Whether `value` looks like an OVN this DSS issues (16–128 of [0-9A-Za-z_.-]).

    Not for refusing a client's OVN: one that is not current is a version mismatch (409), as in the reference.
    """
    return isinstance(value, str) and OVN_PATTERN.fullmatch(value) is not None


def uuid7_time(suffix: str) -> datetime:
    """The timestamp of a canonical UUIDv7 (its first 48 bits: Unix milliseconds)."""
    millis = int(suffix[0:8] + suffix[9:13], 16)
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def ovn_with_suffix(entity_id: str, suffix: object, now: datetime, *, max_skew: timedelta = OVN_SUFFIX_MAX_SKEW) -> str:
    """The OVN ``{entity_id}_{suffix}`` for a `requested_ovn_suffix`: a UUIDv7 stamped within max_skew of now."""
    field = "requested_ovn_suffix"
    if not isinstance(suffix, str) or _UUID7.fullmatch(suffix) is None:
        shown = repr(suffix) if isinstance(suffix, str) else "not a string"
        raise InvalidInput(f"{field} must be a version-7 UUID (RFC 9562); got {shown}", field=field)
    stamped = uuid7_time(suffix)
    skew = abs(now - stamped)
    if skew > max_skew:
        raise InvalidInput(
            f"{field} {suffix} is stamped {format_time(stamped)}, {skew.total_seconds():.0f} s from now; "
            f"it must be within {max_skew.total_seconds():.0f} s ('a timestamp of the current time')",
            field=field,
        )
    return f"{entity_id}_{suffix}"
