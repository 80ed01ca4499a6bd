"""ASTM F3548-21 DSS endpoints under /dss/v1: paths, verbs and status codes from the standard's operation table as
InterUSS publishes it (`uas_standards.astm.f3548.v21.api.OPERATIONS`); errors are its ErrorResponse (problems.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from uas_standards.astm.f3548.v21.api import OPERATIONS, OperationID  # type: ignore[import-untyped]
from uas_standards.astm.f3548.v21.constants import Scope  # type: ignore[import-untyped]

from deconfliction.adapters.f3548_tokens import Claims, party_id_for
from deconfliction.api.deps import CtxDep
from deconfliction.api.f3548_auth import uss
from deconfliction.domain.errors import NotFound
from deconfliction.services import dss_availability, dss_constraints, dss_intents, dss_subscriptions
from deconfliction.services.dss_common import Caller

router = APIRouter(tags=["F3548-21 DSS"])

SC = Scope.StrategicCoordination.value
CM = Scope.ConstraintManagement.value
CP = Scope.ConstraintProcessing.value
CMSA = Scope.ConformanceMonitoringForSituationalAwareness.value
AA = Scope.AvailabilityArbitration.value
Json = Annotated[Any, Body()]


def _path(operation: OperationID) -> str:
    return str(OPERATIONS[operation].path)


def _caller(claims: Claims) -> Caller:
    return Caller(claims.sub, claims.scopes, party_id_for(claims.sub))


OirCaller = Annotated[Claims, Depends(uss(SC, CMSA))]
SubCaller = Annotated[Claims, Depends(uss(SC, CP))]
AvailabilityReader = Annotated[Claims, Depends(uss(SC, CMSA, AA))]
Arbiter = Annotated[Claims, Depends(uss(AA))]
Reporter = Annotated[Claims, Depends(uss(SC, CM, CP, CMSA, AA))]


# ---- operational intent references ----
@router.post(_path(OperationID.QueryOperationalIntentReferences), summary="Query operational intent references")
def query_oirs(body: Json, ctx: CtxDep, claims: OirCaller) -> dict[str, Any]:
    return dss_intents.query(ctx, _caller(claims), body)


@router.get(_path(OperationID.GetOperationalIntentReference), summary="Get an operational intent reference")
def get_oir(entityid: str, ctx: CtxDep, claims: OirCaller) -> dict[str, Any]:
    return dss_intents.get(ctx, _caller(claims), entityid)


@router.put(_path(OperationID.CreateOperationalIntentReference), status_code=201,
            summary="Create an operational intent reference")  # fmt: skip
def create_oir(entityid: str, body: Json, ctx: CtxDep, claims: OirCaller) -> JSONResponse:
    status, answer = dss_intents.put(ctx, _caller(claims), entityid, None, body)
    return JSONResponse(answer, status_code=status)


@router.put(_path(OperationID.UpdateOperationalIntentReference), summary="Update an operational intent reference")
def update_oir(entityid: str, ovn: str, body: Json, ctx: CtxDep, claims: OirCaller) -> JSONResponse:
    status, answer = dss_intents.put(ctx, _caller(claims), entityid, ovn, body)
    return JSONResponse(answer, status_code=status)


@router.delete(_path(OperationID.DeleteOperationalIntentReference), summary="Delete an operational intent reference")
def delete_oir(entityid: str, ovn: str, ctx: CtxDep, claims: OirCaller) -> dict[str, Any]:
    return dss_intents.delete(ctx, _caller(claims), entityid, ovn)


# ---- subscriptions ----
@router.post(_path(OperationID.QuerySubscriptions), summary="Query the caller's subscriptions")
def query_subscriptions(body: Json, ctx: CtxDep, claims: SubCaller) -> dict[str, Any]:
    return dss_subscriptions.query(ctx, _caller(claims), body)


@router.get(_path(OperationID.GetSubscription), summary="Get one of the caller's subscriptions")
def get_subscription(subscriptionid: str, ctx: CtxDep, claims: SubCaller) -> dict[str, Any]:
    return dss_subscriptions.get(ctx, _caller(claims), subscriptionid)


@router.put(_path(OperationID.CreateSubscription), summary="Create a subscription")
def create_subscription(subscriptionid: str, body: Json, ctx: CtxDep, claims: SubCaller) -> dict[str, Any]:
    return dss_subscriptions.put(ctx, _caller(claims), subscriptionid, None, body, dss_intents.references)


@router.put(_path(OperationID.UpdateSubscription), summary="Update a subscription by its version")
def update_subscription(
    subscriptionid: str, version: str, body: Json, ctx: CtxDep, claims: SubCaller
) -> dict[str, Any]:
    return dss_subscriptions.put(ctx, _caller(claims), subscriptionid, version, body, dss_intents.references)


@router.delete(_path(OperationID.DeleteSubscription), summary="Delete a subscription by its version")
def delete_subscription(subscriptionid: str, version: str, ctx: CtxDep, claims: SubCaller) -> dict[str, Any]:
    return dss_subscriptions.delete(ctx, _caller(claims), subscriptionid, version)


# ---- USS availability, reports ----
@router.get(_path(OperationID.GetUssAvailability), summary="A USS's availability")
def get_availability(uss_id: str, ctx: CtxDep, claims: AvailabilityReader) -> dict[str, Any]:
    return dss_availability.get_availability(ctx, uss_id)


@router.put(_path(OperationID.SetUssAvailability), summary="Set a USS's availability (availability arbitration)")
def set_availability(uss_id: str, body: Json, ctx: CtxDep, claims: Arbiter) -> dict[str, Any]:
    return dss_availability.set_availability(ctx, claims.sub, uss_id, body)


@router.post(_path(OperationID.MakeDssReport), status_code=201, summary="Report a communication problem to the DSS")
def make_report(body: Json, ctx: CtxDep, claims: Reporter) -> dict[str, Any]:
    return dss_availability.make_report(ctx, claims.sub, body)


# ---- constraint references ----
# Scopes per the `security` of each operation in InterUSS's OpenAPI text of F3548-21 (utm.yaml, 1.0.0): reads
# accept constraint management or constraint processing; writes need constraint management.
ConstraintReader = Annotated[Claims, Depends(uss(CM, CP))]
ConstraintManager = Annotated[Claims, Depends(uss(CM))]


@router.post(_path(OperationID.QueryConstraintReferences), summary="Query constraint references")
def query_constraints(body: Json, ctx: CtxDep, claims: ConstraintReader) -> dict[str, Any]:
    return dss_constraints.query(ctx, _caller(claims), body)


@router.get(_path(OperationID.GetConstraintReference), summary="Get a constraint reference")
def get_constraint(entityid: str, ctx: CtxDep, claims: ConstraintReader) -> dict[str, Any]:
    return dss_constraints.get(ctx, _caller(claims), entityid)


@router.put(_path(OperationID.CreateConstraintReference), status_code=201, summary="Create a constraint reference")
def create_constraint(entityid: str, body: Json, ctx: CtxDep, claims: ConstraintManager) -> JSONResponse:
    status, answer = dss_constraints.put(ctx, _caller(claims), entityid, None, body)
    return JSONResponse(answer, status_code=status)


@router.put(_path(OperationID.UpdateConstraintReference), summary="Update a constraint reference")
def update_constraint(entityid: str, ovn: str, body: Json, ctx: CtxDep, claims: ConstraintManager) -> JSONResponse:
    status, answer = dss_constraints.put(ctx, _caller(claims), entityid, ovn, body)
    return JSONResponse(answer, status_code=status)


@router.delete(_path(OperationID.DeleteConstraintReference), summary="Delete a constraint reference")
def delete_constraint(entityid: str, ovn: str, ctx: CtxDep, claims: ConstraintManager) -> dict[str, Any]:
    return dss_constraints.delete(ctx, _caller(claims), entityid, ovn)


# ---- paths with a trailing '/' ----
# The reference DSS's router matches whole paths (`^/dss/v1/…/query$`): a trailing '/' finds no operation. Without
# this route the framework would answer 307 to the path without it; here it is 404, as there.
@router.api_route("/dss/v1/{rest:path}/", methods=["GET", "PUT", "POST", "DELETE"], include_in_schema=False)
def trailing_slash(rest: str) -> None:
    raise NotFound(f"no DSS operation at /dss/v1/{rest}/: paths have no trailing '/'")
