"""The ASTM F3548-21 DSS caller: an RS256 access token from the auth server, holding the scope an endpoint needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from uas_standards.astm.f3548.v21.constants import Scope  # type: ignore[import-untyped]  # InterUSS ships no py.typed

from deconfliction.adapters.f3548_tokens import Claims, TokenVerifier, require_scope
from deconfliction.domain.errors import Unauthorized

NOT_CONFIGURED = "the DSS API is not configured on this channel: set DECONF_F3548_PUBLIC_KEYS and DECONF_F3548_AUDIENCE"
_SCOPES = frozenset(s.value for s in Scope)
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="F3548Authority",
    description="An ASTM F3548-21 access token: an RS256 JWT from the UTM auth server (see docs/f3548.md)",
)


def uss(*scopes: str) -> Callable[..., Awaitable[Claims]]:
    """A dependency that verifies the caller's access token and requires any one of `scopes`; it yields the Claims."""
    unknown = set(scopes) - _SCOPES
    if unknown:
        raise ValueError(f"not F3548-21 scopes: {', '.join(sorted(unknown))}")
    required = frozenset(scopes)

    # async on purpose, like api.deps: a sync dependency costs a hop to the thread pool on every request
    async def f3548_caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Claims:
        verifier: TokenVerifier | None = getattr(request.app.state, "f3548_verifier", None)
        if verifier is None:
            raise Unauthorized(NOT_CONFIGURED)
        claims = verifier.verify(_bearer_token(request.headers.get("authorization")))
        require_scope(claims, required)
        return claims

    return f3548_caller


def _bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("missing access token: send Authorization: Bearer <token from the auth server>")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <access token>'")
    return token
