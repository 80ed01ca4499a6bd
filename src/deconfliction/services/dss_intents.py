"""F3548-21 operational intent references: create, update and delete by OVN, get, query — with the key rule, states,
implicit subscriptions and the subscribers each change obliges its writer to notify.

The key rule, serialised: every write runs on the channel's single writer (one write lock across workers), which
first applies what other workers committed; so of two USSs writing intersecting intents at once, the second is
checked against the first, and cannot succeed without having presented the first's OVN.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from deconfliction.domain.errors import (
    AirspaceConflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from deconfliction.domain.f3548 import intents as rules
from deconfliction.domain.f3548.extents import hull
from deconfliction.domain.f3548.identifiers import check_entity_id, check_subscription_id, check_uss_base_url
from deconfliction.domain.f3548.timing import check_oi_window
from deconfliction.domain.f3548.volumes import (
    Volume,
    parse_extents,
    to_geojson_feature_parts,
    union_window,
)
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import format_time
from deconfliction.services import declarations as declaring
from deconfliction.services import dss_implicit as implicit
from deconfliction.services import dss_subscriptions as subs
from deconfliction.services.context import Context
from deconfliction.services.dss_availability import availability_of
from deconfliction.services.dss_common import (
    Caller,
    area_of_interest,
    at_version,
    drop_entity,
    f3548_time,
    fresh,
    require_object,
    store_entity,
    subscribers_to_notify,
)
from deconfliction.services.dss_picture import DssPicture, Entity
from deconfliction.services.parties import ensure_party
from deconfliction.services.writer import Outbox
from deconfliction.storage.dss import DssTx

NOTIFY_OIS = "notify_for_operational_intents"
NO_OVN_PHRASE = "Available from USS"
NULL_V4_UUID = "00000000-0000-4000-8000-000000000000"
INTERNAL = frozenset({"extents", "ovn", "party", "declarations"})  # kept by the DSS, not part of a reference


def mirror_feature(volume: Volume, oi_id: str, number: int, count: int) -> dict[str, Any]:
    """One volume of an intent as a `flight` declaration of its USS's party: the channel's proximity engine then
    sees the drone beside every other party's sites, areas and routes (the audience: only the fact of a conflict)."""
    geometry, radius_m = to_geojson_feature_parts(volume)
    band = volume.altitude
    window = volume.window
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "kind": "flight",
            "name": f"F3548 operational intent {oi_id} ({number}/{count})",
            "start": format_time(window.start),
            "end": None if window.end is None else format_time(window.end),
            "altitude": {"lower_m": band.lower_m, "upper_m": band.upper_m},
            "radius_m": radius_m,
            "audience": "conflicts",
        },
    }


def stored_volumes(kind: str, doc: dict[str, Any]) -> tuple[Volume, ...]:
    """An entity's volumes from its stored document (start-up, another worker's change)."""
    if kind == "subscription":
        return subs.volumes_of(doc)
    return hull(parse_extents(doc["extents"], "extents", require_time=True, require_altitude=True))


def references(tx: DssTx) -> Any:
    """A function giving the references of entities as `viewer` may see them (OVN only to their manager)."""

    def answer(kind: str, entities: list[Entity], viewer: str) -> list[dict[str, Any]]:
        availability = availability_of(tx, {e.manager for e in entities})
        out = []
        for e in entities:
            ref = {k: v for k, v in e.doc.items() if k not in INTERNAL}
            ref["uss_availability"] = availability[e.manager]
            # The placeholders the reference DSS sends where the API wants a value: another USS's OVN is "Available
            # from USS", an intent without a subscription names the null UUIDv4.
            ref["ovn"] = e.doc["ovn"] if e.manager == viewer else NO_OVN_PHRASE
            if kind == "oir" and ref.get("subscription_id") is None:
                ref["subscription_id"] = NULL_V4_UUID
            out.append(ref)
        return out

    return answer


def get_reference(ctx: Context, caller: Caller, kind: str, entity_id: str, what: str) -> dict[str, Any]:
    """One reference (an intent's or a constraint's) as the caller may see it, every worker's writes taken in."""
    check_entity_id(entity_id, "entityid")
    with ctx.store.read() as tx:
        fresh(ctx, tx)
        found = ctx.dss.sets[kind].get(entity_id)
        if found is None:
            raise NotFound(f"no {what} {entity_id!r}")
        return dict(references(tx)(kind, [found], caller.sub)[0])


def query_references(ctx: Context, caller: Caller, kind: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The references of a kind intersecting the area of interest, every worker's writes taken in."""
    volume = area_of_interest(params)
    with ctx.store.read() as tx:
        fresh(ctx, tx)
        return list(references(tx)(kind, ctx.dss.sets[kind].intersecting([volume]), caller.sub))


def get(ctx: Context, caller: Caller, entity_id: str) -> dict[str, Any]:
    return {
        "operational_intent_reference": get_reference(ctx, caller, "oir", entity_id, "operational intent reference")
    }


def query(ctx: Context, caller: Caller, body: object) -> dict[str, Any]:
    params = require_object(body, "QueryOperationalIntentReferenceParameters")
    return {"operational_intent_references": query_references(ctx, caller, "oir", params)}


class _Request:
    """A PutOperationalIntentReferenceParameters, checked before the write."""

    def __init__(self, ctx: Context, caller: Caller, entity_id: str, body: object, *, creating: bool) -> None:
        check_entity_id(entity_id, "entityid")
        params = require_object(body, "PutOperationalIntentReferenceParameters")
        self.declared: list[Volume] = parse_extents(params.get("extents"), "extents", require_time=True,
                                                    require_altitude=True)  # fmt: skip
        self.volumes = list(hull(self.declared))  # the extent the DSS keeps, as the reference's union
        self.window = union_window(self.volumes)
        now = ctx.clock()
        check_oi_window(self.window, now)
        self.state = rules.parse_state(params.get("state"))
        self.url = check_uss_base_url(params.get("uss_base_url"), "uss_base_url")
        key = params.get("key") or []
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            raise InvalidInput("key must be a list of OVNs (strings)", field="key")
        self.key: list[str] = key
        self.subscription_id: str | None = None
        # The null UUIDv4 this DSS answers for "no subscription" names none when a USS sends it back.
        if params.get("subscription_id") not in (None, NULL_V4_UUID):
            self.subscription_id = check_subscription_id(params["subscription_id"], "subscription_id")
        self.implicit = None
        if params.get("new_subscription") is not None:
            if self.subscription_id is not None:
                raise InvalidInput("give subscription_id or new_subscription, not both", field="new_subscription")
            self.implicit = implicit.parse_new_subscription(params["new_subscription"])
        if self.subscription_id is None and self.implicit is None and self.state is not rules.OIState.ACCEPTED:
            raise InvalidInput(
                f"an operational intent in the {self.state.value} state needs subscription_id or new_subscription",
                field="subscription_id",
            )
        # Checked with the request, before any lookup, as the reference validates its parameters.
        if creating:
            rules.check_initial_state(self.state)
        suffix = params.get("requested_ovn_suffix")
        self.suffixed_ovn = None if suffix is None else rules.ovn_with_suffix(entity_id, suffix, now)
        self.extents = params["extents"]
        self.at = now
        # validated now, in the caller's thread; run inside the write job
        count = len(self.declared)
        self.mirrors = [
            declaring.declare_job(ctx, caller.party, mirror_feature(v, entity_id, i, count))
            for i, v in enumerate(self.declared, 1)
        ]


def _check_key(ctx: Context, tx: DssTx, req: _Request, oi_id: str, sub_id: str | None, viewer: str) -> None:
    """409 AirspaceConflictResponse unless the key holds the OVN of every intersecting intent (and constraint, when
    the intent's subscription hears of constraints)."""
    dss: DssPicture = ctx.dss
    relevant = dss.oirs.intersecting(req.volumes, keep=lambda e: e.id != oi_id)
    availability = availability_of(tx, {e.manager for e in relevant})
    intents = [e for e in relevant if rules.required_in_keys(rules.OIState(e.doc["state"]), availability[e.manager])]
    missing_ois = rules.missing_ovns({e.id: e.doc["ovn"] for e in intents}, req.key)
    sub = dss.subscriptions.get(sub_id) if sub_id else None
    missing_cs: list[str] = []
    constraints: list[Entity] = []
    if sub is not None and sub.doc.get("notify_for_constraints"):
        constraints = dss.constraints.intersecting(req.volumes)
        missing_cs = rules.missing_ovns({e.id: e.doc["ovn"] for e in constraints}, req.key)
    if missing_ois or missing_cs:
        answer = references(tx)
        raise AirspaceConflict(
            f"the key lacks the current OVN of {len(missing_ois)} operational intent(s) and {len(missing_cs)} "
            "constraint(s) intersecting this one: get their details from their managers and retry",
            missing_operational_intents=answer("oir", [e for e in intents if e.id in missing_ois], viewer),
            missing_constraints=answer("constraint", [e for e in constraints if e.id in missing_cs], viewer),
        )


def _refuse_if_down(tx: DssTx, caller: Caller, what: str) -> None:
    """F3548: a USS found Down by availability arbitration may not create or keep nominal intents, nor delete any."""
    if availability_of(tx, {caller.sub})[caller.sub] == "Down":
        raise Forbidden(f"USS {caller.sub!r} is Down (availability arbitration): it may not {what}")


def _mirror(ctx: Context, out: Outbox, caller: Caller, previous: Entity | None, jobs: list[Any]) -> list[str]:
    """Cancel the previous version's flight declarations, declare the new ones; their ids."""
    for declaration_id in [] if previous is None else previous.doc.get("declarations", []):
        declaring.cancel_job(ctx, caller.party, declaration_id)(out)
    return [job(out).declaration.id for job in jobs]


def put(ctx: Context, caller: Caller, entity_id: str, ovn: str | None, body: object) -> tuple[int, dict[str, Any]]:
    """Create (ovn None → 201) or update (→ 200) an operational intent reference."""
    req = _Request(ctx, caller, entity_id, body, creating=ovn is None)
    dss: DssPicture = ctx.dss

    def job(out: Outbox) -> tuple[int, dict[str, Any]]:
        # The reference's order: the state's scope (403), then an update of nothing (400, as its NotFound there),
        # then the manager (403) and the OVN (409).
        rules.check_scope(req.state, caller.scopes)
        found = dss.oirs.get(entity_id)
        if ovn is not None and found is None:
            raise InvalidInput(f"no operational intent {entity_id!r} to update: create it without an OVN",
                               field="entityid")  # fmt: skip
        previous = at_version(found, caller, "operational intent", entity_id, ovn)
        old_state = None if previous is None else rules.OIState(previous.doc["state"])
        rules.check_transition(old_state, req.state, caller.scopes)
        if req.state not in rules.OFF_NOMINAL:
            _refuse_if_down(out.tx, caller, f"put an operational intent in the {req.state.value} state")
        ensure_party(out, caller.party, caller.sub, req.at)
        before = None if previous is None else previous.doc.get("subscription_id")
        sub_id = implicit.link_subscription(out, dss, caller, (entity_id, req.volumes, req.extents, req.at),
                                            req.subscription_id, req.implicit, before)  # fmt: skip
        if rules.key_required(req.state):
            _check_key(ctx, out.tx, req, entity_id, sub_id, caller.sub)
        version = 1 if previous is None else int(previous.doc["version"]) + 1
        new_ovn = req.suffixed_ovn or rules.new_ovn(entity_id, req.at, uuid.uuid4().hex)
        doc = {
            "id": entity_id,
            "manager": caller.sub,
            "party": caller.party,  # the channel party it acts as (not part of the reference)
            "version": version,
            "state": req.state.value,
            "ovn": new_ovn,
            "time_start": f3548_time(req.window.start),
            "time_end": f3548_time(req.window.end),  # type: ignore[arg-type]
            "uss_base_url": req.url,
            "subscription_id": sub_id,
            "extents": req.extents,
        }
        doc["declarations"] = _mirror(ctx, out, caller, previous, req.mirrors)
        entity = Entity(entity_id, caller.sub, doc, tuple(req.volumes))
        store_entity(out, dss.oirs, "oir", entity, req.at)
        touched = hull(list(req.volumes) + ([] if previous is None else list(previous.volumes)))
        notify = subscribers_to_notify(out, dss.subscriptions, list(touched), NOTIFY_OIS, req.at)
        change = "created" if previous is None else "updated"
        out.record(f"dss.oir_{change}", caller.party, (entity_id,), digest_of(doc), req.at,
                   {"version": version, "state": req.state.value})  # fmt: skip
        reference = references(out.tx)("oir", [entity], caller.sub)[0]
        return (201 if previous is None else 200), {"subscribers": notify, "operational_intent_reference": reference}

    return ctx.write(job)


def remove(ctx: Context, out: Outbox, found: Entity, party: str, at: datetime) -> None:
    """Take an intent out: its reference, its flight declarations, its implicit subscription when no other intent
    depends on it (deletion by its manager, expiry)."""
    dss: DssPicture = ctx.dss
    drop_entity(out, dss.oirs, "oir", found.id, at)
    for declaration_id in found.doc.get("declarations", []):
        declaring.cancel_job(ctx, party, declaration_id)(out)
    if found.doc.get("subscription_id"):
        implicit.unlink(out, dss, str(found.doc["subscription_id"]), found.id, at)


def delete(ctx: Context, caller: Caller, entity_id: str, ovn: str) -> dict[str, Any]:
    check_entity_id(entity_id, "entityid")
    dss: DssPicture = ctx.dss

    def job(out: Outbox) -> dict[str, Any]:
        found = at_version(dss.oirs.get(entity_id), caller, "operational intent", entity_id, ovn, deleting=True)
        assert found is not None
        _refuse_if_down(out.tx, caller, "delete an operational intent")
        at = ctx.clock()
        reference = references(out.tx)("oir", [found], caller.sub)[0]
        remove(ctx, out, found, caller.party, at)
        notify = subscribers_to_notify(out, dss.subscriptions, list(found.volumes), NOTIFY_OIS, at)
        out.record("dss.oir_deleted", caller.party, (entity_id,), digest_of(found.doc), at, {})
        return {"subscribers": notify, "operational_intent_reference": reference}

    return ctx.write(job)
