"""Request dependencies: the wired Context and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deconfliction.services.auth import Principal, authenticate
from deconfliction.services.context import Context

_bearer = HTTPBearer(auto_error=False, description="A party token, or the admin token")


# Both dependencies are async on purpose: a sync dependency costs a hop to the thread pool on every request.
async def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return authenticate(request.app.state.ctx, request.headers.get("authorization"))


CtxDep = Annotated[Context, Depends(get_ctx)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
