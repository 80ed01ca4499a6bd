"""Declarations: where and when a party operates."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import FEATURE_SCHEMA, DeclarationWritten
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.numbers import parse_whole
from deconfliction.domain.timewindow import parse_time
from deconfliction.services import declarations as svc
from deconfliction.services import views
from deconfliction.storage.base import Box, DeclarationQuery

router = APIRouter(prefix="/v1", tags=["declarations"])

_FEATURE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": FEATURE_SCHEMA}}}}
FeatureBody = Annotated[Any, Body(description="A GeoJSON Feature (see schema)")]


def parse_bbox(value: str | None) -> list[Box]:
    """`minlon,minlat,maxlon,maxlat`; minlon > maxlon means the box crosses ±180° (as in OGC API)."""
    if value is None:
        return []
    parts = value.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat", field="bbox")
    minlon, minlat, maxlon, maxlat = numbers
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90):
        raise InvalidInput(
            "bbox must lie within -180..180 longitude and -90..90 latitude, minlat <= maxlat", field="bbox"
        )
    if minlon <= maxlon:
        return [(minlon, minlat, maxlon, maxlat)]
    return [(minlon, minlat, 180.0, maxlat), (-180.0, minlat, maxlon, maxlat)]


def _written(written: svc.Written, status_code: int) -> JSONResponse:
    # Returned as a Response: the shape is documented by response_model but not re-validated on the hot path.
    d = written.declaration
    body = {"id": d.id, "version": d.version, "declaration": d.to_feature(), "conflicts": written.views}
    headers = {"ETag": f'"{d.version}"', "Location": f"/v1/declarations/{d.id}"}
    return JSONResponse(body, status_code=status_code, headers=headers)


@router.post(
    "/declarations",
    status_code=status.HTTP_201_CREATED,
    response_model=DeclarationWritten,
    openapi_extra=_FEATURE_BODY,
    summary="Declare where and when you operate; conflicts come back at once",
)
async def create(body: FeatureBody, ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    # Async on purpose: validation runs here, the write on the writer thread; no thread is held while it commits.
    job = svc.declare_job(ctx, who.require_writer(), body)
    return _written(await ctx.write_async(job), status.HTTP_201_CREATED)


@router.get("/declarations", summary="What the caller may see: its own and others' shared with it")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    start: Annotated[str | None, Query(description="RFC 3339; declarations active after this")] = None,
    end: Annotated[str | None, Query(description="RFC 3339; declarations active before this")] = None,
    status_: Annotated[str, Query(alias="status", pattern="^(active|cancelled|all)$")] = "active",
    party: Annotated[str | None, Query(description="only this party's declarations")] = None,
    limit: Annotated[int, Query(ge=1)] = 500,
    after: Annotated[str | None, Query(description="cursor from the previous page's `next`")] = None,
) -> dict[str, Any]:
    viewer = who.require_party()
    start_s = None if start is None else parse_time(start, "start").timestamp()
    end_s = None if end is None else parse_time(end, "end").timestamp()
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise InvalidInput("end must be after start", field="end")
    after_key = 0 if after is None else parse_whole(after, "after", "the cursor returned as `next`")
    limit = min(limit, request.app.state.settings.page_limit_max)
    query = DeclarationQuery(
        viewer=viewer,
        boxes=parse_bbox(bbox),
        start_s=start_s,
        end_s=end_s,
        status=None if status_ == "all" else status_,
        party=party,
        after_key=after_key,
        limit=limit,
    )
    found = svc.list_visible(ctx, query)
    features = [feature for _, feature in found]
    views.record(ctx, viewer, views.others(viewer, features), "list")
    cursor = str(found[-1][0]) if len(found) == limit else None
    return {"type": "FeatureCollection", "features": features, "next": cursor, "count": len(features)}


@router.get("/declarations/{declaration_id}", summary="One declaration, if the caller may see it")
def get(declaration_id: str, ctx: CtxDep, who: PrincipalDep, response: Response) -> dict[str, Any]:
    viewer = who.require_party()
    found = svc.get_visible(ctx, viewer, declaration_id)
    if found.party != viewer:
        views.record(ctx, viewer, [found.id], "read")
    response.headers["ETag"] = f'"{found.version}"'
    return found.to_feature()


@router.put(
    "/declarations/{declaration_id}",
    response_model=DeclarationWritten,
    openapi_extra=_FEATURE_BODY,
    summary='Revise your declaration; needs If-Match: "<version>"',
)
async def put(
    declaration_id: str,
    body: FeatureBody,
    ctx: CtxDep,
    who: PrincipalDep,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    job = svc.revise_job(ctx, who.require_writer(), declaration_id, if_match, body)
    return _written(await ctx.write_async(job), status.HTTP_200_OK)


@router.delete(
    "/declarations/{declaration_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Cancel your declaration (kept in the record); its conflicts resolve",
)
def delete(declaration_id: str, ctx: CtxDep, who: PrincipalDep) -> Response:
    svc.cancel(ctx, who.require_writer(), declaration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
