"""The MQTT subscriber against the real Mosquitto broker on 127.0.0.1:1883: signed reports published with paho, as a
party would, reach the ingest function with their party and track; forgeries do not. Fails if no broker runs.

Every test uses its own topic prefix, so parallel runs on the same broker never see each other's messages.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from deconfliction.adapters.mqtt import Broker, TrackSubscriber, publish
from deconfliction.api.app import create_app
from deconfliction.bootstrap import wire
from deconfliction.config import SettingsError, load_settings
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.track_auth import DropReason, PartyCredential, new_secret, sign
from deconfliction.services import mqtt as mqtt_service
from tests.conftest import Api, make_settings

BROKER = "mqtt://127.0.0.1:1883"
SECRETS = {"sdf": new_secret(), "saa": new_secret()}
REPORT = {"t": "2017-09-09T05:00:00Z", "lon": 40.1405, "lat": 35.3354}
WAIT_S = 10.0


def credential_of(party: str) -> PartyCredential | None:
    secret = SECRETS.get(party)
    return None if secret is None else PartyCredential(secret, active=True)


class Recorder:
    """A real ingest function: remembers each batch handed to it (or raises what it is told to)."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, str, list[Any]]] = []
        self.fail_with: Exception | None = None
        self._cond = threading.Condition()

    def __call__(self, party: str, track_id: str, reports: list[Any]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        with self._cond:
            self.batches.append((party, track_id, reports))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout_s: float = WAIT_S) -> list[tuple[str, str, list[Any]]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.batches) >= count, timeout_s)
            return list(self.batches)


@pytest.fixture
def broker() -> None:
    """The broker must be there: these tests fail, never skip, without it."""
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=2.0).close()
    except OSError as exc:
        pytest.fail(f"no MQTT broker at 127.0.0.1:1883 ({exc}); these tests need Mosquitto running")


@pytest.fixture
def prefix() -> str:
    return f"deconf-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def subscribe(broker: None, prefix: str) -> Iterator[Callable[..., tuple[TrackSubscriber, Recorder]]]:
    started: list[TrackSubscriber] = []

    def make(**kwargs: Any) -> tuple[TrackSubscriber, Recorder]:
        recorder = Recorder()
        sub = TrackSubscriber(BROKER, prefix, recorder, credential_of, **kwargs)
        sub.start()
        started.append(sub)
        assert sub.subscribed.wait(WAIT_S), f"not subscribed within {WAIT_S} s: {sub.last_error}"
        return sub, recorder

    yield make
    for sub in started:
        sub.stop()


class Party:
    """A party's own publisher: plain paho, no code of the server's but the documented signing rule."""

    def __init__(self) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"party-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()

    def send(self, topic: str, body: bytes) -> None:
        info = self.client.publish(topic, body, qos=1)
        info.wait_for_publish(WAIT_S)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def party(broker: None) -> Iterator[Party]:
    p = Party()
    yield p
    p.close()


def signed(secret_of: str, party: str, track: str, reports: list[Any] | None = None) -> bytes:
    return json.dumps(sign(SECRETS[secret_of], party, track, reports or [REPORT], int(time.time()))).encode()


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_signed_reports_reach_ingest_with_their_party_and_track(subscribe: Any, party: Party, prefix: str) -> None:
    sub, recorder = subscribe()
    party.send(f"{prefix}/sdf/tracks/boat-7", signed("sdf", "sdf", "boat-7"))
    second = [{**REPORT, "t": "2017-09-09T05:00:10Z", "lon": 40.2}, {**REPORT, "t": "2017-09-09T05:00:20Z"}]
    party.send(f"{prefix}/saa/tracks/convoy", signed("saa", "saa", "convoy", second))
    got = recorder.wait_for(2)
    assert sorted(got) == sorted([("sdf", "boat-7", [REPORT]), ("saa", "convoy", second)])
    view = sub.status()
    assert view["connected"] and view["topic"] == f"{prefix}/+/tracks/+" and view["broker"] == BROKER
    assert (view["received"], view["accepted"]) == (2, 2)


def test_a_payload_signed_by_one_party_on_anothers_topic_is_dropped(subscribe: Any, party: Party, prefix: str) -> None:
    sub, recorder = subscribe()
    forged = signed("saa", "sdf", "boat-7")  # saa's secret, sdf's name: the MAC must be sdf's
    party.send(f"{prefix}/sdf/tracks/boat-7", forged)
    party.send(f"{prefix}/sdf/tracks/boat-7", signed("saa", "saa", "boat-7"))  # saa's own payload, moved
    genuine = signed("sdf", "sdf", "boat-7")
    party.send(f"{prefix}/sdf/tracks/boat-7", genuine)
    party.send(f"{prefix}/sdf/tracks/boat-7", genuine)  # replayed
    assert wait_until(lambda: sub.status()["received"] == 4)
    assert recorder.batches == [("sdf", "boat-7", [REPORT])]
    view = sub.status()
    assert view["dropped"]["bad_mac"] == 2 and view["dropped"]["replay"] == 1 and view["accepted"] == 1
    # sdf sees what happened on its topics; saa, whose payload was moved, sees nothing of it
    assert sub.status("sdf")["dropped"]["bad_mac"] == 2
    assert sub.status("saa")["received"] == 0


def test_the_subscriber_reconnects_and_subscribes_again(subscribe: Any, party: Party, prefix: str) -> None:
    sub, recorder = subscribe()
    # Another connection under the subscriber's client id makes the broker drop the subscriber's.
    intruder = paho.Client(CallbackAPIVersion.VERSION2, client_id=sub.client_id, reconnect_on_failure=False)
    intruder.connect("127.0.0.1", 1883)
    intruder.loop_start()
    try:
        assert wait_until(lambda: not sub.subscribed.is_set()), "the broker did not drop the subscriber"
    finally:
        intruder.disconnect()
        intruder.loop_stop()
    assert sub.subscribed.wait(35.0), f"no reconnection: {sub.last_error}"
    party.send(f"{prefix}/sdf/tracks/boat-7", signed("sdf", "sdf", "boat-7"))
    assert recorder.wait_for(1) == [("sdf", "boat-7", [REPORT])]


def test_a_chosen_client_id_keeps_reports_published_while_the_server_was_away(
    subscribe: Any, party: Party, prefix: str
) -> None:
    client_id = f"deconf-test-{uuid.uuid4().hex[:12]}"
    first, _ = subscribe(client_id=client_id)
    first.stop()
    party.send(f"{prefix}/sdf/tracks/boat-7", signed("sdf", "sdf", "boat-7"))  # nobody connected to take it
    _, recorder = subscribe(client_id=client_id)
    assert recorder.wait_for(1) == [("sdf", "boat-7", [REPORT])]


def test_the_publish_helper_waits_for_the_brokers_acknowledgement(subscribe: Any, prefix: str) -> None:
    _, recorder = subscribe()
    publish(BROKER, f"{prefix}/saa/tracks/t9", signed("saa", "saa", "t9"))
    assert recorder.wait_for(1) == [("saa", "t9", [REPORT])]
    with pytest.raises(ConnectionError, match="no MQTT broker answers"):
        publish("mqtt://127.0.0.1:1", f"{prefix}/saa/tracks/t9", b"{}", timeout_s=2.0)


def test_failures_of_ingest_are_counted_and_the_subscriber_goes_on(
    subscribe: Any, party: Party, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    sub, recorder = subscribe()
    recorder.fail_with = InvalidInput("[0].lat must be within ±90", field="[0].lat")
    party.send(f"{prefix}/sdf/tracks/boat-7", signed("sdf", "sdf", "boat-7"))
    assert wait_until(lambda: sub.status()["dropped"]["invalid_report"] == 1)
    recorder.fail_with = RuntimeError("disk on fire")
    with caplog.at_level(logging.ERROR, logger="deconfliction.mqtt"):
        party.send(f"{prefix}/sdf/tracks/boat-7", signed("sdf", "sdf", "boat-7"))
        assert wait_until(lambda: sub.status()["dropped"]["ingest_failed"] == 1)
    assert "disk on fire" in caplog.text
    party.send(f"{prefix}/sdf/tracks/boat-7", b"\x00 not json")
    party.send(f"{prefix}/nobody/tracks/boat-7", signed("sdf", "nobody", "boat-7"))
    recorder.fail_with = None
    party.send(f"{prefix}/sdf/tracks/boat-7", signed("sdf", "sdf", "boat-7"))
    assert recorder.wait_for(1) == [("sdf", "boat-7", [REPORT])]
    dropped = sub.status()["dropped"]
    assert (dropped["bad_json"], dropped["unknown_party"]) == (1, 1)
    # payloads naming no party of the channel are counted in all, never as a party of their own
    assert sub.status("nobody")["received"] == 0 and sub.status("sdf")["received"] == 4


def test_handle_never_raises_whatever_the_topic_and_payload() -> None:
    sub = TrackSubscriber(BROKER, "deconf", Recorder(), credential_of, max_payload_bytes=100)
    assert sub.handle("deconf/sdf/tracks/t1", b"x" * 101) is DropReason.TOO_LARGE
    assert sub.handle("elsewhere", b"{}") is DropReason.BAD_TOPIC
    assert sub.handle("deconf/sdf/tracks/t1", b'{"reports": 1}') is DropReason.BAD_PAYLOAD
    assert sub.status("sdf")["dropped"]["too_large"] == 1  # sdf exists: its topic's drops are its to see


def test_broker_urls() -> None:
    assert Broker.parse("mqtt://127.0.0.1") == Broker("127.0.0.1", 1883, False)
    tls = Broker.parse("mqtts://deconf%40ops:p%2Fw@broker.example.org")
    assert tls == Broker("broker.example.org", 8883, True, "deconf@ops", "p/w")
    assert tls.display() == "mqtts://deconf@ops@broker.example.org:8883"  # never the password
    for bad in ("http://x", "mqtt://", "127.0.0.1:1883"):
        with pytest.raises(ValueError):
            Broker.parse(bad)


@pytest.mark.parametrize(
    "values",
    [
        {"mqtt_url": "tcp://127.0.0.1:1883"},
        {"mqtt_url": "mqtt://:1883"},
        {"mqtt_url": "mqtt://host:99999"},
        {"mqtt_topic_prefix": "deconf/#"},
        {"mqtt_topic_prefix": ""},
        {"mqtt_max_skew_s": 0},
    ],
)
def test_bad_mqtt_settings_are_refused_at_start(values: dict[str, Any]) -> None:
    with pytest.raises(SettingsError):
        load_settings(env={}, overrides=values)


def test_mqtt_settings_from_the_environment() -> None:
    env = {"DECONF_MQTT_URL": BROKER, "DECONF_MQTT_TOPIC_PREFIX": "org/deconf", "DECONF_MQTT_MAX_SKEW_S": "30"}
    settings = load_settings(env=env)
    assert (settings.mqtt_url, settings.mqtt_topic_prefix, settings.mqtt_max_skew_s) == (BROKER, "org/deconf", 30.0)
    assert load_settings(env={}).mqtt_url == ""  # off unless configured


# --------------------------------------------------------------------------------------------------------------------
# Through the API: secrets issued over HTTP and kept in the store, the subscriber's counts served to admin and parties
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def channel(broker: None, tmp_path: Path, prefix: str) -> Iterator[tuple[Api, TrackSubscriber, Recorder]]:
    settings = make_settings(tmp_path, mqtt_url=BROKER, mqtt_topic_prefix=prefix)
    wired = wire(settings)
    recorder = Recorder()
    # The wired subscriber hands batches to the tracks service; this one records them, reading secrets from the store.
    sub = TrackSubscriber(BROKER, prefix, recorder, lambda p: mqtt_service.credential_of(wired.ctx, p))
    assert isinstance(wired.background.mqtt, TrackSubscriber)
    wired.background.mqtt = sub
    try:
        with TestClient(create_app(settings, wired.ctx, wired.hub, wired.background)) as client:
            assert sub.subscribed.wait(WAIT_S), f"not subscribed within {WAIT_S} s: {sub.last_error}"
            yield Api(client), sub, recorder
    finally:
        wired.ctx.close()


def test_secrets_issued_over_http_authenticate_payloads_and_rotate(
    channel: tuple[Api, TrackSubscriber, Recorder], party: Party, prefix: str
) -> None:
    api, sub, recorder = channel
    api.add_party("sdf")
    api.add_party("saa")
    r = api.call("sdf", "POST", "/v1/mqtt/secret")
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["party"] == "sdf" and issued["enabled"] is True
    assert issued["topic"] == f"{prefix}/sdf/tracks/{{track_id}}"
    first = issued["secret"]

    def send(secret: str, party_id: str = "sdf") -> None:
        body = sign(secret, party_id, "boat-7", [REPORT], int(time.time()))
        party.send(f"{prefix}/{party_id}/tracks/boat-7", json.dumps(body).encode())

    send(first)
    assert recorder.wait_for(1) == [("sdf", "boat-7", [REPORT])]
    second = api.call("sdf", "POST", "/v1/mqtt/secret").json()["secret"]
    assert second != first
    send(first)  # the previous secret stops working at once
    send(second)
    send(second, "saa")  # saa never asked for a secret
    assert recorder.wait_for(2)[1:] == [("sdf", "boat-7", [REPORT])]
    assert api.call("admin", "PATCH", "/v1/parties/sdf", json={"status": "suspended"}).status_code == 200
    send(second)
    assert wait_until(lambda: sub.status()["received"] == 5)

    mine = api.call("sdf", "GET", "/v1/mqtt/status").json()
    assert mine["accepted"] == 2 and mine["topic"] == f"{prefix}/sdf/tracks/{{track_id}}"
    assert (mine["dropped"]["bad_mac"], mine["dropped"]["party_inactive"]) == (1, 1)
    assert mine["secret_created_at"] is not None and "broker" not in mine
    theirs = api.call("saa", "GET", "/v1/mqtt/status").json()
    assert (theirs["received"], theirs["dropped"]["no_secret"], theirs["secret_created_at"]) == (1, 1, None)
    admin = api.call("admin", "GET", "/v1/mqtt/status").json()
    assert admin["connected"] and admin["broker"] == BROKER and admin["received"] == 5
    assert "secret_created_at" not in admin
    assert api.call("admin", "POST", "/v1/mqtt/secret").status_code == 403  # the admin is no party


def test_the_status_says_when_mqtt_is_off(api: Api) -> None:
    api.add_party("sdf")
    assert api.call("admin", "GET", "/v1/mqtt/status").json() == {"enabled": False}
    assert api.call("sdf", "GET", "/v1/mqtt/status").json() == {"enabled": False, "secret_created_at": None}
    issued = api.call("sdf", "POST", "/v1/mqtt/secret").json()  # a secret can be had before MQTT is switched on
    assert issued["enabled"] is False and issued["secret"].startswith("mqsec_")
    assert api.call("sdf", "GET", "/v1/mqtt/status").json()["secret_created_at"] == issued["created_at"]
    assert api.client.get("/v1/mqtt/status").status_code == 401
