"""Messages between parties, relayed through intermediaries; their acknowledgements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import AckIn, BeforeCursor, RelayIn
from deconfliction.services import messages as svc

router = APIRouter(prefix="/v1", tags=["messages"])

_MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["to", "subject"],
    "additionalProperties": False,
    "properties": {
        "to": {"type": "string", "description": "The recipient party"},
        "subject": {"type": "string", "maxLength": 200},
        "body": {"type": "string", "maxLength": 20000},
        "refs": {"type": "array", "items": {"type": "string"}, "description": "Declaration ids the message is about"},
        "ack_by": {"type": "string", "format": "date-time", "description": "Deadline to acknowledge (RFC 3339)"},
        "signature": {
            "type": "string",
            "description": 'Base64 Ed25519 over b"deconf/message/v1\\n" + the 32 digest bytes (optional)',
        },
    },
}


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Send a message; it is routed along the shortest path of links",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _MESSAGE_SCHEMA}}}},
)
async def send(body: Annotated[Any, Body()], ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    view = await ctx.write_async(svc.send(ctx, who.require_writer(), body))
    return JSONResponse(view, status_code=201, headers={"Location": f"/v1/messages/{view['id']}"})


@router.get("/messages", summary="The caller's messages in one box, newest first")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    box: Annotated[str, Query(description="inbox | outbox | relay (awaiting your review) | all")] = "inbox",
    overdue: Annotated[bool | None, Query(description="only overdue (true) or only not overdue (false)")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    before: BeforeCursor = None,
) -> JSONResponse:
    limit = min(limit, request.app.state.settings.page_limit_max)
    found = svc.list_box(ctx, who.require_party(), box, limit, before)
    views = [m.view() for _, m in found]
    if overdue is not None:
        views = [v for v in views if v["overdue"] is overdue]
    headers = {"X-Next-Before": str(found[-1][0])} if len(found) == limit else {}
    return JSONResponse(views, headers=headers)


@router.get(
    "/messages/{message_id}",
    summary="One message (sender, recipient, intermediaries it reached); the recipient's first read marks it read",
)
async def get(message_id: str, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    party = who.require_party()
    message = svc.get(ctx, party, message_id)
    if party == message.content.recipient and message.status.value == "delivered":
        return await ctx.write_async(svc.mark_read(ctx, party, message_id))
    return message.view()


@router.post("/messages/{message_id}/relay", summary="Approve or refuse a message awaiting your review")
async def relay(message_id: str, body: RelayIn, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    job = svc.relay(ctx, who.require_writer(), message_id, body.decision, body.note)
    view: dict[str, Any] = await ctx.write_async(job)
    return view


@router.post(
    "/messages/{message_id}/ack",
    summary='Acknowledge a message you received: "received", never "approved"',
)
async def ack(message_id: str, ctx: CtxDep, who: PrincipalDep, body: AckIn | None = None) -> dict[str, Any]:
    signature = None if body is None else body.signature
    # A suspended party may still say it received something: receipt must never be blocked.
    return await ctx.write_async(svc.acknowledge(ctx, who.require_party(), message_id, signature))
