"""F3548-21 subscriptions: a USS's standing interest in a 4D area, so that whoever changes the airspace there is told
to notify it. Create, update by version, delete by version, get, query (a USS sees only its own).

Choices where the standard leaves room (docs/f3548.md lists them): an absent start is now; an absent end is the
start plus the longest duration allowed (DSSMaxSubscriptionDurationHours, 24 h); versions are opaque strings that
change at every change a USS makes (not when the notification index moves).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from deconfliction.domain.errors import InvalidInput, NotFound, StateConflict
from deconfliction.domain.f3548.extents import footprint_covers
from deconfliction.domain.f3548.identifiers import check_subscription_id, check_uss_base_url
from deconfliction.domain.f3548.timing import MAX_CLOCK_SKEW, subscription_window
from deconfliction.domain.f3548.volumes import Volume, parse_volume4d
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import TimeWindow
from deconfliction.services.context import Context
from deconfliction.services.dss_common import (
    Caller,
    area_of_interest,
    at_version,
    drop_entity,
    f3548_time,
    fresh,
    managed,
    require_object,
    store_entity,
)
from deconfliction.services.dss_picture import DssPicture, Entity
from deconfliction.services.writer import Outbox


def view(sub: Entity) -> dict[str, Any]:
    """The Subscription as answered (its stored extents are the DSS's own)."""
    return {k: v for k, v in sub.doc.items() if k != "extents"}


def parse_extents(body: dict[str, Any], ctx: Context, previous: Entity | None) -> tuple[dict[str, Any], Volume]:
    """The subscription's Volume4D with its times as the DSS sets them (timing.subscription_window), and parsed."""
    raw = body.get("extents")
    if not isinstance(raw, dict):
        raise InvalidInput("extents must be a Volume4D object", field="extents")
    volume = parse_volume4d(raw, "extents", require_time=False, require_altitude=False)
    before = None if previous is None else previous.volumes[0].window
    window = subscription_window(volume.time_start, volume.time_end, ctx.clock(), previous=before)
    filled = {**raw, "time_start": f3548_time(window.start)}
    if window.end is not None:
        filled["time_end"] = f3548_time(window.end)
    return filled, replace(volume, window=window)


def _flags(body: dict[str, Any]) -> tuple[bool, bool]:
    """What the subscription asks to hear of. No scope is asked for either, as the reference DSS (a token with
    utm.strategic_coordination alone may ask for constraints: prober test_mutate_sub)."""
    ois, constraints = body.get("notify_for_operational_intents", False), body.get("notify_for_constraints", False)
    for name, value in (("notify_for_operational_intents", ois), ("notify_for_constraints", constraints)):
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false", field=name)
    if not ois and not constraints:
        raise InvalidInput(
            "at least one form of notification must be requested", field="notify_for_operational_intents"
        )
    return ois, constraints


def _response(dss: DssPicture, sub: Entity, viewer: str, answer: Any) -> dict[str, Any]:
    """PutSubscriptionResponse: the subscription, and what already lies in it of what it asked to hear of."""
    response: dict[str, Any] = {"subscription": view(sub)}
    # Each list only when the subscription asks to hear of that kind, as the reference DSS answers (prober
    # test_create_sub: no constraint_references for a subscription that does not notify for constraints).
    if sub.doc["notify_for_operational_intents"]:
        response["operational_intent_references"] = answer("oir", dss.oirs.intersecting(sub.volumes), viewer)
    if sub.doc["notify_for_constraints"]:
        response["constraint_references"] = answer("constraint", dss.constraints.intersecting(sub.volumes), viewer)
    return response


def new_subscription(
    caller: Caller, sub_id: str, extents: Any, volumes: tuple[Volume, ...], window: TimeWindow, uss_base_url: str,
    flags: tuple[bool, bool], *, implicit: bool = False, dependents: tuple[str, ...] = (),
) -> Entity:  # fmt: skip
    """`extents` as stored: one Volume4D, or the list of an intent's for its implicit subscription."""
    assert window.end is not None
    doc = {
        "id": sub_id,
        "version": uuid.uuid4().hex,
        "notification_index": 0,
        "time_start": f3548_time(window.start),
        "time_end": f3548_time(window.end),
        "uss_base_url": uss_base_url,
        "notify_for_operational_intents": flags[0],
        "notify_for_constraints": flags[1],
        "implicit_subscription": implicit,
        "dependent_operational_intents": list(dependents),
        "extents": extents,
    }
    return Entity(sub_id, caller.sub, doc, volumes)


def volumes_of(doc: dict[str, Any]) -> tuple[Volume, ...]:
    """A stored subscription's volumes (start-up, other workers' changes)."""
    raw = doc["extents"]
    found = raw if isinstance(raw, list) else [raw]
    return tuple(parse_volume4d(v, "extents", require_time=False, require_altitude=False) for v in found)


def put(
    ctx: Context, caller: Caller, sub_id: str, version: str | None, body: object, references: Any
) -> dict[str, Any]:
    """Create (version None) or update a subscription; PutSubscriptionResponse."""
    check_subscription_id(sub_id, "subscriptionid")
    params = require_object(body, "PutSubscriptionParameters")
    url = check_uss_base_url(params.get("uss_base_url"), "uss_base_url")
    flags = _flags(params)
    dss: DssPicture = ctx.dss

    def job(out: Outbox) -> dict[str, Any]:
        found = dss.subscriptions.get(sub_id)
        extents, volume = parse_extents(params, ctx, found if version is not None else None)
        found = _at_version(found, caller, sub_id, version)
        sub = new_subscription(caller, sub_id, extents, (volume,), volume.window, url, flags)
        if found is not None:
            # A USS's own update makes an implicit subscription explicit (the reference DSS stores it so): it no
            # longer goes with its last intent (prober test_delete_sub after test_mutate_sub_not_shrink).
            dependents = found.doc["dependent_operational_intents"]
            _check_covers_dependents(dss, volume, dependents)
            kept = {"notification_index": found.doc["notification_index"], "dependent_operational_intents": dependents}
            sub = replace(sub, doc={**sub.doc, **kept})
        at = ctx.clock()
        store_entity(out, dss.subscriptions, "subscription", sub, at)
        out.record(f"dss.subscription_{'created' if found is None else 'updated'}", caller.party, (sub_id,),
                   digest_of(sub.doc), at, {"version": sub.doc["version"]})  # fmt: skip
        return _response(dss, sub, caller.sub, references(out.tx))

    return ctx.write(job)


def _at_version(found: Entity | None, caller: Caller, sub_id: str, version: str | None) -> Entity | None:
    """The subscription an update acts on, checked in the reference DSS's order: 404 if it does not exist, 409 if
    `version` is not its current one, then 403 if another USS manages it; a creation of one that exists is 409."""
    if version is None:
        return at_version(found, caller, "subscription", sub_id, None)
    if found is None:
        raise NotFound(f"no subscription {sub_id!r} to update: create it without a version")
    if str(found.doc["version"]) != version:
        raise StateConflict(f"subscription {sub_id!r} is at version {found.doc['version']!r}, not {version!r}")
    return managed(found, caller, "subscription", sub_id)


def _check_covers_dependents(dss: DssPicture, volume: Volume, dependents: list[str]) -> None:
    """An updated subscription must still cover every intent depending on it — footprint, band, end, and start
    give or take the 5 minutes a subscription's start may lag (an intent may have begun) — else 400, as the
    reference DSS (prober test_mutate_sub_shrink_*, test_mutate_sub2)."""
    for oi_id in dependents:
        oi = dss.oirs.get(oi_id)
        if oi is None:
            continue
        band, (start, end) = oi.volumes[0].altitude, (oi.volumes[0].window.start, oi.volumes[0].window.end)
        if not footprint_covers([volume], list(oi.volumes)):
            gap = "footprint"
        elif volume.window.start - start > MAX_CLOCK_SKEW:
            gap = "start"
        elif band.lower_m < volume.altitude.lower_m or band.top_m > volume.altitude.top_m:
            gap = "altitudes"
        elif end is not None and volume.window.end is not None and end > volume.window.end:
            gap = "time"
        else:
            continue
        raise InvalidInput(f"the subscription would no longer cover the {gap} of operational intent {oi_id}, "
                           "which depends on it: cover it, or move the intent to another subscription first",
                           field="extents")  # fmt: skip


def get(ctx: Context, caller: Caller, sub_id: str) -> dict[str, Any]:
    check_subscription_id(sub_id, "subscriptionid")
    with ctx.store.read() as tx:
        fresh(ctx, tx)
    return {"subscription": view(managed(ctx.dss.subscriptions.get(sub_id), caller, "subscription", sub_id))}


def query(ctx: Context, caller: Caller, body: object) -> dict[str, Any]:
    """QuerySubscriptionsResponse: the caller's own subscriptions intersecting the area of interest."""
    params = require_object(body, "QuerySubscriptionParameters")
    volume = area_of_interest(params)
    with ctx.store.read() as tx:
        fresh(ctx, tx)
    now = ctx.clock()
    # As the reference DSS: expired subscriptions are not answered, even before the sweeper removes them.
    mine = ctx.dss.subscriptions.intersecting([volume], keep=lambda s: s.manager == caller.sub and not _ended(s, now))
    return {"subscriptions": [view(s) for s in mine]}


def delete(ctx: Context, caller: Caller, sub_id: str, version: str) -> dict[str, Any]:
    check_subscription_id(sub_id, "subscriptionid")
    dss: DssPicture = ctx.dss

    def job(out: Outbox) -> dict[str, Any]:
        found = at_version(dss.subscriptions.get(sub_id), caller, "subscription", sub_id, version, deleting=True)
        assert found is not None
        if found.doc["dependent_operational_intents"]:
            raise InvalidInput(
                f"subscription {sub_id!r} keeps operational intents informed "
                f"({', '.join(found.doc['dependent_operational_intents'])}): change or delete them first",
                field="subscriptionid",
            )
        at = ctx.clock()
        drop_entity(out, dss.subscriptions, "subscription", sub_id, at)
        out.record("dss.subscription_deleted", caller.party, (sub_id,), digest_of(found.doc), at, {})
        return {"subscription": view(found)}

    return ctx.write(job)


def _ended(sub: Entity, now: Any) -> bool:
    ends = [v.window.end for v in sub.volumes]
    return all(e is not None and e < now for e in ends)
