"""The record: entries served byte for byte as stored (canonical JSON), its head, and the server's key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.domain.numbers import INT64_MAX, INT64_MIN
from deconfliction.services import ledger as svc

router = APIRouter(prefix="/v1", tags=["ledger"])


@router.get("/ledger/key", summary="The server's Ed25519 public key that signs every entry")
def key(ctx: CtxDep, who: PrincipalDep) -> dict[str, str]:
    return {"public_key": ctx.chain.public_key, "algorithm": "Ed25519"}


@router.get("/ledger/head", summary="The newest entry's seq and hash")
def head(ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    return svc.head(ctx)


@router.get("/ledger", summary="Entries with seq > after, in order (see docs/ledger.md for the format)")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    after: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    limit: Annotated[int, Query(ge=1)] = 500,
) -> Response:
    limit = min(limit, request.app.state.settings.page_limit_max)
    body = "[" + ",".join(svc.entries_text_after(ctx, after, limit)) + "]"
    return Response(body, media_type="application/json")


@router.get("/ledger/{seq}", summary="One entry")
def get(seq: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)], ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    return svc.entry(ctx, seq)
