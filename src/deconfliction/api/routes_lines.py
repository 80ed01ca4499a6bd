"""Agreed deconfliction lines between two parties."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import AckIn, BeforeCursor
from deconfliction.domain.lines import LineStatus
from deconfliction.services import lines as svc

router = APIRouter(prefix="/v1", tags=["lines"])

_LINE_SCHEMA = {
    "type": "object",
    "required": ["with", "geometry"],
    "additionalProperties": False,
    "properties": {
        "with": {"type": "string", "description": "The other party of the line"},
        "geometry": {
            "type": "object",
            "description": "GeoJSON LineString, WGS84 [lon, lat]; continued beyond its ends along its first and last "
            "segments",
        },
        "left": {
            "type": "string",
            "description": "The party keeping to the left, walking the line in coordinate order",
        },
        "right": {"type": "string", "description": "The party keeping to the right"},
        "tolerance_m": {"type": "number", "minimum": 0, "description": "How far across is tolerated (default 0)"},
        "id": {"type": "string", "description": "The line's id, chosen by a proposer who signs (optional)"},
        "salt": {"type": "string", "description": "32 hex characters, chosen by a proposer who signs (optional)"},
        "signature": {
            "type": "string",
            "description": 'Base64 Ed25519 over b"deconf/message/v1\\n" + the 32 digest bytes (optional)',
        },
    },
}


@router.post(
    "/lines",
    status_code=status.HTTP_201_CREATED,
    summary="Propose a line to another party: who keeps to which side, with what tolerance",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _LINE_SCHEMA}}}},
)
async def propose(body: Annotated[Any, Body()], ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    view = await ctx.write_async(svc.propose(ctx, who.require_writer(), body))
    return JSONResponse(view, status_code=201, headers={"Location": f"/v1/lines/{view['id']}"})


@router.get("/lines", summary="The lines the caller proposed or was proposed, newest first")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    status: Annotated[str | None, Query(description="proposed | accepted | rejected | withdrawn")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    before: BeforeCursor = None,
) -> JSONResponse:
    limit = min(limit, request.app.state.settings.page_limit_max)
    found = svc.list_lines(ctx, who.require_party(), status, limit, before)
    headers = {"X-Next-Before": str(found[-1][0])} if len(found) == limit else {}
    return JSONResponse([line.view() for _, line in found], headers=headers)


@router.get("/lines/{line_id}", summary="One of the caller's lines")
def get(line_id: str, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    return svc.get_line(ctx, who.require_party(), line_id)


@router.post("/lines/{line_id}/accept", summary="Accept a line proposed to you: from now on it binds both parties")
async def accept(line_id: str, ctx: CtxDep, who: PrincipalDep, body: AckIn | None = None) -> dict[str, Any]:
    signature = None if body is None else body.signature
    job = svc.answer(ctx, who.require_writer(), line_id, LineStatus.ACCEPTED, signature)
    view: dict[str, Any] = await ctx.write_async(job)
    return view


@router.post("/lines/{line_id}/reject", summary="Reject a line proposed to you")
async def reject(line_id: str, ctx: CtxDep, who: PrincipalDep, body: AckIn | None = None) -> dict[str, Any]:
    signature = None if body is None else body.signature
    job = svc.answer(ctx, who.require_writer(), line_id, LineStatus.REJECTED, signature)
    view: dict[str, Any] = await ctx.write_async(job)
    return view


@router.delete(
    "/lines/{line_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw a proposed or accepted line (either party); its open conflicts resolve",
)
async def withdraw(line_id: str, ctx: CtxDep, who: PrincipalDep) -> Response:
    await ctx.write_async(svc.withdraw(ctx, who.require_writer(), line_id))
    return Response(status_code=204)
