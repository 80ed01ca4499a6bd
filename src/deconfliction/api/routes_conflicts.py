"""Conflicts, as each party sees them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import AckIn, ConflictOut
from deconfliction.services import conflicts as svc

router = APIRouter(prefix="/v1", tags=["conflicts"])


@router.get("/conflicts", response_model=list[ConflictOut], summary="The caller's conflicts, newest first")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    status: Annotated[str | None, Query(description="open | acknowledged | resolved")] = None,
    limit: Annotated[int, Query(ge=1)] = 500,
) -> list[dict[str, Any]]:
    limit = min(limit, request.app.state.settings.page_limit_max)
    return svc.list_conflicts(ctx, who.require_party(), status, limit)


@router.get("/conflicts/{conflict_id}", response_model=ConflictOut, summary="One of the caller's conflicts")
def get(conflict_id: str, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    return svc.get_conflict(ctx, who.require_party(), conflict_id)


@router.post(
    "/conflicts/{conflict_id}/ack",
    response_model=ConflictOut,
    summary='Acknowledge: "we have seen it" — never "we approve"',
)
def ack(conflict_id: str, ctx: CtxDep, who: PrincipalDep, body: AckIn | None = None) -> dict[str, Any]:
    # A suspended party may still say it has seen a warning: receipt must never be blocked.
    return svc.acknowledge(ctx, who.require_party(), conflict_id, None if body is None else body.signature)
