"""F3548-21 USS availability and DSS reports: small documents the DSS keeps for the USSs.

Availability: a USS is "Unknown" until a USS with the availability-arbitration scope says otherwise; each change gets
a new opaque version, and a change must name the version it replaces (read-modify-write). Reports: a USS tells the
DSS of a communication problem; the DSS keeps it and answers with the id it gave it.
"""

from __future__ import annotations

import uuid
from typing import Any

from deconfliction.domain.errors import InvalidInput, StateConflict
from deconfliction.domain.signing import digest_of
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox
from deconfliction.storage.dss import DssDoc, DssTx

AVAILABILITY_STATES = ("Unknown", "Normal", "Down")


def _status(uss_id: str, found: DssDoc | None) -> dict[str, Any]:
    if found is None:
        return {"version": "", "status": {"uss": uss_id, "availability": "Unknown"}}
    return {"version": found.doc["version"], "status": {"uss": uss_id, "availability": found.doc["availability"]}}


def get_availability(ctx: Context, uss_id: str) -> dict[str, Any]:
    """UssAvailabilityStatusResponse for any USS id (never 404: an unheard-of USS is Unknown)."""
    with ctx.store.read() as tx:
        return _status(uss_id, tx.get_dss("availability", uss_id))


def availability_of(tx: DssTx, uss_ids: set[str]) -> dict[str, str]:
    """Each USS's availability state, for the references the DSS answers with."""
    found = {d.id: str(d.doc["availability"]) for d in tx.get_dss_many("availability", sorted(uss_ids))}
    return {uss: found.get(uss, "Unknown") for uss in uss_ids}


def _availability_state(value: object) -> str:
    """A UssAvailabilityState as the reference DSS reads it: any case ("normal" is Normal), absent or empty is
    Unknown (prober test_set_uss_availability sends "normal")."""
    if value is None or value == "":
        return "Unknown"
    if isinstance(value, str) and value.capitalize() in AVAILABILITY_STATES:
        return value.capitalize()
    raise InvalidInput(f"availability must be one of {', '.join(AVAILABILITY_STATES)} (any case)", field="availability")


def set_availability(ctx: Context, arbiter: str, uss_id: str, body: object) -> dict[str, Any]:
    """SetUssAvailabilityStatusParameters {old_version, availability} → the new status; 409 on a stale version."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object {old_version, availability}", field="body")
    availability = _availability_state(body.get("availability"))
    old_version = body.get("old_version", "")
    if not isinstance(old_version, str):
        raise InvalidInput("old_version must be a string (empty for a USS never set)", field="old_version")

    def job(out: Outbox) -> dict[str, Any]:
        current = _status(uss_id, out.tx.get_dss("availability", uss_id))
        if current["version"] != old_version:
            raise StateConflict(
                f"the availability of {uss_id!r} is at version {current['version']!r}, not {old_version!r}: "
                "read it again and retry",
                field="old_version",
            )
        at = ctx.clock()
        doc = {"availability": availability, "version": uuid.uuid4().hex, "set_by": arbiter}
        out.tx.save_dss(DssDoc("availability", uss_id, arbiter, doc), at)
        out.record("dss.availability_set", arbiter, (uss_id,), digest_of(doc), at, {"availability": availability})
        return _status(uss_id, DssDoc("availability", uss_id, arbiter, doc))

    return ctx.write(job)


def make_report(ctx: Context, reporter: str, body: object) -> dict[str, Any]:
    """ErrorReport in, the same with `report_id` out (kept durably, recorded in the ledger by digest)."""
    if not isinstance(body, dict) or not isinstance(body.get("exchange"), dict):
        raise InvalidInput("the body must be an ErrorReport: a JSON object with an `exchange` object", field="exchange")
    report = {**body, "report_id": str(uuid.uuid4())}
    try:
        digest = digest_of(report)
    except (ValueError, TypeError, OverflowError) as exc:  # RFC 8785 holds integers to ±2^53
        raise InvalidInput(f"the report cannot be canonicalised for the record: {exc}", field="exchange") from None

    def job(out: Outbox) -> dict[str, Any]:
        at = ctx.clock()
        out.tx.save_dss(DssDoc("report", report["report_id"], reporter, report), at)
        out.record("dss.report_made", reporter, (report["report_id"],), digest, at, {})
        return report

    return ctx.write(job)
