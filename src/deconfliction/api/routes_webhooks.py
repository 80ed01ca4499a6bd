"""Webhooks: the caller's events POSTed to its URL, signed with HMAC-SHA256, retried with backoff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from deconfliction.adapters.webhook_http import resolve_host
from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import WebhookIn
from deconfliction.config import Settings
from deconfliction.services import webhooks as svc

router = APIRouter(prefix="/v1", tags=["webhooks"])


# sync on purpose: resolving the URL's host blocks, in the thread pool rather than the event loop
@router.post("/webhooks", status_code=status.HTTP_201_CREATED, summary="Register a webhook; its secret is shown once")
def create(body: WebhookIn, request: Request, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    targets = svc.WebhookTargets(settings.webhook_policy(), resolve_host)
    hook = svc.create(ctx, who.require_writer(), body.url, body.secret, targets, settings.webhook_max_per_party)
    return {**hook.view(), "secret": hook.secret}


@router.get("/webhooks", summary="The caller's webhooks and their delivery state")
def list_(ctx: CtxDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [h.view() for h in svc.list_for(ctx, who.require_party())]


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a webhook")
def delete(webhook_id: str, ctx: CtxDep, who: PrincipalDep) -> Response:
    svc.remove(ctx, who.require_party(), webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks/{webhook_id}/resume", summary="Try a paused or failing webhook again now")
def resume(webhook_id: str, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    return svc.resume(ctx, who.require_writer(), webhook_id).view()
