"""What the F3548-21 services share: the calling USS, times as the standard writes them, keeping the in-memory picture
and the store in step inside a write job, and the subscribers a change obliges its writer to notify."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from deconfliction.domain.errors import AlreadyExists, Forbidden, InvalidInput, NotFound, StateConflict
from deconfliction.domain.f3548.volumes import Volume, parse_volume4d
from deconfliction.domain.timewindow import format_time
from deconfliction.services.context import Context
from deconfliction.services.dss_picture import Entity, VolumeSet
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Tx
from deconfliction.storage.dss import DssDoc


@dataclass(frozen=True, slots=True)
class Caller:
    """A USS as its access token names it: `sub`, its scopes, and the channel party it is."""

    sub: str
    scopes: frozenset[str]
    party: str


def fresh(ctx: Context, tx: Tx) -> None:
    """Before answering a read from memory: take in every write any worker has committed (and answered) so far."""
    ctx.writer.caught_up(tx.last_change_seq())


def area_of_interest(params: dict[str, Any]) -> Volume:
    """A query's area_of_interest (required). An absent bound is unbounded — an absent start reaches into the past,
    so entities that have ended but not yet expired are found — as the reference DSS searches (its SQL compares a
    bound only when given). A window from an instant to itself is an instant."""
    area = params.get("area_of_interest")
    if area is None:
        raise InvalidInput("area_of_interest is required", field="area_of_interest")
    return parse_volume4d(area, "area_of_interest", require_time=False, require_altitude=False)


def f3548_time(at: datetime) -> dict[str, str]:
    """Time as F3548 writes it: {"value": RFC 3339 in UTC with Z, "format": "RFC3339"}."""
    return {"value": format_time(at), "format": "RFC3339"}


def require_object(body: object, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object ({what})", field="body")
    return body


def managed(found: Entity | None, caller: Caller, what: str, entity_id: str, *, updating: bool = False) -> Entity:
    """The entity, if it exists and the caller manages it (404, then 403). An update of one that does not exist is
    409, not 404: the standard's table lists no 404 for updates (the version or OVN named is not the current one)."""
    if found is None:
        if updating:
            raise StateConflict(f"no {what} {entity_id!r} at the version or OVN given: it does not exist")
        raise NotFound(f"no {what} {entity_id!r}")
    if found.manager != caller.sub:
        raise Forbidden(f"{what} {entity_id!r} is managed by another USS; only its manager may change it")
    return found


def at_version(
    found: Entity | None, caller: Caller, what: str, entity_id: str, given: str | None, *, deleting: bool = False
) -> Entity | None:
    """The entity a write acts on, named with its current OVN (intents, constraints) or version (subscriptions).

    `given` None is a creation: nothing of that id may exist yet (409), and the answer is None. Otherwise the
    caller must manage the entity (see `managed`) and `given` must be its current OVN or version (409)."""
    field = "version" if what == "subscription" else "ovn"
    if given is None:
        if found is not None:
            raise AlreadyExists(
                f"{what} {entity_id!r} already exists; update it with its {field.upper() if field == 'ovn' else field}"
            )
        return None
    current = managed(found, caller, what, entity_id, updating=not deleting)
    if str(current.doc[field]) != given:
        if field == "ovn":
            raise StateConflict(f"{what} {entity_id!r} has another OVN than {given!r}: get it again")
        raise StateConflict(f"{what} {entity_id!r} is at version {current.doc[field]!r}, not {given!r}")
    return current


def store_entity(out: Outbox, volume_set: VolumeSet, kind: str, entity: Entity, at: datetime) -> None:
    """Save the entity durably and in memory within this job; the memory change is undone if the job fails."""
    out.tx.save_dss(DssDoc(kind, entity.id, entity.manager, entity.doc), at)
    previous = volume_set.put(entity)
    out.on_undo(lambda: _restore(volume_set, entity.id, previous))
    out.changed(f"dss:{kind}", entity.id, at)


def drop_entity(out: Outbox, volume_set: VolumeSet, kind: str, entity_id: str, at: datetime) -> None:
    out.tx.delete_dss(kind, entity_id)
    previous = volume_set.remove(entity_id)
    out.on_undo(lambda: _restore(volume_set, entity_id, previous))
    out.changed(f"dss:{kind}", entity_id, at)


def _restore(volume_set: VolumeSet, entity_id: str, previous: Entity | None) -> None:
    if previous is None:
        volume_set.remove(entity_id)
    else:
        volume_set.put(previous)


def subscribers_to_notify(
    out: Outbox, subscriptions: VolumeSet, volumes: list[Volume], flag: str, at: datetime
) -> list[dict[str, Any]]:
    """F3548: the subscriptions whose volumes intersect the change and that asked for this kind of change (`flag`:
    notify_for_operational_intents or notify_for_constraints) — each one's notification index goes up by one, and
    they are answered grouped by USS base URL (SubscriberToNotify)."""
    by_url: dict[str, list[dict[str, Any]]] = {}
    for sub in subscriptions.intersecting(volumes, keep=lambda s: bool(s.doc.get(flag))):
        index = int(sub.doc["notification_index"]) + 1
        bumped = replace(sub, doc={**sub.doc, "notification_index": index})
        store_entity(out, subscriptions, "subscription", bumped, at)
        state = {"subscription_id": sub.id, "notification_index": index}
        by_url.setdefault(str(sub.doc["uss_base_url"]), []).append(state)
    return [{"uss_base_url": url, "subscriptions": states} for url, states in sorted(by_url.items())]
