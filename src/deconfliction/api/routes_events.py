"""Server-Sent Events: each party's own stream from now on, resumable from Last-Event-ID; a few per token."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.limits import StreamSlots
from deconfliction.domain.errors import RateLimited
from deconfliction.domain.numbers import INT64_MAX, parse_whole
from deconfliction.domain.timewindow import format_time
from deconfliction.services.events import EventHub, events_after, latest_event_id
from deconfliction.services.probing import ADMIN_STREAM
from deconfliction.services.views import deliverable, record_job
from deconfliction.storage.base import StoredEvent

router = APIRouter(prefix="/v1", tags=["events"])


def _frame(event: StoredEvent) -> bytes:
    data = json.dumps(
        {"id": event.id, "type": event.type, "at": format_time(event.at), "data": event.data}, separators=(",", ":")
    )
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()


class EventStream(StreamingResponse):
    """An event stream that gives its slot back (api/limits.StreamSlots) however it ends, started or not."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None], headers: dict[str, str]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


@router.get(
    "/events",
    summary="Live events of the caller (SSE) from now on, or after Last-Event-ID / ?after=N (0: all of them)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"}},
)
async def events(
    request: Request,
    ctx: CtxDep,
    who: PrincipalDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=INT64_MAX, description="resume after this event id (as Last-Event-ID); 0 replays all"),
    ] = None,
) -> StreamingResponse:
    party = ADMIN_STREAM if who.is_admin else who.require_party()  # the admin's stream: probing seen (concepts.md)
    cursor = after  # None: from now on, once subscribed
    if last_event_id is not None:
        cursor = parse_whole(last_event_id.strip(), "Last-Event-ID", "the id of an event received before")
    hub: EventHub = request.app.state.hub
    heartbeat_s: float = request.app.state.settings.sse_heartbeat_s
    slots: StreamSlots = request.app.state.stream_slots
    slot = slots.take(request.scope)
    if slot is None:
        raise RateLimited(
            f"this token already holds {slots.per_token} event streams open; close one (each stream carries all "
            "of the party's events)"
        )

    async def stream() -> AsyncIterator[bytes]:
        nonlocal cursor
        wake = hub.subscribe(party)  # before the first read, so nothing committed in between is missed
        try:
            if cursor is None:
                cursor = await anyio.to_thread.run_sync(latest_event_id, ctx, party)
            # `id:` tells the client where it is from the start: after a break it resumes from here, not from now
            yield f"retry: 3000\nid: {cursor}\n\n".encode()
            while True:
                wake.clear()
                batch = await anyio.to_thread.run_sync(events_after, ctx, party, cursor)
                shown, declarations = await anyio.to_thread.run_sync(deliverable, ctx, party, batch)
                for event in shown:
                    yield _frame(event)
                if batch:
                    cursor = batch[-1].id
                if declarations:
                    await ctx.write_async(record_job(ctx, party, declarations, "event"))
                if len(batch) == 500:
                    continue
                if hub.closing or await request.is_disconnected():
                    return
                try:
                    await asyncio.wait_for(wake.wait(), timeout=heartbeat_s)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                if hub.closing:
                    return
        finally:
            hub.unsubscribe(party, wake)

    # X-Deconf-Worker: which worker process holds the stream (`deconf serve --workers N`)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Deconf-Worker": str(os.getpid())}
    return EventStream(stream(), lambda: slots.give_back(slot), headers)
