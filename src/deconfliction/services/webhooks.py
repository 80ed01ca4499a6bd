"""Webhooks: registering them (where they may point, how many), listing, removing and resuming them.

Delivery is services/webhook_delivery.py. The events table is the outbox: an event is committed in the same
transaction as the change it tells of, and each webhook keeps the id of the last event it delivered.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from deconfliction.domain.errors import InvalidInput, NotFound, StateConflict
from deconfliction.domain.webhook_targets import IpAddress, Target, TargetPolicy, parse_target, refused_detail
from deconfliction.domain.webhooks import Webhook, new_secret
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox

Resolve = Callable[[str, int], list[str]]  # host, port → its addresses ([] when it does not resolve)
UNREACHABLE = "unreachable"  # all a party learns of a target it cannot reach: no topology beyond this


@dataclass(frozen=True)
class WebhookTargets:
    """The operator's policy applied to a URL and to every address its host resolves to, now."""

    policy: TargetPolicy
    resolve: Resolve

    def addresses(self, target: Target) -> list[IpAddress] | str:
        """The target's addresses, every one allowed; or why none may be used (a `last_error`)."""
        if target.address is not None:
            found = [target.address]
        else:
            # a scoped IPv6 answer (fe80::1%eth0) is link-local whatever its zone
            found = [ipaddress.ip_address(a.partition("%")[0]) for a in self.resolve(target.host, target.port)]
        if not found:
            return UNREACHABLE
        for address in found:  # one inward answer among public ones is enough to refuse: it may be the one used
            why = self.policy.refusal(target, address)
            if why is not None:
                return why
        return found

    def at_delivery(self, url: str) -> list[IpAddress] | str:
        """As `addresses`, for a stored URL, which rules adopted since its registration may refuse."""
        try:
            target = parse_target(url)
        except InvalidInput:
            return "refused: the URL is not accepted any more"
        return self.policy.before_resolving(target) or self.addresses(target)

    def check_registration(self, url: object) -> str:
        """The URL to store, or InvalidInput naming `url`: refused, or its host does not resolve."""
        target = self.policy.check(url)
        found = self.addresses(target)
        if found == UNREACHABLE:
            raise InvalidInput(f"url host {target.host!r} does not resolve: check the name", field="url")
        if isinstance(found, str):
            raise InvalidInput(refused_detail(target, found), field="url")
        return target.url


def create(
    ctx: Context, party: str, url: object, secret: object, targets: WebhookTargets, max_per_party: int
) -> Webhook:
    """Register a webhook; it receives the party's events from now on. The secret is generated when not given."""
    parse_target(url)  # the URL's form first: a malformed one is not resolved
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise InvalidInput("secret must be a string of at least 16 characters (or omitted)", field="secret")
    checked = targets.check_registration(url)
    key = secret if isinstance(secret, str) else new_secret()

    def job(out: Outbox) -> Webhook:
        if len(out.tx.list_webhooks(party)) >= max_per_party:
            raise StateConflict(
                f"party {party!r} has {max_per_party} webhooks, the most allowed: remove one (DELETE "
                "/v1/webhooks/{id}) first"
            )
        hook = Webhook(str(uuid.uuid4()), party, checked, key, ctx.clock(), out.tx.last_event_id(party))
        out.tx.save_webhook(hook)
        return hook

    created = ctx.write(job)
    ctx.sink.notify({party})
    return created


def list_for(ctx: Context, party: str) -> list[Webhook]:
    with ctx.store.read() as tx:
        return tx.list_webhooks(party)


def _own(out: Outbox, party: str, webhook_id: str) -> Webhook:
    hook = out.tx.get_webhook(webhook_id)
    if hook is None or hook.party != party or hook.removed_at is not None:
        raise NotFound(f"no webhook {webhook_id!r} of party {party!r}")
    return hook


def remove(ctx: Context, party: str, webhook_id: str) -> None:
    def job(out: Outbox) -> None:
        out.tx.save_webhook(replace(_own(out, party, webhook_id), removed_at=ctx.clock()))

    ctx.write(job)


def resume(ctx: Context, party: str, webhook_id: str) -> Webhook:
    """Try a webhook again now, paused or backing off: its events since `delivered_through` follow, in order."""

    def job(out: Outbox) -> Webhook:
        hook = replace(_own(out, party, webhook_id), failures=0, next_attempt_s=0.0, last_error=None)
        out.tx.save_webhook(hook)
        return hook

    resumed = ctx.write(job)
    ctx.sink.notify({party})  # wakes the deliverer
    return resumed
