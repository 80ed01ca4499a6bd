"""Problem Details (RFC 9457): the one place errors become HTTP responses."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from deconfliction.domain.errors import AirspaceConflict, DomainError, InvalidInput, RateLimited

log = logging.getLogger("deconfliction.api")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:deconfliction:problem:"


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


DSS_PREFIX = "/dss/"
DSS_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "What went wrong, and why"},
        "missing_operational_intents": {"type": "array", "items": {"type": "object"}, "description": "409 only"},
        "missing_constraints": {"type": "array", "items": {"type": "object"}, "description": "409 only"},
    },
}


def dss_error(exc: DomainError) -> JSONResponse:
    """F3548-21's error bodies under /dss: `ErrorResponse` {"message"} — or `AirspaceConflictResponse` for a key
    conflict — and 400 (not 422) for a request the standard calls invalid."""
    status = 400 if exc.status == 422 else exc.status
    body: dict[str, Any] = {"message": exc.detail}
    if isinstance(exc, AirspaceConflict):
        body["missing_operational_intents"] = exc.missing_operational_intents
        body["missing_constraints"] = exc.missing_constraints
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def domain_problem(path: str, exc: DomainError) -> JSONResponse:
    """A domain error as the answer to a request for `path`: Problem Details, or F3548's ErrorResponse under /dss."""
    if path.startswith(DSS_PREFIX):
        return dss_error(exc)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
        headers = {"Retry-After": str(exc.retry_after_s)}
    extra = {} if exc.errors is None else {"errors": exc.errors}
    return problem(exc.status, exc.title, exc.detail, exc.slug, field=exc.field, headers=headers, **extra)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    408: "request-timeout",
    412: "precondition-failed",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "rate-limited",
}


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "Problem Details (RFC 9457)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URN of the kind of problem, e.g. " + TYPE_BASE + "invalid-input"},
        "title": {"type": "string"},
        "status": {"type": "integer", "description": "The HTTP status code"},
        "detail": {"type": "string", "description": "What is wrong, naming the offending field or coordinate"},
        "field": {
            "type": "string",
            "description": "The offending field, parameter or header, e.g. properties.start or If-Match",
        },
        "errors": {
            "type": "array",
            "description": "Every validation error found, when there were several",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _document_problems(schema: dict[str, Any]) -> None:
    """Every error answer is a Problem: say so in the OpenAPI document instead of FastAPI's `HTTPValidationError`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components["Problem"] = PROBLEM_SCHEMA
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    components["F3548ErrorResponse"] = DSS_ERROR_SCHEMA
    dss_content = {"application/json": {"schema": {"$ref": "#/components/schemas/F3548ErrorResponse"}}}
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if path.startswith(DSS_PREFIX):
                responses.pop("422", None)
                responses["4XX"] = {
                    "description": "F3548-21 ErrorResponse: 400 invalid, 401 no or bad access token, 403 scope or "
                    "manager, 404 unknown, 409 version, OVN or key (AirspaceConflictResponse), 413 area too "
                    "large, 429 rate limited",
                    "content": dss_content,
                }
                continue
            if "422" in responses:
                responses["422"] = {"description": "Invalid input; `field` names the offending one", "content": content}
            responses["4XX"] = {
                "description": "Problem Details: 400 malformed, 401 no or unknown token, 403 outside the caller's "
                "rights, 404 unknown or not visible, 409/412/428 state and preconditions, 413 body too large, "
                "429 rate limited (with Retry-After)",
                "content": content,
            }


def _allowed_methods(request: Request, fallback: str | None) -> str | None:
    """Every method the OpenAPI document lists for this path: the router's 405 names only the first route tried."""
    methods: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        if _template(template).fullmatch(request.url.path):
            methods |= {method.upper() for method in item}
    if "GET" in methods:
        methods.add("HEAD")  # served for every GET
    return ", ".join(sorted(methods)) if methods else fallback


@functools.cache
def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_problems(generate())  # generate() caches the document it returns as app.openapi_schema
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.url.path.startswith(DSS_PREFIX):
            where = _loc_to_field(exc.errors()[0].get("loc", ())) if exc.errors() else ""
            return dss_error(
                InvalidInput(f"{where}: {exc.errors()[0].get('msg', 'invalid')}" if where else "invalid request")
            )
        errors = [{"field": _loc_to_field(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(400, "Malformed JSON", "the request body is not valid JSON", "malformed-json")
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(422, "Invalid input", detail, "invalid-input", field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _SLUGS.get(exc.status_code, "http-error")
        title = slug.replace("-", " ").capitalize()
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allow = _allowed_methods(request, (headers or {}).get("Allow"))
            headers = {**(headers or {}), **({"Allow": allow} if allow else {})}
        if request.url.path.startswith(DSS_PREFIX):
            return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=headers)
        return problem(exc.status_code, title, str(exc.detail), slug, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "the server failed; nothing was written. Retry, and report it if it persists",
            "internal",
        )
