"""F3548-21 constraint references: create, update and delete by OVN, get, query — and the subscribers each change
obliges its writer to notify (the subscriptions that asked to hear of constraints).

Constraint writes present no key: the standard does not deconflict constraints against operational intents (it is
the other way round — an intent whose subscription hears of constraints must hold their OVNs in its key, see
dss_intents._check_key). Every write runs on the channel's single writer, as the intents' do.

Choices: versions count up from 1 and every version has a new OVN (a constraint has no
requested_ovn_suffix); updating a constraint that does not exist is a 409, as the reference DSS answers (the
OpenAPI lists no 404 for updates).
"""

from __future__ import annotations

import uuid
from typing import Any

from deconfliction.domain.f3548 import intents as rules
from deconfliction.domain.f3548.extents import hull
from deconfliction.domain.f3548.identifiers import check_entity_id, check_uss_base_url
from deconfliction.domain.f3548.timing import check_constraint_window
from deconfliction.domain.f3548.volumes import CONSTRAINT_LIMITS, Volume, parse_extents, union_window
from deconfliction.domain.signing import digest_of
from deconfliction.services.context import Context
from deconfliction.services.dss_common import (
    Caller,
    at_version,
    drop_entity,
    f3548_time,
    require_object,
    store_entity,
    subscribers_to_notify,
)
from deconfliction.services.dss_intents import get_reference, query_references, references
from deconfliction.services.dss_picture import DssPicture, Entity
from deconfliction.services.parties import ensure_party
from deconfliction.services.writer import Outbox

KIND = "constraint"
NOTIFY_CONSTRAINTS = "notify_for_constraints"


def get(ctx: Context, caller: Caller, entity_id: str) -> dict[str, Any]:
    """GetConstraintReferenceResponse (the OVN only to its manager)."""
    return {"constraint_reference": get_reference(ctx, caller, KIND, entity_id, "constraint reference")}


def query(ctx: Context, caller: Caller, body: object) -> dict[str, Any]:
    """QueryConstraintReferencesResponse: the constraints intersecting the area of interest."""
    params = require_object(body, "QueryConstraintReferenceParameters")
    return {"constraint_references": query_references(ctx, caller, KIND, params)}


class _Request:
    """A PutConstraintReferenceParameters, checked before the write."""

    def __init__(self, ctx: Context, entity_id: str, body: object) -> None:
        check_entity_id(entity_id, "entityid")
        params = require_object(body, "PutConstraintReferenceParameters")
        declared = parse_extents(params.get("extents"), "extents", require_time=True, require_altitude=True,
                                 limits=CONSTRAINT_LIMITS)  # fmt: skip
        self.volumes: list[Volume] = list(hull(declared))  # the extent the DSS keeps, as the reference's union
        self.window = union_window(self.volumes)
        self.at = ctx.clock()
        check_constraint_window(self.window, self.at)
        self.url = check_uss_base_url(params.get("uss_base_url"), "uss_base_url")
        self.extents = params["extents"]


def put(ctx: Context, caller: Caller, entity_id: str, ovn: str | None, body: object) -> tuple[int, dict[str, Any]]:
    """Create (ovn None → 201) or update (→ 200) a constraint reference; ChangeConstraintReferenceResponse."""
    req = _Request(ctx, entity_id, body)
    dss: DssPicture = ctx.dss

    def job(out: Outbox) -> tuple[int, dict[str, Any]]:
        previous = at_version(dss.constraints.get(entity_id), caller, "constraint", entity_id, ovn)
        ensure_party(out, caller.party, caller.sub, req.at)
        version = 1 if previous is None else int(previous.doc["version"]) + 1
        doc = {
            "id": entity_id,
            "manager": caller.sub,
            "version": version,
            "ovn": rules.new_ovn(entity_id, req.at, uuid.uuid4().hex),
            "time_start": f3548_time(req.window.start),
            "time_end": f3548_time(req.window.end),  # type: ignore[arg-type]  # required: parse_extents checked it
            "uss_base_url": req.url,
            "extents": req.extents,
        }
        entity = Entity(entity_id, caller.sub, doc, tuple(req.volumes))
        store_entity(out, dss.constraints, KIND, entity, req.at)
        # Whoever heard of the constraint where it was, and whoever hears of it where it is now.
        touched = hull(list(req.volumes) + ([] if previous is None else list(previous.volumes)))
        notify = subscribers_to_notify(out, dss.subscriptions, list(touched), NOTIFY_CONSTRAINTS, req.at)
        change = "created" if previous is None else "updated"
        out.record(f"dss.constraint_{change}", caller.party, (entity_id,), digest_of(doc), req.at,
                   {"version": version})  # fmt: skip
        reference = references(out.tx)(KIND, [entity], caller.sub)[0]
        return (201 if previous is None else 200), {"subscribers": notify, "constraint_reference": reference}

    return ctx.write(job)


def delete(ctx: Context, caller: Caller, entity_id: str, ovn: str) -> dict[str, Any]:
    """Delete by the current OVN; ChangeConstraintReferenceResponse with the reference as it was."""
    check_entity_id(entity_id, "entityid")
    dss: DssPicture = ctx.dss

    def job(out: Outbox) -> dict[str, Any]:
        found = at_version(dss.constraints.get(entity_id), caller, "constraint", entity_id, ovn, deleting=True)
        assert found is not None
        at = ctx.clock()
        reference = references(out.tx)(KIND, [found], caller.sub)[0]
        drop_entity(out, dss.constraints, KIND, entity_id, at)
        notify = subscribers_to_notify(out, dss.subscriptions, list(found.volumes), NOTIFY_CONSTRAINTS, at)
        out.record("dss.constraint_deleted", caller.party, (entity_id,), digest_of(found.doc), at, {})
        return {"subscribers": notify, "constraint_reference": reference}

    return ctx.write(job)
