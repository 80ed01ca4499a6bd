"""Live tracks: position reports in, convergence warnings out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.domain.tracks import ALT_RANGE_M, MAX_REPORTS, MAX_SPEED_MPS
from deconfliction.services import tracks as svc

router = APIRouter(prefix="/v1", tags=["tracks"])

# Optional members may be null, which means absent (as the parser reads them).
_REPORT_SCHEMA = {
    "type": "object",
    "required": ["t", "lon", "lat"],
    "additionalProperties": False,
    "properties": {
        "t": {"type": "string", "format": "date-time", "description": "RFC 3339 time of the fix"},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "alt_m": {"type": ["number", "null"], "minimum": ALT_RANGE_M[0], "maximum": ALT_RANGE_M[1]},
        "speed_mps": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_SPEED_MPS},
        "course_deg": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 360,
            "description": "clockwise from true north",
        },
        "separation_m": {"type": ["number", "null"], "minimum": 0},
        "stale": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "the fix is no longer valid after this",
        },
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": _REPORT_SCHEMA, "minItems": 1, "maxItems": MAX_REPORTS}
            }
        },
    }
}
ReportsBody = Annotated[Any, Body(description="A JSON array of position reports (see schema)")]


@router.post(
    "/tracks/{track_id}/positions",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_BODY,
    summary="Report positions of one of your tracks; convergence warnings come back at once",
)
async def post_positions(track_id: str, body: ReportsBody, ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    # Async: validation here, the write on the writer thread; the 202 means the reports are on disk.
    job = svc.ingest_job(ctx, who.require_writer(), track_id, body, "http")
    result = await ctx.write_async(job)
    return JSONResponse(result.to_json(), status_code=status.HTTP_202_ACCEPTED)


@router.get("/tracks", summary="Your own tracks (others' are never listed: their warnings are what you learn)")
def list_(
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
    status_: Annotated[str, Query(alias="status", pattern="^(live|active|lost|removed|all)$")] = "live",
    limit: Annotated[int, Query(ge=1)] = 500,
) -> list[dict[str, Any]]:
    limit = min(limit, request.app.state.settings.page_limit_max)
    return svc.list_tracks(ctx, who.require_party(), status_, limit)


@router.get("/tracks/{track_id}", summary="One of your tracks, with its newest reports on request")
def get(
    track_id: str,
    ctx: CtxDep,
    who: PrincipalDep,
    history: Annotated[int, Query(ge=0, le=1_000, description="how many of its newest reports to include")] = 0,
) -> dict[str, Any]:
    return svc.get_track(ctx, who.require_party(), track_id, history)
