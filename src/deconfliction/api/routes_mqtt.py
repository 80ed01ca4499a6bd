"""Live tracks over MQTT: a party's signing secret, and how the subscriber fares."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.config import Settings
from deconfliction.domain.timewindow import format_time
from deconfliction.domain.track_auth import topic_for
from deconfliction.services import mqtt as svc
from deconfliction.services.background import Background

router = APIRouter(prefix="/v1/mqtt", tags=["live tracks"])


def _feed(request: Request) -> svc.MqttFeed | None:
    background = getattr(request.app.state, "background", None)
    return background.mqtt if isinstance(background, Background) else None


@router.post(
    "/secret",
    status_code=status.HTTP_201_CREATED,
    summary="A new MQTT signing secret for the caller, shown once; the previous one stops working at once",
)
def rotate_secret(request: Request, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    party = who.require_writer()  # a suspended party publishes no tracks: it gets no new secret
    secret, at = svc.rotate_secret(ctx, party)
    settings: Settings = request.app.state.settings
    return {
        "party": party,
        "secret": secret,
        "created_at": format_time(at),
        "topic": topic_for(settings.mqtt_topic_prefix, party, "{track_id}"),
        "enabled": bool(settings.mqtt_url),
    }


@router.get("/status", summary="The MQTT subscriber: connection and payloads accepted or dropped, by reason")
def get_status(request: Request, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    feed = _feed(request)
    out: dict[str, Any] = {"enabled": False} if feed is None else feed.status(who.party)
    if who.party is not None:
        created = svc.secret_created_at(ctx, who.party)
        out["secret_created_at"] = None if created is None else format_time(created)
    return out
