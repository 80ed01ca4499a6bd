"""Every JSON request body read once, strictly, at the edge: before any route sees it (domain/strict_json.py).

A route's own parser (FastAPI's) reads the body again afterwards: what reaches it is known to be UTF-8 JSON with
distinct keys and text-only strings, so that no route, and no step after it (the record's canonical JSON, an
export), meets a repeated key, a lone surrogate or a control character.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from deconfliction.api.limits import read_body
from deconfliction.api.problems import domain_problem
from deconfliction.domain.errors import DomainError
from deconfliction.domain.strict_json import loads

_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: bytes | None) -> bool:
    """What FastAPI parses as JSON: no Content-Type, application/json, or any application/…+json."""
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class StrictJson:
    """Refuse a JSON body that is not UTF-8 or not JSON (400), or repeats a key or holds a refused character (422
    naming the field); `files` are paths whose body is a file in its own format (an import), read by its reader."""

    def __init__(self, app: ASGIApp, files: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY or scope["path"].rstrip("/") in self.files:
            await self.app(scope, receive, send)
            return
        content_type = next((v for k, v in scope.get("headers", []) if k == b"content-type"), None)
        if not is_json(content_type):
            await self.app(scope, receive, send)
            return
        body, replay = await read_body(receive)
        if body is None:
            return  # the client went away
        if body:
            try:
                loads(body)
            except DomainError as exc:
                await domain_problem(scope["path"], exc)(scope, replay, send)
                return
        await self.app(scope, replay, send)
