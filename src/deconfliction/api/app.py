"""The FastAPI application factory: everything is built by `create_app(settings)`, nothing at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from deconfliction import __version__
from deconfliction.adapters.f3548_tokens import TokenVerifier
from deconfliction.api import problems
from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.idempotency import Idempotency
from deconfliction.api.json_body import StrictJson
from deconfliction.api.limits import BodyLimit, RateLimit, StreamSlots
from deconfliction.api.logs import RequestLog
from deconfliction.api.metrics import CONTENT_TYPE, RequestMetrics, registry_for
from deconfliction.api.routes_conflicts import router as conflicts_router
from deconfliction.api.routes_cot import router as cot_router
from deconfliction.api.routes_declarations import router as declarations_router
from deconfliction.api.routes_dss import router as dss_router
from deconfliction.api.routes_events import router as events_router
from deconfliction.api.routes_ledger import router as ledger_router
from deconfliction.api.routes_lines import router as lines_router
from deconfliction.api.routes_messages import router as messages_router
from deconfliction.api.routes_mqtt import router as mqtt_router
from deconfliction.api.routes_notifications import router as notifications_router
from deconfliction.api.routes_ogc import router as ogc_router
from deconfliction.api.routes_parties import router as parties_router
from deconfliction.api.routes_tracks import router as tracks_router
from deconfliction.api.routes_transfer import router as transfer_router
from deconfliction.api.routes_web import install as install_web
from deconfliction.api.routes_webhooks import router as webhooks_router
from deconfliction.api.schemas import Health
from deconfliction.api.slow_clients import STATE_KEY, ConnectionLimits
from deconfliction.config import Settings
from deconfliction.domain.errors import DomainError
from deconfliction.services.auth import authenticate
from deconfliction.services.context import Context
from deconfliction.services.events import EventHub

log = logging.getLogger("deconfliction.api")
DESCRIPTION = """
A deconfliction channel. Parties declare where and when they operate (4D: shape, altitude band, time window), are
warned automatically — both sides at once — when their declarations come within the required separation of
another party's, and see only what they need to know.

Authenticate with `Authorization: Bearer <token>`. Errors are Problem Details (RFC 9457).
"""


def _is_admin(ctx: Context, authorization: str | None) -> bool:
    """Whether the header carries the admin token; a missing or unknown one is no error on a health probe."""
    if not authorization:
        return False
    try:
        return authenticate(ctx, authorization).is_admin
    except DomainError:
        return False


class BackgroundWork(Protocol):
    leading: bool  # this worker runs the channel's background jobs (services/background.py)

    def start(self) -> None: ...
    def stop(self) -> None: ...


def create_app(
    settings: Settings,
    ctx: Context,
    hub: EventHub,
    background: BackgroundWork | None = None,
    dss_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the HTTP application around an already wired Context (see bootstrap.py); `background` (deadline checks,
    webhook delivery) runs while the app is up; `dss_verifier` checks F3548 access tokens (None: /dss answers 401)."""

    limits = ConnectionLimits(
        header_timeout_s=settings.http_header_timeout_s,
        max_header_bytes=settings.http_max_header_bytes,
        send_stall_s=settings.http_send_stall_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if background is not None:
            background.start()
        try:
            yield {STATE_KEY: limits}  # for the server's HTTP protocol (api/slow_clients.py)
        finally:
            if background is not None:
                background.stop()

    app = FastAPI(title="deconfliction", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.hub = hub
    app.state.background = background
    app.state.f3548_verifier = dss_verifier
    app.state.stream_slots = StreamSlots(settings.sse_streams_per_token)
    problems.install(app)
    app.include_router(parties_router)
    app.include_router(declarations_router)
    app.include_router(conflicts_router)
    app.include_router(notifications_router)
    app.include_router(messages_router)
    app.include_router(ledger_router)
    app.include_router(webhooks_router)
    app.include_router(events_router)
    app.include_router(lines_router)
    app.include_router(cot_router)
    app.include_router(mqtt_router)
    app.include_router(tracks_router)
    app.include_router(transfer_router)
    app.include_router(ogc_router)
    app.include_router(dss_router)
    install_web(app)

    registry = registry_for(ctx, hub)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (admin token): requests and latencies by route; the picture, record, writer",
        response_class=PlainTextResponse,
    )
    def metrics(who: PrincipalDep) -> PlainTextResponse:
        who.require_admin()  # counts of requests and tracks are operational facts, not every party's business
        return PlainTextResponse(registry.render(), media_type=CONTENT_TYPE)

    @app.get(
        "/healthz",
        response_model=Health,
        response_model_exclude_none=True,
        tags=["operations"],
        summary="Up (200) or down (503); with the admin token, a few figures too",
        responses={503: {"description": 'The store does not answer: {"status": "down"}'}},
    )
    def healthz(ctx: CtxDep, request: Request) -> Any:
        try:
            schema_version = ctx.store.schema_version()
        except Exception:  # a probe wants up or down, not a 500
            log.exception("health check: the store does not answer")
            return JSONResponse({"status": "down"}, status_code=503)
        if not _is_admin(ctx, request.headers.get("authorization")):
            return {"status": "ok"}  # how many declarations are active is not anyone's business
        leader = background is not None and background.leading
        return {
            "status": "ok",
            "schema_version": schema_version,
            "declarations_active": len(ctx.picture),
            "worker": os.getpid(),
            "leader": leader,
        }

    # Innermost first: idempotency keys sit next to the routes, inside the rate limit and the body limit.
    app.add_middleware(Idempotency, store=lambda: ctx.store)
    imports = {"/v1/imports": settings.import_max_bytes}  # a spreadsheet or Google Earth file, not one JSON object
    app.add_middleware(StrictJson, files=frozenset(imports))  # inside the body limit: reads what it let through
    app.add_middleware(RateLimit, rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, per_path=imports, timeout_s=settings.http_body_timeout_s
    )
    app.add_middleware(RequestMetrics, registry=registry)  # every answer counts, 413s and 429s too
    app.add_middleware(RequestLog)  # outermost: every answer has a request id and a log line
    return app
