"""Delivery over real processes: event streams resumed across a restart, webhooks retried after their receiver was
down or the server crashed, and missed deadlines escalated.

Each test starts `deconf serve` on a real SQLite file; webhook receivers are small HTTP servers in this process.
"""

from __future__ import annotations

import hashlib
import hmac
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.channel import Channel, area, deir_ez_zor
from tests.e2e.conftest import Server, SseEvent, SseStream
from tests.webhook_receiver import Hostile, Received, Receiver, eventually

pytestmark = pytest.mark.slow


def every_event(ch: Channel, who: str) -> list[SseEvent]:
    """The party's whole stream from the beginning, read until it falls idle."""
    with ch.stream(who, last_event_id="0") as stream:
        events = stream.drain(timeout_s=5.0)
        assert stream.error is None, stream.error
    return events


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(answer=lambda _: 503)
    try:
        yield r
    finally:
        r.close()


def check_signed(secret: str, r: Received) -> None:
    """The headers a receiver checks: the HMAC over "<timestamp>.<body>", a fresh timestamp, the event id."""
    stamp = r.headers["x-deconf-timestamp"]
    assert stamp.isdigit() and abs(int(stamp) - time.time()) < 120, stamp
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + r.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(r.headers["x-deconf-signature"], "sha256=" + mac), r.headers
    assert r.headers["x-deconf-event-id"] == str(r.event["id"])
    assert r.headers["content-type"].startswith("application/json")
    assert set(r.event) == {"id", "type", "at", "data"}


def webhook_state(ch: Channel, who: str, hook_id: str) -> dict[str, Any]:
    hooks = ch.ok(who, "GET", "/v1/webhooks")
    assert all("secret" not in h for h in hooks), "the secret is shown once, at registration"
    (hook,) = [h for h in hooks if h["id"] == hook_id]
    return dict(hook)


def saa_hears_of_four_things(ch: Channel) -> dict[str, str]:
    """Events for saa: a declaration shared with it, a conflict opened, acknowledged by sdf, a message received."""
    shared = ch.declare("sdf", area(40.50, 35.70, audience=["saa"], name="shared with saa"))
    ch.declare("sdf", area(40.20, 35.40))
    own = ch.declare("saa", area(40.20, 35.37))
    assert len(own["conflicts"]) == 1, own
    cid = own["conflicts"][0]["id"]
    ch.ok("sdf", "POST", f"/v1/conflicts/{cid}/ack")
    sent = ch.send("sdf", "saa")
    assert ch.approve("coalition", sent["id"])["status"] == "delivered"
    return {"declaration": shared["id"], "conflict": cid, "message": sent["id"]}


# --------------------------------------------------------------------------------------------------
# 1. SSE resumed across a restart
# --------------------------------------------------------------------------------------------------


def test_an_event_stream_resumes_across_a_restart_with_nothing_lost_or_repeated(
    server_factory: Callable[..., Server],
) -> None:
    first = server_factory()
    ch = Channel(first)
    try:
        deir_ez_zor(ch)
        stream = ch.stream("saa")
        try:
            ch.declare("sdf", area(40.20, 35.40))
            own = ch.declare("saa", area(40.20, 35.37))
            cid = own["conflicts"][0]["id"]
            ch.ok("sdf", "POST", f"/v1/conflicts/{cid}/ack")
            acked, before = stream.wait_for(lambda e: e.event == "conflict.acknowledged", timeout_s=5.0)
            assert acked is not None, [e.event for e in before]
            assert [e.event for e in before] == ["conflict.opened", "conflict.acknowledged"]
            code = first.stop(signal.SIGTERM)
            assert code is not None, "deconf serve did not stop on SIGTERM"
            # the stream ends with the server, and nothing more came on it
            assert stream.next_event(timeout_s=5.0) is None
        finally:
            stream.close()
    finally:
        ch.close()
    last_id = before[-1].id
    assert last_id is not None and last_id.isdigit()

    second = server_factory(db=first.db)
    ch2 = Channel(second, {p: t for p, t in ch.tokens.items() if p != "admin"})
    try:
        later = ch2.declare("russia", area(40.20, 35.34, audience=["saa"]))  # shared with saa, and conflicts with it
        assert "saa" in {c["other_party"] for c in later["conflicts"]}  # (sdf's area, hidden, may be too)
        sent = ch2.send("sdf", "saa")
        assert ch2.approve("coalition", sent["id"])["status"] == "delivered"

        with ch2.stream("saa", last_event_id=last_id) as resumed_stream:
            resumed = resumed_stream.drain(timeout_s=5.0)
            assert resumed_stream.error is None
        full = every_event(ch2, "saa")
    finally:
        ch2.close()

    ids = [int(e.id or 0) for e in full]
    assert ids == sorted(set(ids)), f"the stream from 0 repeats or reorders events: {ids}"
    # what was received before the restart is exactly the start of the full stream, under the same ids
    cut = int(last_id)
    assert [(e.id, e.event, e.data) for e in full if int(e.id or 0) <= cut] == [(e.id, e.event, e.data) for e in before]
    # resuming yields exactly the rest: none lost, none repeated
    assert [(e.id, e.event, e.data) for e in resumed] == [(e.id, e.event, e.data) for e in full if int(e.id or 0) > cut]
    kinds = [e.event for e in resumed]
    assert {"declaration.shared", "conflict.opened", "message.received"} <= set(kinds), kinds
    assert sent["id"] in {e.json()["data"]["id"] for e in resumed if e.event == "message.received"}


# --------------------------------------------------------------------------------------------------
# 2. Webhook retried after the receiver was down
# --------------------------------------------------------------------------------------------------


def test_a_webhook_is_retried_until_its_receiver_answers_and_then_gets_every_event_in_order(
    server: Server, receiver: Receiver
) -> None:
    ch = Channel(server)
    try:
        deir_ez_zor(ch)
        hook = ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": receiver.url})
        secret = hook["secret"]
        assert secret.startswith("whsec_") and len(secret) > 20
        assert hook["failures"] == 0 and hook["last_error"] is None
        registered_through = hook["delivered_through"]
        ids = saa_hears_of_four_things(ch)

        # nothing listens: the deliveries fail, and the webhook says so
        down = eventually(
            lambda: (s := webhook_state(ch, "saa", hook["id"]))["failures"] > 0 and s,
            10.0,
            "the webhook records a failed delivery",
        )
        assert down["last_error"] and down["delivered_through"] == registered_through
        assert receiver.requests() == []

        # the receiver comes up, but answers 503: still failing, now with the receiver's answer
        receiver.listen()
        busy = eventually(
            lambda: (s := webhook_state(ch, "saa", hook["id"]))["last_error"] == "HTTP 503" and s,
            10.0,
            "the webhook records the receiver's 503",
        )
        assert busy["failures"] >= 2 and busy["delivered_through"] == registered_through
        tried = receiver.requests()
        assert tried and {r.event["id"] for r in tried} == {tried[0].event["id"]}, "retries start with the first"

        receiver.answer = lambda _: 200
        expected = [
            int(e.id or 0) for e in every_event(ch, "saa") if int(e.id or 0) > registered_through
        ]  # the party's own stream is the truth
        assert len(expected) == 4, expected
        eventually(lambda: receiver.delivered_ids() == expected, 25.0, "every event reaches the receiver")

        # the receiver's answer comes before the job that saves the cursor: wait for that too
        done = eventually(
            lambda: (s := webhook_state(ch, "saa", hook["id"]))["delivered_through"] == expected[-1] and s,
            10.0,
            "the webhook's state records the deliveries",
        )
        assert done["failures"] == 0 and done["last_error"] is None
        assert done["delivered_through"] == expected[-1] and done["last_delivered_at"] is not None

        stream = {int(e.id or 0): e.json() for e in every_event(ch, "saa")}
        ok = [r for r in receiver.requests() if r.status == 200]
        assert [r.event["id"] for r in ok] == sorted(r.event["id"] for r in ok), "delivered out of order"
        for r in receiver.requests():
            check_signed(secret, r)
        for r in ok:
            assert r.event == stream[r.event["id"]], "the webhook body differs from the stream's event"
        types = {r.event["type"] for r in ok}
        assert {"declaration.shared", "conflict.opened", "conflict.acknowledged", "message.received"} <= types

        # the declaration shared with saa was seen by saa through the webhook (and its event stream, just now)
        seen = ch.ok("sdf", "GET", f"/v1/declarations/{ids['declaration']}/views")
        vias = [v["via"] for v in seen if v["party"] == "saa"]
        assert vias.count("webhook") == 1 and "event" in vias, seen
    finally:
        ch.close()


def test_a_webhook_gets_the_events_from_its_registration_until_its_removal_signed_with_its_secret(
    server: Server, receiver: Receiver
) -> None:
    ch = Channel(server)
    receiver.answer = lambda _: 200
    receiver.listen()
    try:
        deir_ez_zor(ch)
        before = ch.declare("sdf", area(40.50, 35.70, audience=["saa"]))  # told to saa before it registers
        secret = "a-secret-of-our-own-0123456789"
        hook = ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": receiver.url, "secret": secret})
        assert hook["secret"] == secret and hook["delivered_through"] > 0
        after = ch.declare("sdf", area(40.60, 35.70, audience=["saa"]))
        eventually(lambda: receiver.delivered_ids(), 10.0, "the event reaches the receiver")
        (r,) = receiver.requests()
        assert r.event["type"] == "declaration.shared"
        assert r.event["data"]["declaration"]["id"] == after["id"] != before["id"]
        # the signature binds the secret and the very bytes of the body
        check_signed(secret, r)
        with pytest.raises(AssertionError):
            check_signed("another-secret-0123456789", r)
        with pytest.raises(AssertionError):
            check_signed(secret, Received(r.status, r.headers, r.body.replace(b'"type"', b' "type"')))

        # another party can neither see nor remove it; once removed, nothing more is sent
        assert ch.ok("sdf", "GET", "/v1/webhooks") == []
        assert ch.call("sdf", "DELETE", f"/v1/webhooks/{hook['id']}").status_code == 404
        assert ch.call("saa", "DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204
        assert ch.ok("saa", "GET", "/v1/webhooks") == []
        ch.declare("sdf", area(40.70, 35.70, audience=["saa"]))
        time.sleep(2.5)  # longer than the deliverer's idle wait (1 s): it would have sent by now
        assert len(receiver.requests()) == 1

        short = ch.call("saa", "POST", "/v1/webhooks", json={"url": receiver.url, "secret": "short"})
        assert short.status_code == 422 and short.json()["field"] == "secret"
        bad_url = ch.call("saa", "POST", "/v1/webhooks", json={"url": "ftp://example.org/x"})
        assert bad_url.status_code == 422 and bad_url.json()["field"] == "url"
        assert ch.call("admin", "POST", "/v1/webhooks", json={"url": receiver.url}).status_code == 403
    finally:
        ch.close()


def test_a_declaration_is_recorded_as_seen_through_a_webhook_only_once_delivered(
    server: Server, receiver: Receiver
) -> None:
    ch = Channel(server)
    try:
        deir_ez_zor(ch)
        hook = ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": receiver.url})
        receiver.listen()  # answering 503 to everything until both events are waiting
        ch.declare("sdf", area(40.20, 35.40))
        assert len(ch.declare("saa", area(40.20, 35.37))["conflicts"]) == 1  # event 1: conflict.opened
        shared = ch.declare("sdf", area(41.0, 36.0, audience=["saa"]))  # event 2: declaration.shared
        eventually(lambda: webhook_state(ch, "saa", hook["id"])["failures"] > 0, 10.0, "a failed delivery")

        # now the receiver takes the conflict but keeps refusing the shared declaration
        receiver.answer = lambda e: 503 if e["type"] == "declaration.shared" else 200
        eventually(lambda: receiver.delivered_ids(), 15.0, "the conflict event is delivered")
        # refused twice: the round after the first refusal has surely finished its bookkeeping (one thread does both)
        eventually(
            lambda: [r.event["type"] for r in receiver.requests() if r.status == 503].count("declaration.shared") >= 2,
            15.0,
            "the shared declaration is tried and refused twice",
        )
        views = ch.ok("sdf", "GET", f"/v1/declarations/{shared['id']}/views")
        assert views == [], f"saa never received the declaration, yet it is recorded as seen: {views}"

        receiver.answer = lambda _: 200
        eventually(lambda: len(receiver.delivered_ids()) == 2, 20.0, "the shared declaration is delivered")
        views = ch.ok("sdf", "GET", f"/v1/declarations/{shared['id']}/views")
        assert [(v["party"], v["via"]) for v in views] == [("saa", "webhook")]
    finally:
        ch.close()


# --------------------------------------------------------------------------------------------------
# 3. A crash between commit and delivery
# --------------------------------------------------------------------------------------------------


def test_a_crash_between_commit_and_delivery_loses_no_webhook_event(
    server_factory: Callable[..., Server], receiver: Receiver
) -> None:
    first = server_factory()
    ch = Channel(first)
    receiver.listen()  # answering 503: every event is committed, none delivered
    try:
        deir_ez_zor(ch)
        hook = ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": receiver.url})
        saa_hears_of_four_things(ch)
        eventually(lambda: webhook_state(ch, "saa", hook["id"])["last_error"] == "HTTP 503", 10.0, "a refused delivery")
        committed = [int(e.id or 0) for e in every_event(ch, "saa") if int(e.id or 0) > hook["delivered_through"]]
        assert len(committed) == 4, committed
    finally:
        ch.close()
    assert receiver.delivered_ids() == []
    assert first.stop(signal.SIGKILL) is not None
    assert first.proc.returncode == -signal.SIGKILL

    second = server_factory(db=first.db)
    ch2 = Channel(second, {p: t for p, t in ch.tokens.items() if p != "admin"})
    try:
        receiver.answer = lambda _: 200
        eventually(lambda: receiver.delivered_ids() == committed, 25.0, "every committed event is delivered")
        assert [int(e.id or 0) for e in every_event(ch2, "saa") if int(e.id or 0) > hook["delivered_through"]] == (
            committed
        )
        state = webhook_state(ch2, "saa", hook["id"])
        assert state["delivered_through"] == committed[-1] and state["failures"] == 0
        for r in receiver.requests():
            check_signed(hook["secret"], r)
    finally:
        ch2.close()


def test_a_webhook_that_keeps_failing_is_paused_stays_paused_across_a_crash_and_resumes_with_nothing_lost(
    server_factory: Callable[..., Server], receiver: Receiver
) -> None:
    first = server_factory(extra_env={"DECONF_WEBHOOK_PAUSE_FAILURES": "2"})
    ch = Channel(first)
    receiver.listen()  # answering 503
    try:
        deir_ez_zor(ch)
        hook = ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": receiver.url})
        saa_hears_of_four_things(ch)
        paused = eventually(
            lambda: (s := webhook_state(ch, "saa", hook["id"]))["paused"] and s, 15.0, "the webhook is paused"
        )
        assert paused["failures"] == 2 and paused["last_error"] == "HTTP 503"
        told = [e.json() for e in every_event(ch, "saa") if e.event == "webhook.paused"]
        assert [e["data"]["id"] for e in told] == [hook["id"]] and told[0]["data"]["paused"] is True
    finally:
        ch.close()
    assert first.stop(signal.SIGKILL) is not None

    second = server_factory(db=first.db)
    ch2 = Channel(second, {p: t for p, t in ch.tokens.items() if p != "admin"})
    try:
        assert webhook_state(ch2, "saa", hook["id"])["paused"] is True  # a restart does not resume it
        receiver.answer = lambda _: 200
        resumed = ch2.ok("saa", "POST", f"/v1/webhooks/{hook['id']}/resume")
        assert resumed["paused"] is False and resumed["failures"] == 0 and resumed["last_error"] is None
        expected = [int(e.id or 0) for e in every_event(ch2, "saa") if int(e.id or 0) > hook["delivered_through"]]
        assert len(expected) == 5, expected  # the four, and the pause itself
        eventually(lambda: receiver.delivered_ids() == expected, 25.0, "every event, in order, after the resume")
        assert ch2.call("sdf", "POST", f"/v1/webhooks/{hook['id']}/resume").status_code == 404
    finally:
        ch2.close()


def test_one_partys_silent_webhooks_do_not_hold_up_another_partys(server_factory: Callable[..., Server]) -> None:
    # a deadline longer than the test waits: had saa's delivery waited behind russia's, it could not arrive in time
    server = server_factory(extra_env={"DECONF_WEBHOOK_TIMEOUT_S": "60"})
    ch = Channel(server)
    silent, honest = Hostile(), Receiver()
    honest.listen()
    try:
        deir_ez_zor(ch)
        for i in range(3):
            ch.ok("russia", "POST", "/v1/webhooks", 201, json={"url": silent.url(f"russia-{i}")})
        ch.ok("saa", "POST", "/v1/webhooks", 201, json={"url": honest.url})
        ch.declare("sdf", area(40.50, 35.70, audience=["russia"]))
        eventually(lambda: silent.open_connections() == 3, 10.0, "russia's three deliveries are held")
        shared = ch.declare("sdf", area(40.60, 35.70, audience=["saa"]))
        (got,) = eventually(honest.requests, 10.0, "saa's event is delivered")
        assert got.event["data"]["declaration"]["id"] == shared["id"]
        assert silent.open_connections() == 3, "delivered while russia's were still waiting"
    finally:
        ch.close()
        silent.close()
        honest.close()


# --------------------------------------------------------------------------------------------------
# 4. Missed deadlines escalate, and block nothing
# --------------------------------------------------------------------------------------------------


def deadline_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def overdue_of(stream: SseStream, message_ids: set[str], timeout_s: float) -> set[str]:
    """Read `stream` until it has told of every message in `message_ids` overdue (bounded); the ids it told of."""
    told: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while not message_ids <= told and time.monotonic() < deadline:
        event = stream.next_event(max(0.0, deadline - time.monotonic()))
        if event is None:
            break
        if event.event == "message.overdue":
            told.add(event.json()["data"]["id"])
    return told


def test_an_unacknowledged_message_past_its_deadline_escalates_to_the_sender_and_the_intermediaries_it_reached(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(extra_env={"DECONF_OVERDUE_CHECK_S": "0.2"})
    ch = Channel(server)
    streams: dict[str, SseStream] = {}
    try:
        deir_ez_zor(ch)
        for who in ("sdf", "coalition", "russia", "saa"):
            streams[who] = ch.stream(who)
        ack_by = deadline_in(4)
        late = ch.send("sdf", "saa", ack_by=ack_by, body="late")  # delivered, never acknowledged in time
        held = ch.send("sdf", "saa", ack_by=ack_by, body="held")  # stays in coalition's relay box
        on_time = ch.send("sdf", "saa", ack_by=ack_by, body="on time")  # acknowledged before the deadline
        no_deadline = ch.send("sdf", "saa", body="no deadline")
        for m in (late, on_time, no_deadline):
            assert ch.approve("coalition", m["id"])["status"] == "delivered"
        ch.ok("saa", "POST", f"/v1/messages/{on_time['id']}/ack")
        assert late["ack_by"] == ack_by
        assert ch.ok("sdf", "GET", f"/v1/messages/{late['id']}")["overdue"] is False
        assert datetime.now(UTC) < datetime.fromisoformat(ack_by), "the setup took longer than the deadline"

        both = {late["id"], held["id"]}
        assert overdue_of(streams["sdf"], both, 15.0) == both
        assert overdue_of(streams["coalition"], both, 5.0) == both
        # russia relayed the late message but never saw the held one
        assert overdue_of(streams["russia"], both, 3.0) == {late["id"]}
        # the recipient is not escalated to; it is the one that owes the acknowledgement
        assert overdue_of(streams["saa"], both, 1.0) == set()

        overdue = ch.ok("sdf", "GET", "/v1/messages", params={"box": "outbox", "overdue": "true"})
        assert {m["id"] for m in overdue} == both
        assert all(m["overdue"] is True and m["overdue_at"] for m in overdue)
        not_overdue = ch.ok("sdf", "GET", "/v1/messages", params={"box": "outbox", "overdue": "false"})
        assert {m["id"] for m in not_overdue} == {on_time["id"], no_deadline["id"]}
        relay_box = ch.ok("coalition", "GET", "/v1/messages", params={"box": "relay", "overdue": "true"})
        assert [m["id"] for m in relay_box] == [held["id"]]
        view = ch.ok("sdf", "GET", f"/v1/messages/{late['id']}")
        assert view["overdue"] is True
        assert datetime.fromisoformat(view["overdue_at"]) >= datetime.fromisoformat(ack_by)
        assert view["status"] == "delivered"

        # nothing is blocked: the recipient still acknowledges, the reviewer still approves
        acked = ch.ok("saa", "POST", f"/v1/messages/{late['id']}/ack")
        assert acked["status"] == "acknowledged"
        assert ch.approve("coalition", held["id"])["status"] == "delivered"
        assert ch.ok("saa", "POST", f"/v1/messages/{held['id']}/ack")["status"] == "acknowledged"

        entries = ch.ok("russia", "GET", "/v1/ledger", params={"limit": 1000})
        overdue_entries = [e for e in entries if e["type"] == "message.overdue"]
        assert sorted(e["subject"][0] for e in overdue_entries) == sorted(both)
        assert all(e["actor"] == "server" for e in overdue_entries)
        for s in streams.values():
            assert s.error is None
    finally:
        for s in streams.values():
            s.close()
        ch.close()


def test_an_unacknowledged_notification_past_its_deadline_escalates_to_both_parties(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(extra_env={"DECONF_OVERDUE_CHECK_S": "0.2", "DECONF_NOTIFICATION_ACK_S": "2"})
    ch = Channel(server)
    try:
        deir_ez_zor(ch)
        with ch.stream("sdf") as sdf_stream, ch.stream("saa") as saa_stream:
            declared = ch.declare("sdf", area(40.50, 35.70, audience=["saa", "russia"]))
            russia_n = ch.ok("russia", "GET", "/v1/notifications")
            (n_russia,) = russia_n
            ch.ok("russia", "POST", f"/v1/notifications/{n_russia['id']}/ack")  # in time
            (n,) = ch.ok("saa", "GET", "/v1/notifications")
            assert n["status"] == "pending"

            def overdue(e: SseEvent) -> bool:
                return e.event == "notification.overdue" and e.json()["data"]["id"] == n["id"]

            heard: list[SseEvent] = []
            for stream in (sdf_stream, saa_stream):
                event, seen = stream.wait_for(overdue, timeout_s=10.0)
                assert event is not None, [e.event for e in seen]
                assert event.json()["data"]["declaration"] == declared["id"]
                heard += seen
            heard += sdf_stream.drain(timeout_s=2.0)
            told = {e.json()["data"]["id"] for e in heard if e.event == "notification.overdue"}
            assert told == {n["id"]}, "russia acknowledged in time: no escalation about it"
        assert [x["id"] for x in ch.ok("saa", "GET", "/v1/notifications", params={"status": "overdue"})] == [n["id"]]
        assert ch.ok("russia", "GET", "/v1/notifications", params={"status": "overdue"}) == []
        # late, but accepted
        acked = ch.ok("saa", "POST", f"/v1/notifications/{n['id']}/ack")
        assert acked["status"] == "acknowledged" and acked["overdue_at"] is not None
    finally:
        ch.close()
