"""Authenticating live-track payloads that arrive through an anonymous MQTT broker.

The broker lets anyone publish anywhere, so each payload carries an HMAC of its party's secret (docs/api.md, "Live
tracks over MQTT"). On topic `<prefix>/<party>/tracks/<track_id>` a payload is the UTF-8 JSON object

    {"reports": [<report>, ...], "ts": <integer Unix seconds>, "nonce": "<16-64 of A-Z a-z 0-9 _ ->", "mac": "<hex>"}

with no other member, where `mac` is the lowercase hex HMAC-SHA256, keyed with the party's secret (its UTF-8 bytes),
of the RFC 8785 (JCS) bytes of `{"nonce", "party", "reports", "track_id", "ts"}` — `party` and `track_id` taken from
the topic, so that a payload cannot be replayed onto another party's or another track's topic. A payload is accepted
once: `ts` must lie within the allowed skew of the server's clock, and its nonce must not have been seen from that
party while `ts` is within it.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deconfliction.domain.parties import PARTY_ID
from deconfliction.domain.signing import canonical

SECRET_PREFIX = "mqsec_"
PAYLOAD_KEYS = frozenset({"reports", "ts", "nonce", "mac"})
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAC = re.compile(r"^[0-9a-f]{64}$")
MAX_TRACK_ID_CHARS = 128
MAX_NONCES_PER_PARTY = 100_000  # ~830 payloads/s per party sustained at the default skew of 120 s


class DropReason(StrEnum):
    """Why a payload was dropped: each is counted and logged, never answered (MQTT has no reply)."""

    TOO_LARGE = "too_large"  # over mqtt_max_payload_bytes
    BAD_TOPIC = "bad_topic"  # not <prefix>/<party>/tracks/<track_id> with a valid party id and track id
    BAD_JSON = "bad_json"  # not UTF-8 JSON
    BAD_PAYLOAD = "bad_payload"  # JSON, but not the signed object defined above
    UNKNOWN_PARTY = "unknown_party"  # the topic names no party of the channel
    PARTY_INACTIVE = "party_inactive"  # the party is suspended or withdrawn
    NO_SECRET = "no_secret"  # the party never asked for a signing secret
    BAD_MAC = "bad_mac"  # not signed with the party's current secret for this topic
    STALE = "stale"  # ts outside the allowed skew
    REPLAY = "replay"  # the nonce was seen already
    REPLAY_CACHE_FULL = "replay_cache_full"  # the party sent more payloads within the skew than can be remembered
    INVALID_REPORT = "invalid_report"  # authentic, but a report was refused by the tracks service
    INGEST_FAILED = "ingest_failed"  # authentic, but storing it failed (logged with its traceback)


class PayloadRejected(Exception):
    """A payload is dropped, for `reason`."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PartyCredential:
    """What the server knows of a topic's party: its signing secret (None: never issued) and whether it may write."""

    secret: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class SignedPayload:
    reports: list[Any]
    ts: int
    nonce: str
    mac: str


@dataclass(frozen=True, slots=True)
class AuthenticatedBatch:
    party: str
    track_id: str
    reports: list[Any]


def new_secret() -> str:
    """A party's signing secret: 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def check_prefix(prefix: str) -> str:
    """A topic prefix: one or more non-empty levels without wildcards, e.g. `deconf` or `org/deconf`."""
    levels = prefix.split("/")
    if not prefix or any(not level or "+" in level or "#" in level or "\0" in level for level in levels):
        raise ValueError(f"MQTT topic prefix {prefix!r} must be non-empty levels without '+', '#' or empty levels")
    return prefix


def topic_filter(prefix: str) -> str:
    """What the server subscribes to: every party's every track."""
    return f"{prefix}/+/tracks/+"


def topic_for(prefix: str, party: str, track_id: str) -> str:
    return f"{prefix}/{party}/tracks/{track_id}"


def parse_topic(topic: str, prefix: str) -> tuple[str, str]:
    """(party, track_id) of `<prefix>/<party>/tracks/<track_id>`."""
    levels = topic[len(prefix) + 1 :].split("/") if topic.startswith(prefix + "/") else []
    if len(levels) != 3 or levels[1] != "tracks" or not PARTY_ID.match(levels[0]):
        raise PayloadRejected(DropReason.BAD_TOPIC, f"topic {topic!r} is not {topic_for(prefix, '<party>', '<id>')}")
    track_id = levels[2]
    if not track_id or len(track_id) > MAX_TRACK_ID_CHARS or not track_id.isprintable():
        raise PayloadRejected(DropReason.BAD_TOPIC, f"topic {topic!r}: bad track id")
    return levels[0], track_id


def signed_bytes(party: str, track_id: str, reports: Sequence[Any], ts: int, nonce: str) -> bytes:
    """The bytes the MAC is computed over: RFC 8785 of {nonce, party, reports, track_id, ts}."""
    return canonical({"nonce": nonce, "party": party, "reports": list(reports), "track_id": track_id, "ts": ts})


def compute_mac(secret: str, party: str, track_id: str, reports: Sequence[Any], ts: int, nonce: str) -> str:
    data = signed_bytes(party, track_id, reports, ts, nonce)
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def sign(
    secret: str, party: str, track_id: str, reports: Sequence[Any], ts: int, nonce: str | None = None
) -> dict[str, Any]:
    """The payload a party publishes on `<prefix>/<party>/tracks/<track_id>`."""
    nonce = nonce or new_nonce()
    mac = compute_mac(secret, party, track_id, reports, ts, nonce)
    return {"reports": list(reports), "ts": ts, "nonce": nonce, "mac": mac}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_payload(raw: bytes, max_bytes: int) -> SignedPayload:
    """The signed object of a payload, its form checked (not yet its MAC)."""
    if len(raw) > max_bytes:
        raise PayloadRejected(DropReason.TOO_LARGE, f"{len(raw)} bytes, more than {max_bytes}")
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadRejected(DropReason.BAD_JSON, str(exc)) from None
    if not isinstance(obj, dict) or set(obj) != PAYLOAD_KEYS:
        raise PayloadRejected(DropReason.BAD_PAYLOAD, f"must be an object of exactly {sorted(PAYLOAD_KEYS)}")
    reports, ts, nonce, mac = obj["reports"], obj["ts"], obj["nonce"], obj["mac"]
    if not isinstance(reports, list) or not reports:
        raise PayloadRejected(DropReason.BAD_PAYLOAD, "reports must be a non-empty array")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise PayloadRejected(DropReason.BAD_PAYLOAD, "ts must be an integer (Unix seconds)")
    if not isinstance(nonce, str) or not NONCE.match(nonce):
        raise PayloadRejected(DropReason.BAD_PAYLOAD, "nonce must be 16-64 characters of A-Z a-z 0-9 _ -")
    if not isinstance(mac, str) or not MAC.match(mac):
        raise PayloadRejected(DropReason.BAD_PAYLOAD, "mac must be 64 lowercase hex digits")
    return SignedPayload(reports, ts, nonce, mac)


def mac_matches(payload: SignedPayload, secret: str, party: str, track_id: str) -> bool:
    """Whether the payload was signed with `secret` for this party and track (constant-time comparison)."""
    try:
        expected = compute_mac(secret, party, track_id, payload.reports, payload.ts, payload.nonce)
    except ValueError as exc:  # rfc8785: an integer beyond ±2^53 or a string that is not valid Unicode
        raise PayloadRejected(DropReason.BAD_PAYLOAD, f"reports cannot be canonicalised: {exc}") from None
    return hmac.compare_digest(expected, payload.mac)


class NonceCache:
    """The nonces each party used recently: a nonce is remembered until its payload's ts leaves the skew window.

    Bounded: at most `max_per_party` remembered nonces per party; beyond, new payloads of that party are refused
    rather than old nonces forgotten (forgetting one would let its payload be replayed). Not thread-safe: the
    subscriber calls it from its one network thread.
    """

    def __init__(self, max_per_party: int = MAX_NONCES_PER_PARTY) -> None:
        self.max_per_party = max_per_party
        self._seen: dict[str, set[str]] = {}
        self._expiry: dict[str, list[tuple[float, str]]] = {}

    def __len__(self) -> int:
        return sum(len(s) for s in self._seen.values())

    def _purge(self, party: str, now_s: float) -> None:
        heap, seen = self._expiry[party], self._seen[party]
        while heap and heap[0][0] < now_s:
            seen.discard(heapq.heappop(heap)[1])

    def add(self, party: str, nonce: str, expires_s: float, now_s: float) -> None:
        """Remember `nonce` until `expires_s`; raise PayloadRejected if it is remembered already."""
        seen = self._seen.setdefault(party, set())
        heap = self._expiry.setdefault(party, [])
        self._purge(party, now_s)
        if nonce in seen:
            raise PayloadRejected(DropReason.REPLAY, f"nonce {nonce!r} of party {party!r} was used already")
        if len(seen) >= self.max_per_party:
            raise PayloadRejected(DropReason.REPLAY_CACHE_FULL, f"party {party!r}: too many payloads in the window")
        seen.add(nonce)
        heapq.heappush(heap, (expires_s, nonce))


class TrackAuthenticator:
    """Checks a payload against its topic, in order: size, topic, form, party, MAC, freshness, then replay."""

    def __init__(self, prefix: str, max_payload_bytes: int, max_skew_s: float, nonces: NonceCache | None = None):
        self.prefix = check_prefix(prefix)
        self.max_payload_bytes = max_payload_bytes
        self.max_skew_s = max_skew_s
        self.nonces = nonces if nonces is not None else NonceCache()

    def party_of(self, topic: str) -> str | None:
        """The topic's party, if the topic is well formed (for counting drops per party)."""
        try:
            return parse_topic(topic, self.prefix)[0]
        except PayloadRejected:
            return None

    def authenticate(
        self, topic: str, raw: bytes, credential_of: Callable[[str], PartyCredential | None], now_s: float
    ) -> AuthenticatedBatch:
        """The batch of reports, or PayloadRejected saying why not. Records the nonce of an authentic payload."""
        if len(raw) > self.max_payload_bytes:
            raise PayloadRejected(DropReason.TOO_LARGE, f"{len(raw)} bytes, more than {self.max_payload_bytes}")
        party, track_id = parse_topic(topic, self.prefix)
        payload = parse_payload(raw, self.max_payload_bytes)
        credential = credential_of(party)
        if credential is None:
            raise PayloadRejected(DropReason.UNKNOWN_PARTY, f"no party {party!r}")
        if not credential.active:
            raise PayloadRejected(DropReason.PARTY_INACTIVE, f"party {party!r} is not active")
        if credential.secret is None:
            raise PayloadRejected(DropReason.NO_SECRET, f"party {party!r} has no MQTT signing secret")
        # The MAC first: only an authentic payload may count as stale, or take a place in the nonce cache.
        if not mac_matches(payload, credential.secret, party, track_id):
            raise PayloadRejected(DropReason.BAD_MAC, f"bad mac on {topic!r}")
        if abs(now_s - payload.ts) > self.max_skew_s:
            raise PayloadRejected(DropReason.STALE, f"ts {payload.ts} is {now_s - payload.ts:+.0f} s from now")
        self.nonces.add(party, payload.nonce, payload.ts + self.max_skew_s, now_s)
        return AuthenticatedBatch(party, track_id, payload.reports)
