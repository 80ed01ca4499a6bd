"""`Idempotency-Key` on POST and PATCH: a retried request gets the first attempt's answer, never a second write.

The key is the client's (any 1–255 visible ASCII characters, e.g. a UUID), scoped to the credential that sends it,
and remembered for `idempotency_keep_s`. A retry with the same key and the same request (method, path, query,
body) gets the stored answer again, marked `Idempotent-Replayed: true`. The same key with another request: 422.
A retry while the first is still running, or after a first attempt whose write committed but whose answer was
lost (the server died in between): 409, and nothing is written twice. Requests that wrote nothing (refused with a
4xx before any change) leave no key behind: a corrected retry may reuse it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconfliction.api.limits import read_body, send_problem
from deconfliction.services import idempotency
from deconfliction.storage.base import Store
from deconfliction.storage.sync import IdempotencyRecord

HEADER = b"idempotency-key"
_KEPT_HEADERS = (b"content-type", b"location", b"etag")
_METHODS = ("POST", "PATCH")


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What identifies a request under its key: the same key with another fingerprint is another request."""
    parts = [method.encode(), path.encode(), query, hashlib.sha256(body).digest()]
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


def _valid(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(" " <= ch <= "~" for ch in key)


class Idempotency:
    def __init__(self, app: ASGIApp, store: Callable[[], Store]) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        raw_key = headers.get(HEADER)
        credential = headers.get(b"authorization")
        if raw_key is None or credential is None:  # no key; or no credential, which the route refuses with 401
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not _valid(key):
            detail = "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)"
            await _problem(send, 422, "Invalid input", detail, "invalid-input")
            return
        body, replay = await read_body(receive)  # BodyLimit, outside, has bounded it
        if body is None:
            return  # the client went away
        owner = hashlib.sha256(credential).hexdigest()
        digest = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        found: IdempotencyRecord | None = await run_in_threadpool(self._find, owner, key)
        if found is not None:
            await self._answer_again(send, found, digest)
            return
        claim = idempotency.Claim(owner, key, digest)
        token = idempotency.CURRENT.set(claim)
        status = 0
        kept: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept.extend((k, v) for k, v in message.get("headers", []) if k.lower() in _KEPT_HEADERS)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and claim.claimed and status < 500:
                    # Keep the answer before its last byte leaves: a retry sent the moment the client has it
                    # must find it.
                    answer = json.dumps({k.decode("latin-1"): v.decode("latin-1") for k, v in kept})
                    await run_in_threadpool(self._complete, owner, key, status, b"".join(chunks), answer)
            await send(message)

        try:
            await self.app(scope, replay, capture)
        finally:
            idempotency.CURRENT.reset(token)

    def _find(self, owner: str, key: str) -> IdempotencyRecord | None:
        with self.store().read() as tx:
            return tx.get_idempotency(owner, key)

    def _complete(self, owner: str, key: str, status: int, body: bytes, headers: str) -> None:
        with self.store().write() as tx:
            tx.complete_idempotency(owner, key, status, body, headers)

    async def _answer_again(self, send: Send, found: IdempotencyRecord, fingerprint: str) -> None:
        if found.fingerprint != fingerprint:
            detail = "this Idempotency-Key was used for a different request; use a new key for a new request"
            await _problem(send, 422, "Invalid input", detail, "invalid-input")
            return
        if found.status is None or found.body is None:
            detail = (
                "a request with this Idempotency-Key is still being processed, or its write committed but its answer "
                "was lost; nothing was written twice. Look the result up (e.g. GET the collection) before a new request"
            )
            await _problem(send, 409, "Conflict with current state", detail, "state-conflict")
            return
        stored = json.loads(found.headers or "{}")
        out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.items()]
        out_headers += [(b"content-length", str(len(found.body)).encode()), (b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": found.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": found.body})


async def _problem(send: Send, status: int, title: str, detail: str, slug: str) -> None:
    await send_problem(send, status, title, detail, slug, field="Idempotency-Key")
