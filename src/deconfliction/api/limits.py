"""Limits at the edge: request body size (413) and a per-token rate (429)."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconfliction.api.problems import PROBLEM_JSON, TYPE_BASE


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    slug: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    field: str | None = None,
) -> None:
    """Answer with Problem Details straight from an ASGI middleware."""
    problem = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if field is not None:
        problem["field"] = field
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413: by Content-Length up front, else by reading the body first; and
    bodies that take longer than `timeout_s` to arrive with 408.

    The body is read here, in full, before the application sees it — the only way to answer a chunked upload
    that grows too large with 413 rather than letting the framework turn the overflow into a parse error, and a
    body trickled a byte at a time with 408 rather than holding a connection (and a request slot) for ever.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None, timeout_s: float = 60.0
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}  # paths that take larger bodies (a file to import)
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope["path"].rstrip("/"), self.max_bytes)
        detail = f"the request body exceeds the limit of {max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await send_problem(send, 413, "Too large", detail, "too-large")
                return
        try:
            with anyio.fail_after(self.timeout_s):
                body, replay = await read_body(receive, max_bytes)
        except BodyTooLarge:
            await send_problem(send, 413, "Too large", detail, "too-large")
            return
        except TimeoutError:
            slow = f"the request body did not arrive within {self.timeout_s:g} s"
            await send_problem(send, 408, "Request timeout", slow, "request-timeout", [(b"connection", b"close")])
            return
        if body is not None:
            await self.app(scope, replay, send)


class BodyTooLarge(Exception):
    """The body grew past the limit while it was read."""


async def read_body(receive: Receive, max_bytes: int | None = None) -> tuple[bytes | None, Receive]:
    """Read a request's whole body; return it and a `receive` that hands it to the application again. The body is
    None if the client went away; past `max_bytes`, BodyTooLarge."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, receive
        chunk = message.get("body", b"")
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class StreamSlots:
    """How many long-lived streams each token holds open; one past `per_token` is refused (429)."""

    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, scope: Scope) -> str | None:
        """The key of the slot taken, to give back when the stream ends; None if the token holds all of its own."""
        key = _client_key(scope)
        with self._lock:
            held = self._held.get(key, 0)
            if held >= self.per_token:
                return None
            self._held[key] = held + 1
        return key

    def give_back(self, key: str) -> None:
        with self._lock:
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)


class RateLimit:
    """A token bucket per bearer token (or per client address when there is none)."""

    def __init__(self, app: ASGIApp, rate_per_s: float, burst: int) -> None:
        self.app = app
        self.rate = rate_per_s
        self.burst = float(max(burst, 1))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, key: str) -> float:
        """0 if allowed, else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:  # forget idle clients rather than grow without bound
                    self._buckets.clear()
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        key = _client_key(scope)
        wait_s = self._take(key)
        if wait_s > 0:
            retry = str(max(1, int(wait_s + 0.999)))
            await send_problem(
                send,
                429,
                "Too many requests",
                f"rate limit of {self.rate:g} requests/s exceeded; retry after {retry} s",
                "rate-limited",
                [(b"retry-after", retry.encode())],
            )
            return
        await self.app(scope, receive, send)


def _client_key(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return "t:" + hashlib.sha256(value).hexdigest()
    client = scope.get("client") or ("?", 0)
    return f"a:{client[0]}"
