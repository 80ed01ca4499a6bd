"""The subscription that keeps an operational intent's manager informed, as the reference DSS (interuss/dss,
pkg/scd/actions/operational_intents.go) links it at every write of the intent:

* `subscription_id` names one of the manager's subscriptions (400 if it does not exist, 403 if another USS's). An
  implicit one is stretched to cover the intent (its window to the union of both, its footprint to the union of
  both; its band is kept); an explicit one must already cover it — start, end and footprint — else 400.
* `new_subscription` creates a new implicit subscription covering the intent's hull, even if the intent had one.
* Neither: the intent is left without a subscription (allowed in the Accepted state only; `dss_intents` checks).
* A subscription the intent leaves is let go: an implicit one with no other dependent intent is deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from deconfliction.domain.altitude import AltitudeBand
from deconfliction.domain.errors import Forbidden, InvalidInput
from deconfliction.domain.f3548.extents import footprint_covers
from deconfliction.domain.f3548.identifiers import check_uss_base_url
from deconfliction.domain.f3548.volumes import Volume, union_window
from deconfliction.domain.timewindow import TimeWindow
from deconfliction.services import dss_subscriptions as subs
from deconfliction.services.dss_common import Caller, drop_entity, f3548_time, require_object, store_entity
from deconfliction.services.dss_picture import DssPicture, Entity
from deconfliction.services.writer import Outbox

DEPENDENTS = "dependent_operational_intents"


def parse_new_subscription(value: object) -> tuple[str, bool]:
    """ImplicitSubscriptionParameters: its uss_base_url, and notify_for_constraints (default false; no scope is
    asked for it, as the reference DSS)."""
    params = require_object(value, "ImplicitSubscriptionParameters")
    url = check_uss_base_url(params.get("uss_base_url"), "new_subscription.uss_base_url")
    constraints = params.get("notify_for_constraints", False)
    if not isinstance(constraints, bool):
        raise InvalidInput("new_subscription.notify_for_constraints must be true or false",
                           field="new_subscription.notify_for_constraints")  # fmt: skip
    return url, constraints


def link_subscription(
    out: Outbox,
    dss: DssPicture,
    caller: Caller,
    intent: tuple[str, list[Volume], list[Any], datetime],
    named: str | None,
    implicit: tuple[str, bool] | None,
    before: str | None,
) -> str | None:
    """The id of the subscription the intent `intent` (id, hull volumes, raw extents, time of the write) now
    depends on — `named`, a new implicit one (`implicit`: its url and notify_for_constraints) or none — linked to
    it; the one it depended on `before` is let go if it changed."""
    oi_id, volumes, extents, at = intent
    chosen: str | None = None
    if named is not None:
        sub = dss.subscriptions.get(named)
        if sub is None:
            raise InvalidInput(f"the subscription {named!r} named does not exist", field="subscription_id")
        if sub.manager != caller.sub:
            raise Forbidden("the subscription named is managed by another USS", field="subscription_id")
        _link(out, dss, _covering(sub, volumes, extents), oi_id, at)
        chosen = named
    elif implicit is not None:
        chosen = str(uuid.uuid4())
        window, band = volumes[0].window, volumes[0].altitude
        sub = subs.new_subscription(caller, chosen, _restamped(extents, window, band), tuple(volumes), window,
                                    implicit[0], (True, implicit[1]), implicit=True, dependents=(oi_id,))  # fmt: skip
        store_entity(out, dss.subscriptions, "subscription", sub, at)
    if before and before != chosen:
        unlink(out, dss, before, oi_id, at)
    return chosen


def _covering(sub: Entity, volumes: list[Volume], extents: list[Any]) -> Entity:
    """The subscription, stretched to cover the intent if it is implicit; 400 if an explicit one does not."""
    window = union_window(sub.volumes)
    oi_window = volumes[0].window
    assert oi_window.end is not None
    late = window.start > oi_window.start
    early = window.end is not None and window.end < oi_window.end
    outside = not footprint_covers(sub.volumes, volumes)
    if not (late or early or outside):
        return sub
    if not sub.doc.get("implicit_subscription"):
        what = "begins after" if late else "ends before" if early else "does not cover the footprint of"
        raise InvalidInput(f"the subscription named {what} the operational intent", field="subscription_id")
    grown = union_window([*sub.volumes, *volumes])
    band = sub.volumes[0].altitude
    raw = sub.doc["extents"] if isinstance(sub.doc["extents"], list) else [sub.doc["extents"]]
    stretched = tuple(Volume(v.shape, v.radius_m, band, grown) for v in [*sub.volumes, *volumes])
    assert grown.end is not None
    doc = {**sub.doc, "time_start": f3548_time(grown.start), "time_end": f3548_time(grown.end),
           "extents": _restamped([*raw, *extents], grown, band)}  # fmt: skip
    return Entity(sub.id, sub.manager, doc, stretched)


def _restamped(extents: list[Any], window: TimeWindow, band: AltitudeBand) -> list[dict[str, Any]]:
    """Volume4Ds with the given window and band: an implicit subscription's stored extents, read back as they are."""
    assert window.end is not None
    times = {"time_start": f3548_time(window.start), "time_end": f3548_time(window.end)}
    heights = {"altitude_lower": {"value": band.lower_m, "reference": "W84", "units": "M"}}
    if band.upper_m is not None:
        heights["altitude_upper"] = {"value": band.upper_m, "reference": "W84", "units": "M"}
    return [{**v, **times, "volume": {**v["volume"], **heights}} for v in extents]


def _link(out: Outbox, dss: DssPicture, sub: Entity, oi_id: str, at: datetime) -> None:
    dependents = sub.doc[DEPENDENTS] if oi_id in sub.doc[DEPENDENTS] else [*sub.doc[DEPENDENTS], oi_id]
    if dependents is sub.doc[DEPENDENTS] and sub is dss.subscriptions.get(sub.id):
        return
    store_entity(out, dss.subscriptions, "subscription", replace(sub, doc={**sub.doc, DEPENDENTS: dependents}), at)


def unlink(out: Outbox, dss: DssPicture, sub_id: str, oi_id: str, at: datetime) -> None:
    """The intent no longer depends on the subscription; an implicit one with no dependents left is deleted."""
    sub = dss.subscriptions.get(sub_id)
    if sub is None:
        return
    left = [d for d in sub.doc[DEPENDENTS] if d != oi_id]
    if not left and sub.doc.get("implicit_subscription"):
        drop_entity(out, dss.subscriptions, "subscription", sub.id, at)
    elif left != sub.doc[DEPENDENTS]:
        store_entity(out, dss.subscriptions, "subscription", replace(sub, doc={**sub.doc, DEPENDENTS: left}), at)
