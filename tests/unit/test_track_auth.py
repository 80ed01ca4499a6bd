"""The MQTT payload authentication: the MAC as documented, tampering, topic swaps, replays, clock skew, bad forms."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from deconfliction.domain.track_auth import (
    DropReason,
    NonceCache,
    PartyCredential,
    PayloadRejected,
    TrackAuthenticator,
    check_prefix,
    compute_mac,
    new_secret,
    parse_topic,
    sign,
    topic_filter,
)

NOW = 1_700_000_000
SKEW = 120.0
SECRETS = {"sdf": new_secret(), "saa": new_secret()}
REPORTS = [{"t": "2017-09-09T05:00:00Z", "lon": 40.1405, "lat": 35.3354, "alt_m": 120, "speed_mps": 4.5}]
NONCE = "n0nce-0123456789abcdef"


def credential_of(party: str) -> PartyCredential | None:
    if party == "suspended":
        return PartyCredential(new_secret(), active=False)
    if party == "keyless":
        return PartyCredential(None, active=True)
    secret = SECRETS.get(party)
    return None if secret is None else PartyCredential(secret, active=True)


def payload(party: str = "sdf", track: str = "t1", ts: int = NOW, nonce: str = NONCE, **replace: Any) -> bytes:
    """A payload as a party publishes it, signed with `party`'s secret; `replace` then overrides members."""
    obj = sign(SECRETS.get(party, "x" * 40), party, track, REPORTS, ts, nonce)
    obj.update(replace)
    return json.dumps(obj).encode()


def rejected(auth: TrackAuthenticator, topic: str, raw: bytes, now: float = NOW) -> DropReason:
    with pytest.raises(PayloadRejected) as caught:
        auth.authenticate(topic, raw, credential_of, now)
    return caught.value.reason


@pytest.fixture
def auth() -> TrackAuthenticator:
    return TrackAuthenticator("deconf", max_payload_bytes=4096, max_skew_s=SKEW)


def test_the_mac_is_hmac_sha256_of_the_sorted_compact_json_as_documented() -> None:
    # Written out independently of the implementation: for values like these (no float needing JCS's number
    # rules beyond Python's shortest repr, ASCII keys) RFC 8785 is sorted keys and no whitespace.
    signed = {"nonce": NONCE, "party": "sdf", "reports": REPORTS, "track_id": "t1", "ts": NOW}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    expected = hmac.new(SECRETS["sdf"].encode(), message, hashlib.sha256).hexdigest()
    assert compute_mac(SECRETS["sdf"], "sdf", "t1", REPORTS, NOW, NONCE) == expected
    assert json.loads(payload())["mac"] == expected


def test_a_signed_payload_is_accepted_with_its_topics_party_and_track(auth: TrackAuthenticator) -> None:
    batch = auth.authenticate("deconf/sdf/tracks/t1", payload(), credential_of, NOW)
    assert (batch.party, batch.track_id, batch.reports) == ("sdf", "t1", REPORTS)


@pytest.mark.parametrize(
    "replace",
    [
        {"reports": [{**REPORTS[0], "lon": 40.1406}]},
        {"reports": [*REPORTS, *REPORTS]},
        {"ts": NOW + 1},
        {"nonce": NONCE + "x"},
        {"mac": "0" * 64},
    ],
    ids=["report-changed", "report-added", "ts", "nonce", "mac"],
)
def test_tampering_with_any_member_breaks_the_mac(auth: TrackAuthenticator, replace: dict[str, Any]) -> None:
    tampered = {**json.loads(payload()), **replace}
    assert rejected(auth, "deconf/sdf/tracks/t1", json.dumps(tampered).encode()) is DropReason.BAD_MAC


def test_one_flipped_hex_digit_of_the_mac_is_refused(auth: TrackAuthenticator) -> None:
    mac = json.loads(payload())["mac"]
    flipped = ("1" if mac[0] == "0" else "0") + mac[1:]
    assert rejected(auth, "deconf/sdf/tracks/t1", payload(mac=flipped)) is DropReason.BAD_MAC


def test_a_payload_cannot_be_moved_to_another_partys_or_tracks_topic(auth: TrackAuthenticator) -> None:
    signed_by_saa = payload("saa", "t1")
    assert rejected(auth, "deconf/sdf/tracks/t1", signed_by_saa) is DropReason.BAD_MAC
    assert rejected(auth, "deconf/saa/tracks/t2", signed_by_saa) is DropReason.BAD_MAC
    # the party's own secret over another party's name does not help either: the topic's party is signed over
    own_secret_other_name = json.dumps(sign(SECRETS["saa"], "sdf", "t1", REPORTS, NOW, NONCE)).encode()
    assert rejected(auth, "deconf/sdf/tracks/t1", own_secret_other_name) is DropReason.BAD_MAC
    assert auth.authenticate("deconf/saa/tracks/t1", signed_by_saa, credential_of, NOW).party == "saa"


def test_a_replayed_payload_is_dropped_and_stays_dropped_once_stale(auth: TrackAuthenticator) -> None:
    topic, raw = "deconf/sdf/tracks/t1", payload()
    auth.authenticate(topic, raw, credential_of, NOW)
    assert rejected(auth, topic, raw, NOW + 1) is DropReason.REPLAY
    assert rejected(auth, topic, raw, NOW + SKEW) is DropReason.REPLAY
    assert rejected(auth, topic, raw, NOW + SKEW + 1) is DropReason.STALE
    # the same nonce on another track of the same party is a replay too; another party has its own nonces
    assert rejected(auth, "deconf/sdf/tracks/t2", payload(track="t2"), NOW + 1) is DropReason.REPLAY
    assert auth.authenticate("deconf/saa/tracks/t1", payload("saa"), credential_of, NOW).party == "saa"


def test_a_forged_payload_does_not_use_up_the_nonce_of_a_genuine_one(auth: TrackAuthenticator) -> None:
    topic = "deconf/sdf/tracks/t1"
    assert rejected(auth, topic, payload(mac="a" * 64)) is DropReason.BAD_MAC
    assert auth.authenticate(topic, payload(), credential_of, NOW).track_id == "t1"


@pytest.mark.parametrize(
    ("ts", "accepted"), [(NOW - 120, True), (NOW + 120, True), (NOW - 121, False), (NOW + 121, False)]
)
def test_ts_must_be_within_the_skew_of_the_servers_clock(auth: TrackAuthenticator, ts: int, accepted: bool) -> None:
    raw = payload(ts=ts)
    if accepted:
        assert auth.authenticate("deconf/sdf/tracks/t1", raw, credential_of, NOW).party == "sdf"
    else:
        assert rejected(auth, "deconf/sdf/tracks/t1", raw) is DropReason.STALE


@pytest.mark.parametrize(
    ("party", "reason"),
    [("nobody", DropReason.UNKNOWN_PARTY), ("suspended", DropReason.PARTY_INACTIVE), ("keyless", DropReason.NO_SECRET)],
)
def test_parties_that_cannot_publish(auth: TrackAuthenticator, party: str, reason: DropReason) -> None:
    assert rejected(auth, f"deconf/{party}/tracks/t1", payload(party)) is reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", DropReason.BAD_JSON),
        (b'{"reports": [', DropReason.BAD_JSON),
        (b'{"reports": [NaN], "ts": 1, "nonce": "x", "mac": "y"}', DropReason.BAD_JSON),
        (b"[]", DropReason.BAD_PAYLOAD),
        (payload(extra=1), DropReason.BAD_PAYLOAD),
        (json.dumps({k: v for k, v in json.loads(payload()).items() if k != "nonce"}).encode(), DropReason.BAD_PAYLOAD),
        (payload(reports=[]), DropReason.BAD_PAYLOAD),
        (payload(reports={"t": "x"}), DropReason.BAD_PAYLOAD),
        (payload(ts=True), DropReason.BAD_PAYLOAD),
        (payload(ts=float(NOW)), DropReason.BAD_PAYLOAD),
        (payload(ts=str(NOW)), DropReason.BAD_PAYLOAD),
        (payload(nonce="short"), DropReason.BAD_PAYLOAD),
        (payload(nonce="has space in it 0123"), DropReason.BAD_PAYLOAD),
        (payload(mac=json.loads(payload())["mac"].upper()), DropReason.BAD_PAYLOAD),
        (payload(mac="abc"), DropReason.BAD_PAYLOAD),
        (payload(reports=[{"lon": 2**60}]), DropReason.BAD_PAYLOAD),  # beyond JSON's exact integers: no canonical form
        (payload(reports=[{"pad": "x" * 5000}]), DropReason.TOO_LARGE),
    ],
    ids=lambda v: v if isinstance(v, DropReason) else None,
)
def test_malformed_payloads(auth: TrackAuthenticator, raw: bytes, reason: DropReason) -> None:
    assert rejected(auth, "deconf/sdf/tracks/t1", raw) is reason


@pytest.mark.parametrize(
    "topic",
    [
        "other/sdf/tracks/t1",
        "deconfx/sdf/tracks/t1",
        "deconf/sdf/tracks",
        "deconf/sdf/tracks/t1/extra",
        "deconf/sdf/positions/t1",
        "deconf//tracks/t1",
        "deconf/SDF/tracks/t1",
        "deconf/sdf/tracks/",
        "deconf/sdf/tracks/" + "x" * 129,
        "deconf/sdf/tracks/a\nb",
    ],
)
def test_topics_that_are_not_a_partys_track(auth: TrackAuthenticator, topic: str) -> None:
    assert rejected(auth, topic, payload()) is DropReason.BAD_TOPIC


def test_topics_under_a_prefix_of_several_levels() -> None:
    assert topic_filter("org/deconf") == "org/deconf/+/tracks/+"
    assert parse_topic("org/deconf/sdf/tracks/boat-7", "org/deconf") == ("sdf", "boat-7")
    for bad in ("", "/deconf", "deconf/", "a//b", "deconf/#", "deconf/+"):
        with pytest.raises(ValueError):
            check_prefix(bad)


def test_the_nonce_cache_is_bounded_per_party_and_forgets_only_what_expired() -> None:
    cache = NonceCache(max_per_party=2)
    cache.add("sdf", "a", expires_s=100, now_s=0)
    cache.add("sdf", "b", expires_s=200, now_s=0)
    with pytest.raises(PayloadRejected) as full:
        cache.add("sdf", "c", expires_s=300, now_s=50)
    assert full.value.reason is DropReason.REPLAY_CACHE_FULL
    cache.add("saa", "a", expires_s=100, now_s=50)  # another party's nonces are its own
    cache.add("sdf", "c", expires_s=300, now_s=101)  # "a" expired: room again
    with pytest.raises(PayloadRejected) as replay:
        cache.add("sdf", "b", expires_s=400, now_s=150)
    assert replay.value.reason is DropReason.REPLAY
    assert len(cache) == 3


def test_secrets_are_random_and_long() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and one.startswith("mqsec_") and len(one) >= 48
