"""Live tracks over MQTT with real processes: `deconf serve` subscribed to the Mosquitto broker on 127.0.0.1:1883,
parties getting their secrets over HTTP and publishing signed reports with paho (or `deconf mqtt publish`).

Each test runs its server under a topic prefix of its own, so parallel runs on the same broker never collide. Without
the broker these tests fail: they never skip.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from deconfliction.domain.track_auth import sign
from tests.e2e.channel import Channel
from tests.e2e.conftest import Server, clean_env, run_cli
from tests.webhook_receiver import eventually

pytestmark = pytest.mark.slow
BROKER = "mqtt://127.0.0.1:1883"


@pytest.fixture
def channel(server_factory: Callable[..., Server]) -> Iterator[tuple[Channel, str]]:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=2.0).close()
    except OSError as exc:
        pytest.fail(f"no MQTT broker at 127.0.0.1:1883 ({exc}); these tests need Mosquitto running")
    prefix = f"deconf-e2e-{uuid.uuid4().hex[:12]}"
    server = server_factory(extra_env={"DECONF_MQTT_URL": BROKER, "DECONF_MQTT_TOPIC_PREFIX": prefix})
    ch = Channel(server)
    try:
        eventually(lambda: ch.ok("admin", "GET", "/v1/mqtt/status")["connected"], 15.0, "the server subscribes")
        for pid in ("sdf", "saa"):
            ch.party(pid)
        yield ch, prefix
    finally:
        ch.close()


class Publisher:
    """A party's publisher: plain paho and the documented signing rule."""

    def __init__(self) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"party-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()

    def send(self, topic: str, body: bytes) -> None:
        info = self.client.publish(topic, body, qos=1)
        info.wait_for_publish(10.0)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    p = Publisher()
    yield p
    p.close()


def secret_of(ch: Channel, party: str) -> str:
    issued = ch.ok(party, "POST", "/v1/mqtt/secret", 201)
    assert issued["party"] == party and issued["enabled"] is True
    secret: str = issued["secret"]
    return secret


def report_now(lon: float = 40.1405, lat: float = 35.3354) -> dict[str, Any]:
    return {"t": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "lon": lon, "lat": lat, "speed_mps": 4.0}


def signed(secret: str, party: str, track_id: str, reports: list[dict[str, Any]]) -> bytes:
    return json.dumps(sign(secret, party, track_id, reports, int(time.time()))).encode()


def test_forged_moved_and_replayed_payloads_are_dropped_counted_and_survived(
    channel: tuple[Channel, str], publisher: Publisher
) -> None:
    ch, prefix = channel
    sdf, saa = secret_of(ch, "sdf"), secret_of(ch, "saa")
    topic = f"{prefix}/sdf/tracks/boat-7"
    genuine = signed(sdf, "sdf", "boat-7", [report_now()])
    publisher.send(topic, genuine)
    publisher.send(topic, genuine)  # replayed
    publisher.send(topic, signed(saa, "sdf", "boat-7", [report_now()]))  # saa writing as sdf
    publisher.send(topic, signed(saa, "saa", "boat-7", [report_now()]))  # saa's own payload moved to sdf's topic
    publisher.send(f"{prefix}/nobody/tracks/x", signed(saa, "nobody", "x", [report_now()]))
    publisher.send(topic, b"{not json")
    publisher.send(topic, b"x" * 70_000)  # over mqtt_max_payload_bytes (64 KiB by default)
    admin = eventually(
        lambda: (v := ch.ok("admin", "GET", "/v1/mqtt/status"))["received"] == 7 and v, 10.0, "7 payloads counted"
    )
    dropped = admin["dropped"]
    assert admin["accepted"] == 1 and sum(dropped.values()) == 6
    assert (dropped["replay"], dropped["bad_mac"], dropped["unknown_party"]) == (1, 2, 1)
    assert (dropped["bad_json"], dropped["too_large"]) == (1, 1)
    mine = ch.ok("sdf", "GET", "/v1/mqtt/status")
    assert mine["received"] == 6 and mine["dropped"]["bad_mac"] == 2 and "broker" not in mine
    assert ch.ok("saa", "GET", "/v1/mqtt/status")["received"] == 0
    assert ch.ok("admin", "GET", "/healthz")["status"] == "ok"  # still serving after all of it


def test_a_signed_report_published_by_a_party_becomes_its_track(
    channel: tuple[Channel, str], publisher: Publisher
) -> None:
    ch, prefix = channel
    secret = secret_of(ch, "sdf")
    first, second = report_now(40.1405, 35.3354), report_now(40.1410, 35.3354)
    second["t"] = first["t"].replace("Z", ".5Z")  # half a second later
    publisher.send(f"{prefix}/sdf/tracks/boat-7", signed(secret, "sdf", "boat-7", [first, second]))

    def listed() -> list[dict[str, Any]]:
        return [t for t in ch.ok("sdf", "GET", "/v1/tracks") if t["id"] == "boat-7"]

    (track,) = eventually(listed, 10.0, "GET /v1/tracks lists boat-7")
    assert (track["party"], track["source"], track["reports"]) == ("sdf", "mqtt", 2)
    assert track["position"]["coordinates"] == [40.141, 35.3354]
    assert ch.ok("saa", "GET", "/v1/tracks") == []  # published on sdf's topic: sdf's track, and no one else's
    mine = ch.ok("sdf", "GET", "/v1/mqtt/status")
    assert (mine["received"], mine["accepted"]) == (1, 1)
    # an authentic batch the tracks service refuses is dropped whole, and counted
    bad = {**report_now(), "lat": 91}
    publisher.send(f"{prefix}/sdf/tracks/boat-8", signed(secret, "sdf", "boat-8", [report_now(), bad]))
    eventually(lambda: ch.ok("sdf", "GET", "/v1/mqtt/status")["dropped"]["invalid_report"] == 1, 10.0, "refused")
    assert [t["id"] for t in ch.ok("sdf", "GET", "/v1/tracks")] == ["boat-7"]


def test_the_cli_gets_a_secret_publishes_and_shows_the_counts(channel: tuple[Channel, str]) -> None:
    ch, prefix = channel
    env = clean_env(DECONF_URL=ch.server.url, DECONF_TOKEN=ch.tokens["sdf"])
    got = run_cli("mqtt", "secret", "--quiet", env=env)
    assert got.code == 0, got.output
    secret = got.stdout.strip()
    assert secret.startswith("mqsec_")
    publish_env = {**env, "DECONF_PARTY": "sdf", "DECONF_MQTT_SECRET": secret, "DECONF_MQTT_TOPIC_PREFIX": prefix}
    sent = run_cli(
        "mqtt",
        "publish",
        "boat-7",
        "--lon",
        "40.14",
        "--lat",
        "35.33",
        "--speed-mps",
        "4",
        "--course-deg",
        "90",
        env=publish_env,
    )
    assert sent.code == 0, sent.output
    assert f"{prefix}/sdf/tracks/boat-7" in sent.stdout
    wrong = run_cli(
        "mqtt", "publish", "boat-7", "--lon", "40", "--lat", "35", env={**publish_env, "DECONF_PARTY": "saa"}
    )
    assert wrong.code == 0, wrong.output  # the broker takes anything; the server drops it
    view = eventually(lambda: (v := ch.ok("sdf", "GET", "/v1/mqtt/status"))["received"] == 1 and v, 10.0, "counted")
    assert view["accepted"] == 1 and view["secret_created_at"] is not None
    (track,) = ch.ok("sdf", "GET", "/v1/tracks")
    assert (track["id"], track["source"], track["speed_mps"], track["course_deg"]) == ("boat-7", "mqtt", 4.0, 90.0)
    # on saa's topic, signed with sdf's secret: saa has none
    admin = eventually(lambda: (v := ch.ok("admin", "GET", "/v1/mqtt/status"))["received"] == 2 and v, 10.0, "2")
    assert admin["dropped"]["no_secret"] == 1
    shown = run_cli("mqtt", "status", env=env)
    assert shown.code == 0 and "received" in shown.stdout, shown.output
    off = run_cli(
        "mqtt", "publish", "b", "--lon", "1", "--lat", "1", env={**publish_env, "DECONF_MQTT_URL": "mqtt://127.0.0.1:1"}
    )
    assert off.code == 1 and "Not published" in off.output
