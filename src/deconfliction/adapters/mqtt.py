"""MQTT: live tracks from a broker (paho-mqtt), each payload authenticated by its party's HMAC (domain/track_auth.py).

The subscriber holds one connection, subscribed with QoS 1 to `<prefix>/+/tracks/+`; paho's network thread
reconnects by itself (1 s, doubling to 30 s) and every (re)connection subscribes again. A payload is handled on that
thread, and acknowledged to the broker only once handled: an authentic batch is stored by the tracks service before
the PUBACK. Whatever goes wrong with one payload is counted and logged, and the next one is read.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from deconfliction.domain.errors import DomainError
from deconfliction.domain.timewindow import format_time
from deconfliction.domain.track_auth import (
    DropReason,
    PartyCredential,
    PayloadRejected,
    TrackAuthenticator,
    topic_filter,
    topic_for,
)

log = logging.getLogger("deconfliction.mqtt")
Ingest = Callable[[str, str, list[Any]], object]  # (party, track_id, reports): store them, or raise DomainError
CredentialOf = Callable[[str], PartyCredential | None]
LOG_EVERY_S = 60.0  # a flood of bad payloads logs one warning per reason per minute; the rest at debug level
# Drops that happen before the topic's party is looked up: counted for that party only if it exists.
_BEFORE_LOOKUP = {DropReason.TOO_LARGE, DropReason.BAD_JSON, DropReason.BAD_PAYLOAD}


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is: `mqtt://[user:password@]host[:port]` (1883), or `mqtts://…` (TLS, 8883)."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("an MQTT broker URL is mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://…")
        tls = parts.scheme == "mqtts"
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls, user, password)

    def display(self) -> str:
        """The URL without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def client(self, client_id: str, clean_session: bool) -> paho.Client:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()
        client.enable_logger(logging.getLogger("deconfliction.mqtt.paho"))
        return client


class Counters:
    """What became of the payloads received: accepted, or dropped by reason; in all, and per party."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: Counter[str] = Counter()
        self._parties: dict[str, Counter[str]] = {}

    def count(self, outcome: str, party: str | None) -> None:
        with self._lock:
            self._all[outcome] += 1
            if party is not None:
                self._parties.setdefault(party, Counter())[outcome] += 1

    def view(self, party: str | None = None) -> dict[str, Any]:
        with self._lock:
            counts = Counter(self._all if party is None else self._parties.get(party, Counter()))
        dropped = {r.value: counts[r.value] for r in DropReason}
        return {
            "received": counts["accepted"] + sum(dropped.values()),
            "accepted": counts["accepted"],
            "dropped": dropped,
        }


class TrackSubscriber:
    """Takes live tracks from the broker and hands each authentic batch to `ingest`."""

    def __init__(
        self,
        url: str,
        prefix: str,
        ingest: Ingest,
        credential_of: CredentialOf,
        *,
        max_payload_bytes: int = 65_536,
        max_skew_s: float = 120.0,
        client_id: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = Broker.parse(url)
        self.auth = TrackAuthenticator(prefix, max_payload_bytes, max_skew_s)
        self.ingest = ingest
        self.credential_of = credential_of
        self.clock = clock
        # A chosen id keeps a persistent session: the broker holds QoS 1 reports while the server is away.
        self.client_id = client_id or f"deconf-{secrets.token_hex(6)}"
        self.persistent = bool(client_id)
        self.counters = Counters()
        self.subscribed = threading.Event()  # set once the broker granted the subscription; cleared on disconnect
        self.connected_at: datetime | None = None
        self.last_error: str | None = None
        self._last_logged: dict[DropReason, float] = {}
        self._client: paho.Client | None = None

    @property
    def topic(self) -> str:
        return topic_filter(self.auth.prefix)

    def start(self) -> None:
        """Connect in the background; an unreachable broker is retried until `stop`."""
        if self._client is not None:
            return
        client = self.broker.client(self.client_id, clean_session=not self.persistent)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()
        self._client = client
        log.info("MQTT: connecting to %s for %s", self.broker.display(), self.topic)

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
            self.subscribed.clear()

    def status(self, party: str | None = None) -> dict[str, Any]:
        """The connection and the counts: all of them, or those of one party's topics."""
        out: dict[str, Any] = {
            "enabled": True,
            "connected": self.subscribed.is_set(),
            "topic": self.topic if party is None else topic_for(self.auth.prefix, party, "{track_id}"),
        }
        if party is None:
            since = None if self.connected_at is None else format_time(self.connected_at)
            out.update(broker=self.broker.display(), connected_since=since, last_error=self.last_error)
        return out | self.counters.view(party)

    def handle(self, topic: str, payload: bytes) -> DropReason | None:
        """Authenticate one payload and ingest it; None when accepted, else why it was dropped. Never raises."""
        party: str | None = None
        try:
            batch = self.auth.authenticate(topic, payload, self.credential_of, self.clock())
            party = batch.party
            self.ingest(batch.party, batch.track_id, batch.reports)
        except PayloadRejected as exc:
            reason, detail = exc.reason, exc.detail
            party = self._party_to_count(topic, reason)
        except DomainError as exc:
            reason, detail = DropReason.INVALID_REPORT, exc.detail
        except Exception as exc:  # a failure to store one batch must not stop the subscriber
            log.exception("MQTT: ingesting a batch from %r failed", topic)
            reason, detail = DropReason.INGEST_FAILED, repr(exc)
        else:
            self.counters.count("accepted", party)
            return None
        self.counters.count(reason.value, party)
        self._log_drop(reason, topic, detail)
        return reason

    def _party_to_count(self, topic: str, reason: DropReason) -> str | None:
        party = self.auth.party_of(topic)
        if party is None or reason in (DropReason.BAD_TOPIC, DropReason.UNKNOWN_PARTY):
            return None
        if reason in _BEFORE_LOOKUP and self.credential_of(party) is None:
            return None  # parties named by unauthenticated topics are not counted: they could be anything
        return party

    def _log_drop(self, reason: DropReason, topic: str, detail: str) -> None:
        now = time.monotonic()
        loud = now - self._last_logged.get(reason, -LOG_EVERY_S) >= LOG_EVERY_S
        if loud:
            self._last_logged[reason] = now
        log.log(logging.WARNING if loud else logging.DEBUG, "MQTT: dropped a payload on %r (%s)", topic[:200], detail)

    # paho callbacks, on its network thread ----------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, code: ReasonCode, _p: Properties | None) -> None:
        if code.is_failure:
            self.last_error = f"connection refused: {code}"
            log.warning("MQTT: %s refused the connection: %s", self.broker.display(), code)
            return
        self.connected_at = datetime.now(UTC)
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self, _c: paho.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Properties | None
    ) -> None:
        if codes and not codes[0].is_failure:
            self.subscribed.set()
            log.info("MQTT: subscribed to %s on %s", self.topic, self.broker.display())
        else:
            self.last_error = f"subscription to {self.topic} refused"
            log.warning("MQTT: %s", self.last_error)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, code: ReasonCode, _p: Properties | None) -> None:
        self.subscribed.clear()
        self.connected_at = None
        if self._client is not None:  # not our own stop(): paho reconnects
            self.last_error = f"disconnected: {code}"
            log.warning("MQTT: lost %s (%s); reconnecting", self.broker.display(), code)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            self.counters.count(DropReason.BAD_TOPIC.value, None)
            return
        self.handle(topic, bytes(message.payload))


def publish(url: str, topic: str, payload: bytes, timeout_s: float = 10.0) -> None:
    """Publish one payload with QoS 1 and wait until the broker has it (PUBACK). Raises ConnectionError/TimeoutError."""
    broker = Broker.parse(url)
    client = broker.client(f"deconf-pub-{secrets.token_hex(6)}", clean_session=True)
    answered = threading.Event()
    refused: list[str] = []

    def on_connect(_c: paho.Client, _u: Any, _f: Any, code: ReasonCode, _p: Properties | None) -> None:
        if code.is_failure:
            refused.append(str(code))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"no MQTT broker answers at {broker.display()}: {exc}") from None
    client.loop_start()
    try:
        if not answered.wait(timeout_s) or refused:
            raise ConnectionError(f"{broker.display()} refused the connection: {refused or 'no answer'}")
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise TimeoutError(f"{broker.display()} did not acknowledge the publication within {timeout_s} s")
    finally:
        client.disconnect()
        client.loop_stop()
