"""The webhook deliverer against real HTTP receivers on the loopback and a real store: the address checked after each
resolution is the one connected to, a name that comes to resolve inward is refused, one webhook's silent or
trickling receiver holds up no other, a delivery has one deadline in all, and a webhook that keeps failing is paused,
its party told, and resumed with nothing lost.

Names are resolved by a table in the test (a fake of the resolver port, `Names`), so that a name can be made to
answer anything; the HTTP client, the event loop and the store are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from deconfliction.adapters.webhook_http import HttpPoster
from deconfliction.bootstrap import Wired
from deconfliction.domain.webhook_targets import REFUSED_INWARD, TargetPolicy
from deconfliction.domain.webhooks import Webhook
from deconfliction.services import parties
from deconfliction.services import webhooks as svc
from deconfliction.services.context import Context
from deconfliction.services.events import events_after
from deconfliction.services.webhook_delivery import Deliverer, DeliveryRules
from deconfliction.services.writer import Outbox
from tests.conftest import BOTH_BACKENDS
from tests.webhook_receiver import Hostile, Receiver, eventually


class Names:
    """A resolver whose answers the test sets: host → addresses."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}

    def __call__(self, host: str, port: int) -> list[str]:
        return list(self.answers.get(host, []))


@contextmanager
def delivering(ctx: Context, targets: svc.WebhookTargets, deadline_s: float, pause_after: int = 20) -> Iterator[None]:
    deliverer = Deliverer(ctx, HttpPoster(deadline_s), targets, DeliveryRules(deadline_s, pause_after), idle_s=0.05)
    deliverer.start()
    try:
        yield
    finally:
        deliverer.stop()


def ping(ctx: Context, party: str, n: int) -> None:
    """One event for `party`."""

    def job(out: Outbox) -> None:
        out.emit(party, "test.ping", {"n": n}, ctx.clock())

    ctx.write(job)


def state(ctx: Context, hook: Webhook) -> Webhook:
    with ctx.store.read() as tx:
        found = tx.get_webhook(hook.id)
    assert found is not None
    return found


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """Two receivers on one port: 127.0.0.2 (the address a name may use) and 127.0.0.1 (one it must not)."""
    allowed = Receiver(host="127.0.0.2")
    inward = Receiver(host="127.0.0.1", port=allowed.port)
    for r in (allowed, inward):
        r.listen()
    try:
        yield allowed, inward
    finally:
        allowed.close()
        inward.close()


def test_a_name_that_comes_to_resolve_inward_is_refused_and_the_connection_goes_to_the_address_checked(
    wired: Wired, receivers: tuple[Receiver, Receiver]
) -> None:
    allowed, inward = receivers
    ctx = wired.ctx
    parties.create_party(ctx, "sdf", "SDF", None)
    names = Names()
    names.answers["hooks.test"] = ["127.0.0.2"]
    targets = svc.WebhookTargets(TargetPolicy.parse("127.0.0.2"), names)  # the operator allows 127.0.0.2 only
    hook = svc.create(ctx, "sdf", f"http://hooks.test:{allowed.port}/x", None, targets, 10)

    names.answers["hooks.test"] = ["127.0.0.1"]  # rebound inward after registration
    ping(ctx, "sdf", 1)
    with delivering(ctx, targets, deadline_s=5.0):
        eventually(lambda: state(ctx, hook).last_error == REFUSED_INWARD, 10.0, "the delivery is refused")
        names.answers["hooks.test"] = ["127.0.0.2", "127.0.0.1"]  # one inward answer among allowed ones
        svc.resume(ctx, "sdf", hook.id)
        eventually(lambda: state(ctx, hook).failures == 1, 10.0, "refused again")
        assert state(ctx, hook).last_error == REFUSED_INWARD
        assert inward.requests() == [] and allowed.requests() == []

        names.answers["hooks.test"] = ["127.0.0.2"]
        svc.resume(ctx, "sdf", hook.id)
        (got,) = eventually(allowed.requests, 10.0, "delivered to the checked address")
    assert inward.requests() == []
    assert got.headers["host"] == f"hooks.test:{allowed.port}"  # the URL's name, though connected by address
    assert got.event["data"] == {"n": 1}


def test_a_silent_receiver_holds_up_its_own_webhook_only_and_a_trickling_one_times_out_in_all(
    wired: Wired,
) -> None:
    ctx = wired.ctx
    for pid in ("sdf", "russia"):
        parties.create_party(ctx, pid, pid.upper(), None)
    targets = svc.WebhookTargets(TargetPolicy.parse("127.0.0.1"), Names())
    silent, trickling, honest = Hostile(), Hostile(trickle_s=0.2), Receiver()
    honest.listen()
    try:
        for i in range(3):
            svc.create(ctx, "russia", silent.url(f"s{i}"), None, targets, 10)
        slow = svc.create(ctx, "russia", trickling.url(), None, targets, 10)
        mine = svc.create(ctx, "sdf", honest.url, None, targets, 10)
        ping(ctx, "russia", 1)
        # a deadline far beyond the test's waits: a webhook that waited for another could not be delivered in time
        with delivering(ctx, targets, deadline_s=60.0):
            eventually(lambda: silent.open_connections() == 3, 10.0, "the silent receiver holds three deliveries")
            ping(ctx, "sdf", 2)
            eventually(honest.delivered_ids, 10.0, "the other party's event is delivered")
            assert silent.open_connections() == 3, "delivered while the silent ones were still waiting"
            assert state(ctx, mine).failures == 0
        # the trickler sends a byte every 0.2 s: no read waits long, yet the delivery's deadline ends it
        with delivering(ctx, targets, deadline_s=1.0):
            svc.resume(ctx, "russia", slow.id)
            eventually(lambda: state(ctx, slow).last_error == "timed out", 10.0, "the trickling delivery times out")
    finally:
        for listener in (silent, trickling, honest):
            listener.close()


@BOTH_BACKENDS
def test_a_webhook_that_keeps_failing_is_paused_its_party_told_and_resumed_with_nothing_lost(
    wired: Wired,
) -> None:
    ctx = wired.ctx
    parties.create_party(ctx, "sdf", "SDF", None)
    receiver = Receiver(answer=lambda _: 500)
    receiver.listen()
    targets = svc.WebhookTargets(TargetPolicy.parse("127.0.0.1"), Names())
    try:
        hook = svc.create(ctx, "sdf", receiver.url, None, targets, 10)
        other = svc.create(ctx, "sdf", f"http://127.0.0.1:{receiver.port}/other", None, targets, 10)
        svc.remove(ctx, "sdf", other.id)  # removed: neither tried nor told of
        for n in range(3):
            ping(ctx, "sdf", n)
        with delivering(ctx, targets, deadline_s=5.0, pause_after=2):
            paused = eventually(lambda: (h := state(ctx, hook)).paused and h, 15.0, "the webhook is paused")
            assert paused.failures == 2 and paused.last_error == "HTTP 500"  # the status, never the remote's body
            assert [h.view()["paused"] for h in svc.list_for(ctx, "sdf")] == [True]
            told = [e for e in events_after(ctx, "sdf", 0, 100) if e.type == "webhook.paused"]
            assert [e.data["id"] for e in told] == [hook.id] and told[0].data["paused"] is True
            tried = len(receiver.requests())
            assert {r.event["data"]["n"] for r in receiver.requests()} == {0}, "later events wait behind the first"

            receiver.answer = lambda _: 200
            svc.resume(ctx, "sdf", hook.id)
            eventually(lambda: len(receiver.delivered_ids()) == 4, 15.0, "every event, the pause's too, delivered")
        assert len(receiver.requests()) > tried
        kinds = [r.event["type"] for r in receiver.requests() if r.status == 200]
        assert kinds == ["test.ping"] * 3 + ["webhook.paused"]
        assert [r.event["data"].get("n") for r in receiver.requests() if r.status == 200] == [0, 1, 2, None]
        done = state(ctx, hook)
        assert not done.paused and done.failures == 0 and done.cursor == receiver.delivered_ids()[-1]
    finally:
        receiver.close()


def test_last_error_says_what_failed_without_the_remote_body_or_more_than_unreachable(wired: Wired) -> None:
    ctx = wired.ctx
    parties.create_party(ctx, "sdf", "SDF", None)
    targets = svc.WebhookTargets(TargetPolicy.parse("127.0.0.1"), Names())
    closed = Receiver()  # bound, not listening: connections are refused
    try:
        hook = svc.create(ctx, "sdf", closed.url, None, targets, 10)
        ping(ctx, "sdf", 1)
        with delivering(ctx, targets, deadline_s=5.0):
            eventually(lambda: state(ctx, hook).last_error == "unreachable", 10.0, "a refused connection")
    finally:
        closed.close()


def test_webhooks_stored_before_these_rules_are_refused_at_delivery_and_sent_nothing(wired: Wired) -> None:
    ctx = wired.ctx
    parties.create_party(ctx, "sdf", "SDF", None)
    receiver = Receiver()
    receiver.listen()
    # as an older version stored them: credentials in the URL; the loopback, which no setting allows now
    old = [f"http://user:pw@127.0.0.1:{receiver.port}/metrics", f"http://127.0.0.1:{receiver.port}/v1/parties"]
    hooks = [Webhook(f"w{i}", "sdf", url, "s" * 16, ctx.clock(), 0) for i, url in enumerate(old)]

    def job(out: Outbox) -> None:
        for hook in hooks:
            out.tx.save_webhook(hook)

    ctx.write(job)
    ping(ctx, "sdf", 1)
    try:
        with delivering(ctx, svc.WebhookTargets(TargetPolicy(), Names()), deadline_s=5.0):
            eventually(lambda: all(state(ctx, h).failures for h in hooks), 10.0, "both deliveries refused")
        errors = [state(ctx, h).last_error for h in hooks]
        assert errors == ["refused: the URL is not accepted any more", REFUSED_INWARD]
        assert receiver.requests() == []
    finally:
        receiver.close()
