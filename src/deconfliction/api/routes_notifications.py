"""Notifications of declarations shared with the caller, who was notified of the caller's, and who read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import AckIn, BeforeCursor
from deconfliction.domain.numbers import INT64_MAX
from deconfliction.services import notifications as svc
from deconfliction.services import views

router = APIRouter(prefix="/v1", tags=["notifications"])


@router.get("/notifications", summary="Declarations shared with the caller, to acknowledge; newest first")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    status: Annotated[
        str | None, Query(description="pending | overdue | acknowledged | superseded | unacknowledged")
    ] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    before: BeforeCursor = None,
) -> JSONResponse:
    limit = min(limit, request.app.state.settings.page_limit_max)
    found = svc.list_for(ctx, who.require_party(), status, limit, before)
    headers = {"X-Next-Before": str(found[-1][0])} if len(found) == limit else {}
    return JSONResponse([n.view() for _, n in found], headers=headers)


@router.get("/notifications/{notification_id}", summary="One of the caller's notifications")
def get(notification_id: str, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    return svc.get(ctx, who.require_party(), notification_id).view()


@router.post(
    "/notifications/{notification_id}/ack",
    summary='Acknowledge a shared declaration: "received", never "approved"; signed when you have a key',
)
async def ack(notification_id: str, ctx: CtxDep, who: PrincipalDep, body: AckIn | None = None) -> dict[str, Any]:
    signature = None if body is None else body.signature
    return await ctx.write_async(svc.acknowledge(ctx, who.require_party(), notification_id, signature))


@router.get(
    "/declarations/{declaration_id}/notifications",
    summary="Who was notified of your declaration, and who acknowledged (owner only)",
)
def of_declaration(declaration_id: str, ctx: CtxDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [n.view() for n in svc.of_declaration(ctx, who.require_party(), declaration_id)]


@router.get("/declarations/{declaration_id}/views", summary="Who has read your declaration, when and how (owner only)")
def views_of(
    declaration_id: str,
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    after: Annotated[int, Query(ge=0, le=INT64_MAX, description="cursor: the last `seq` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1)] = 500,
) -> list[dict[str, Any]]:
    limit = min(limit, request.app.state.settings.page_limit_max)
    return [
        views.view_json(seq, v) for seq, v in views.views_of(ctx, who.require_party(), declaration_id, after, limit)
    ]
