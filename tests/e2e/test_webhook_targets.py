"""Webhook registration over real HTTP against `deconf serve` with no webhook_allow_hosts, as a hostile party tries
it: every URL that could turn the server against its own host or network is refused with 422 naming `url` and
nothing is stored; a party has at most webhook_max_per_party webhooks; a suspended party registers no webhook and
gets no MQTT secret.

Nothing here is delivered: the accepted URLs are public addresses, removed before any event is raised for their
parties.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.channel import Channel
from tests.e2e.conftest import start_server

pytestmark = pytest.mark.slow

PUBLIC_URL = "http://192.88.99.1/hook"  # never tried: no event is raised for its party while it is registered


@pytest.fixture(scope="module")
def ch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Channel]:
    tmp = tmp_path_factory.mktemp("webhook-targets")
    server = start_server(tmp, extra_env={"DECONF_WEBHOOK_ALLOW_HOSTS": "", "DECONF_WEBHOOK_MAX_PER_PARTY": "3"})
    channel = Channel(server)
    try:
        for pid in ("sdf", "saa", "russia"):
            channel.party(pid)
        yield channel
    finally:
        channel.close()
        server.stop()


REFUSED = [
    "http://127.0.0.1/v1/parties",
    "http://127.0.0.1:1/",
    "http://localhost/dss/v1/reports",  # a name: refused once resolved (to the loopback)
    "http://user:hunter2@127.0.0.1/metrics",
    "http://user:hunter2@192.88.99.1/metrics",  # credentials, even to a public address
    "http://10.0.0.5/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://8.8.8.8:8080/",  # public, but not port 80 or 443
    "http://8.8.8.8:22/",
    "http://no-such-host.invalid/hook",  # does not resolve
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_webhook_url_that_is_not_a_public_target_is_422_naming_url_and_stores_nothing(ch: Channel, url: str) -> None:
    r = ch.call("sdf", "POST", "/v1/webhooks", json={"url": url})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "url" and r.headers["content-type"].startswith("application/problem+json")
    assert "hunter2" not in problem["detail"], "credentials are never echoed"
    assert ch.ok("sdf", "GET", "/v1/webhooks") == []


def test_a_party_has_at_most_the_configured_number_of_webhooks(ch: Channel) -> None:
    made = [ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": f"{PUBLIC_URL}/{i}"})["id"] for i in range(3)]
    assert all(h["paused"] is False for h in ch.ok("saa", "GET", "/v1/webhooks"))
    over = ch.call("saa", "POST", "/v1/webhooks", json={"url": f"{PUBLIC_URL}/3"})
    assert over.status_code == 409 and "3 webhooks" in over.json()["detail"], over.text
    assert len(ch.ok("saa", "GET", "/v1/webhooks")) == 3
    # another party's allowance is its own
    other = ch.ok("russia", "POST", "/v1/webhooks", 201, json={"url": PUBLIC_URL})
    assert ch.call("saa", "DELETE", f"/v1/webhooks/{made[0]}").status_code == 204
    again = ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": f"{PUBLIC_URL}/4"})
    for who, hook in [("saa", h) for h in (*made[1:], again["id"])] + [("russia", other["id"])]:
        assert ch.call(who, "DELETE", f"/v1/webhooks/{hook}").status_code == 204


def test_a_suspended_party_registers_no_webhook_and_gets_no_mqtt_secret_but_still_reads(ch: Channel) -> None:
    ch.party("suspended-one")
    ch.ok("admin", "PATCH", "/v1/parties/suspended-one", json={"status": "suspended"})
    try:
        refused = ch.call("suspended-one", "POST", "/v1/webhooks", json={"url": PUBLIC_URL})
        assert refused.status_code == 403 and "suspended" in refused.json()["detail"], refused.text
        secret = ch.call("suspended-one", "POST", "/v1/mqtt/secret")
        assert secret.status_code == 403 and "suspended" in secret.json()["detail"], secret.text
        resumed = ch.call("suspended-one", "POST", "/v1/webhooks/2f8343be-6482-4d1b-a474-16847e01af1e/resume")
        assert resumed.status_code == 403, resumed.text
        assert ch.ok("suspended-one", "GET", "/v1/webhooks") == []
        assert ch.ok("suspended-one", "GET", "/v1/mqtt/status")["secret_created_at"] is None
    finally:
        ch.ok("admin", "PATCH", "/v1/parties/suspended-one", json={"status": "active"})
    assert ch.ok("suspended-one", "POST", "/v1/mqtt/secret", 201)["secret"]
