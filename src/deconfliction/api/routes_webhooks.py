"""Webhooks: the caller's events POSTed to its URL, signed with HMAC-SHA256, retried with backoff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import WebhookIn
from deconfliction.services import webhooks as svc

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, summary="Register a webhook; its secret is shown once")
def create(body: WebhookIn, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    hook = svc.create(ctx, who.require_party(), body.url, body.secret)
    return {**hook.view(), "secret": hook.secret}


@router.get("/webhooks", summary="The caller's webhooks and their delivery state")
def list_(ctx: CtxDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [h.view() for h in svc.list_for(ctx, who.require_party())]


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a webhook")
def delete(webhook_id: str, ctx: CtxDep, who: PrincipalDep) -> Response:
    svc.remove(ctx, who.require_party(), webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
