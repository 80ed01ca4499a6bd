"""Slow and stuck clients, bounded where uvicorn leaves them open: its HTTP protocol with three limits added.

- **Header timeout.** A request's line and headers must arrive within `http_header_timeout_s` of its first byte
  (or of the connection, for the first request): a client trickling a header byte a second (slowloris) gets 408
  and is disconnected, instead of holding a connection for ever. Idle keep-alive connections are uvicorn's
  `timeout_keep_alive` (`http_keep_alive_s`).
- **Header size.** Past `http_max_header_bytes` of request line and headers: 431, disconnected.
- **Send stall.** When a client stops reading, the server's writes pile up until the transport pauses writing;
  if it stays paused `http_send_stall_s`, the connection is aborted. An event stream whose reader is stuck is so
  closed (the client resumes with Last-Event-ID) and what it pinned is freed.

The limits come from the application's lifespan state (`STATE_KEY`), so that each worker of `deconf serve
--workers N` reads the settings it was built from.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from deconfliction.api.problems import PROBLEM_JSON, TYPE_BASE

log = logging.getLogger("deconfliction.http")
STATE_KEY = "deconf.connection_limits"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    max_header_bytes: int = 65_536
    send_stall_s: float = 10.0


def _refusal(status: int, reason: str, slug: str, detail: str) -> bytes:
    body = json.dumps({"type": TYPE_BASE + slug, "title": reason, "status": status, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout, a header size limit and a send-stall limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = self.app_state.get(STATE_KEY)
        self.limits = limits if isinstance(limits, ConnectionLimits) else ConnectionLimits()
        self._header_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._received_any = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(self.limits.send_stall_s, self._drop_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout_s, self._header_timeout)

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._stall_timer = None

    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            detail = f"the request line and headers exceed {self.limits.max_header_bytes} bytes"
            self._refuse(431, "Request Header Fields Too Large", "headers-too-large", detail)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if not self._received_any or (self.cycle is not None and not self.cycle.response_complete):
            # connected and never said a word, or the headers of a request pipelined behind an answer still being
            # written: a 408 has nowhere to go
            self.transport.close()
            return
        detail = f"the request's headers did not arrive within {self.limits.header_timeout_s:g} s"
        self._refuse(408, "Request Timeout", "request-timeout", detail)

    def _refuse(self, status: int, reason: str, slug: str, detail: str) -> None:
        log.info("%s from %s: %s", status, self.client, detail)
        self.transport.write(_refusal(status, reason, slug, detail))
        self.transport.close()

    def _drop_stalled(self) -> None:
        self._stall_timer = None
        log.info("dropped %s: it read nothing for %g s of a full send buffer", self.client, self.limits.send_stall_s)
        self.transport.abort()  # close() would wait for the buffer to drain, which it never will
