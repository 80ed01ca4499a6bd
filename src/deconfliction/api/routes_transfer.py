"""Import and export of declarations in the formats people already use: GeoJSON, KML, GPX, CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from deconfliction.adapters import formats
from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.routes_declarations import parse_bbox
from deconfliction.api.schemas import ConflictOut
from deconfliction.domain.errors import InvalidInput
from deconfliction.services import transfer

router = APIRouter(prefix="/v1", tags=["import and export"])

_FILE = {"type": "string", "format": "binary"}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file itself as the body, or multipart/form-data with the file in the field `file`",
        "content": {
            **{media: {"schema": _FILE} for media in formats.MEDIA_TYPES.values()},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": _FILE}}},
        },
    }
}


class ImportRowError(BaseModel):
    field: str = Field(description="rows[i] (0-based, in file order) and the field: rows[3].properties.start")
    message: str
    row: str = Field(description="Where in the file: `line 5` (CSV), a placemark's path (KML), `wpt[2]` (GPX)")


class ImportedDeclaration(BaseModel):
    row: str
    id: str
    name: str
    kind: str
    conflicts: list[ConflictOut]


class ImportDone(BaseModel):
    imported: int
    format: str
    declarations: list[ImportedDeclaration]
    errors: list[ImportRowError]
    warnings: list[str]


class ImportPreview(BaseModel):
    valid: int
    format: str
    rows: list[dict[str, Any]] = Field(description='Each valid row: {"row", "name", "kind", "feature"}')
    errors: list[ImportRowError]
    warnings: list[str]


async def _upload(request: Request, declared: str) -> transfer.Upload:
    """The file from the raw body, or from the multipart field `file` (a browser's drag and drop)."""
    content_type = request.headers.get("content-type")
    if (content_type or "").lower().startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=20)
        except Exception as exc:  # python-multipart's errors: the body, not the server, is at fault
            raise InvalidInput(f"the multipart body cannot be read: {exc}", field="file") from None
        try:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise InvalidInput("send the file in the multipart field `file`", field="file")
            data = await part.read()
            return transfer.Upload(data, declared, part.filename, part.content_type)
        finally:
            await form.close()
    return transfer.Upload(await request.body(), declared, None, content_type)


def _defaults(
    kind: str | None,
    start: str | None,
    end: str | None,
    radius_m: float | None,
    separation_m: float | None,
    audience: str | None,
    lower_m: float | None,
    upper_m: float | None,
) -> formats.Defaults:
    parsed: str | list[str] | None = None
    if audience is not None and audience.strip():
        try:
            parsed = formats.audience_of(audience)
        except ValueError:
            raise InvalidInput(
                'audience must be "all", "conflicts" or party ids separated by ";"', field="audience"
            ) from None
    return formats.Defaults(kind or None, start or None, end or None, radius_m, separation_m, parsed, lower_m, upper_m)


def _preview(checked: transfer.Checked) -> dict[str, Any]:
    rows = []
    bad = checked.bad_rows()
    for index, _ in checked.jobs:
        if index in bad:
            continue
        row = checked.rows[index]
        props = (row.feature or {}).get("properties", {})
        rows.append(
            {"row": row.label, "name": props.get("name", ""), "kind": props.get("kind"), "feature": row.feature}
        )
    return {
        "valid": len(rows),
        "format": checked.format,
        "rows": rows,
        "errors": checked.errors,
        "warnings": checked.warnings,
    }


Num = Annotated[float | None, Query(allow_inf_nan=False)]


@router.post(
    "/imports",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportDone,
    responses={200: {"model": ImportPreview, "description": "dry_run: what would be imported, and every error"}},
    openapi_extra=_IMPORT_BODY,
    summary="Import declarations from a GeoJSON, KML/KMZ, GPX or CSV file: all rows or none",
)
async def import_(
    request: Request,
    ctx: CtxDep,
    who: PrincipalDep,
    format_: Annotated[str, Query(alias="format", pattern="^(auto|geojson|kml|gpx|csv)$")] = "auto",
    dry_run: Annotated[bool, Query(description="validate and report; write nothing")] = False,
    kind: Annotated[str | None, Query(description="for rows without one: site, area or route")] = None,
    start: Annotated[str | None, Query(description="RFC 3339, for rows without one")] = None,
    end: Annotated[str | None, Query(description="RFC 3339, for rows without one")] = None,
    radius_m: Num = None,
    separation_m: Num = None,
    audience: Annotated[str | None, Query(description="all, conflicts, or party ids separated by ;")] = None,
    lower_m: Num = None,
    upper_m: Num = None,
) -> JSONResponse:
    party = who.require_writer()
    defaults = _defaults(kind, start, end, radius_m, separation_m, audience, lower_m, upper_m)
    upload = await _upload(request, format_)
    rows_max = request.app.state.settings.import_rows_max
    # Parsing a large file is CPU work: off the event loop, and off the writer, which only writes.
    checked = await run_in_threadpool(transfer.check, ctx, party, upload, defaults, rows_max)
    if dry_run:
        return JSONResponse(_preview(checked), status_code=status.HTTP_200_OK)
    imported = await ctx.write_async(transfer.import_job(checked))
    declarations = [
        {
            "row": item.row,
            "id": item.written.declaration.id,
            "name": item.written.declaration.spec.name,
            "kind": item.written.declaration.spec.kind.value,
            "conflicts": item.written.views,
        }
        for item in imported
    ]
    body = {
        "imported": len(declarations),
        "format": checked.format,
        "declarations": declarations,
        "errors": [],
        "warnings": checked.warnings,
    }
    return JSONResponse(body, status_code=status.HTTP_201_CREATED)


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "The file, as an attachment",
            "content": {
                media: {"schema": {"type": "object"} if fmt == "geojson" else {"type": "string"}}
                for fmt, media in formats.MEDIA_TYPES.items()
            },
        }
    },
    summary="Export what the caller may see (its own and others' shared with it) as GeoJSON, KML, GPX or CSV",
)
def export(
    ctx: CtxDep,
    who: PrincipalDep,
    format_: Annotated[str, Query(alias="format", pattern="^(geojson|kml|gpx|csv)$")] = "geojson",
    status_: Annotated[str, Query(alias="status", pattern="^(active|all)$")] = "active",
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
) -> Response:
    viewer = who.require_party()
    boxes = parse_bbox(bbox)
    exported = transfer.export(ctx, viewer, format_, None if status_ == "all" else status_, boxes)
    media = exported.media_type + ("; charset=utf-8" if exported.media_type == "text/csv" else "")
    headers = {
        "Content-Disposition": f'attachment; filename="{exported.filename}"',
        "X-Deconf-Count": str(exported.count),
    }
    return Response(exported.content, media_type=media, headers=headers)
