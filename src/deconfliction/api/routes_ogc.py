"""OGC API – Features (read-only): the caller's picture for QGIS and GDAL, under the same need-to-know rules.

Part 1 Core, GeoJSON and OpenAPI 3.0: the definition is a 3.0 document of its own at /ogc/api (api/ogc_openapi.py),
linked from the landing page. Query parameters are read here rather than declared to FastAPI, so that bad values
and unknown parameters are 400 Problems as the standard asks (FastAPI's would be 422); both OpenAPI documents
describe them as the standard does. Every GET answers HEAD too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response

from deconfliction.api import ogc_openapi
from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.ogc_openapi import GEOJSON, HTML, JSON, OPENAPI_30
from deconfliction.api.routes_declarations import parse_bbox
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.timewindow import format_time
from deconfliction.services import ogc, views
from deconfliction.storage.base import Box

router = APIRouter(prefix="/ogc", tags=["ogc"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
ITEMS_PARAMETERS = ("bbox", "datetime", "limit", "cursor", "f")


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


class OpenAPI30Response(JSONResponse):
    media_type = OPENAPI_30


_OBJECT = {"type": "object"}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {"type": {"const": "Feature"}},
}
_FEATURES = {
    "type": "object",
    "required": ["type", "features", "numberReturned", "timeStamp", "links"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": _FEATURE},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    },
}


def _get(
    path: str,
    summary: str,
    parameters: list[dict[str, Any]],
    content: dict[str, Any] | None = None,
    response_class: type[Response] = JSONResponse,
    in_schema: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a GET and, out of the OpenAPI document, the same endpoint for HEAD: the same checks, status and
    headers (Content-Length included), no body (Starlette sends none for HEAD)."""
    responses = {200: {"content": content or {JSON: {"schema": _OBJECT}}}}

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        options: dict[str, Any] = {"summary": summary, "response_class": response_class, "responses": responses}
        extra = {"parameters": parameters}
        router.add_api_route(
            path, endpoint, methods=["GET"], include_in_schema=in_schema, openapi_extra=extra, **options
        )
        router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False, **options)
        return endpoint

    return register


def _check_parameters(request: Request, allowed: tuple[str, ...] = ("f",), encodings: tuple[str, ...] = ()) -> None:
    """Unknown or repeated parameters, and an encoding not served: 400."""
    params = request.query_params
    for name in params:
        if name not in allowed:
            raise ogc.BadParameter(f"unknown query parameter {name!r}; known: {', '.join(allowed)}", field=name)
        if len(params.getlist(name)) > 1:
            raise ogc.BadParameter(f"query parameter {name!r} is given more than once", field=name)
    served = encodings or ("json", "geojson")
    if params.get("f", "json") not in served:
        raise ogc.BadParameter(f"f={params['f']!r}: the encodings served are {', '.join(served)}", field="f")


def _base(request: Request) -> str:
    """The landing page's absolute URL: the OGC API's root, which its definition's `servers` names."""
    return f"{str(request.base_url).rstrip('/')}/ogc"


def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


_F = [ogc_openapi.F]


@_get("", "OGC API – Features landing page", _F)
@_get("/", "OGC API – Features landing page", _F, in_schema=False)  # the path `/` under the definition's server
def landing(request: Request, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    base = _base(request)
    links = [
        _link(base, "self", JSON, "This document"),
        _link(f"{base}/api", "service-desc", OPENAPI_30, "The API definition (OpenAPI 3.0)"),
        _link(f"{base}/api?f=html", "service-doc", HTML, "The API documentation"),
        _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
        _link(f"{base}/collections", "data", JSON, "Collections"),
    ]
    title = "Deconfliction channel" + ("" if who.party is None else f": {who.party}'s picture")
    description = "Declarations, conflicts, lines and tracks the caller may see (need to know applies)."
    return JSONResponse({"title": title, "description": description, "links": links})


_API_CONTENT = {OPENAPI_30: {"schema": _OBJECT}, HTML: {"schema": {"type": "string"}}}


@_get("/api", "The OGC API's definition: OpenAPI 3.0 (f=html: its documentation)", [ogc_openapi.F_API], _API_CONTENT)
def api_definition(request: Request) -> Response:
    # No token needed: the definition is the same for every caller, like /openapi.json.
    _check_parameters(request, encodings=("json", "html"))
    base = _base(request)
    if request.query_params.get("f") == "html":
        return get_swagger_ui_html(openapi_url=f"{base}/api", title="OGC API – Features")
    definition = ogc_openapi.definition(base, request.app.state.settings.page_limit_max, ogc.QUERYABLES)
    return OpenAPI30Response(definition)


@_get("/conformance", "OGC API – Features conformance classes", _F)
def conformance(request: Request, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    return JSONResponse({"conformsTo": CONFORMANCE})


def _collection(request: Request, ctx: Any, party: str, collection_id: str) -> dict[str, Any]:
    title, description = ogc.collection_of(collection_id)
    href = f"{_base(request)}/collections/{collection_id}"
    cap = request.app.state.settings.page_limit_max
    return {
        "id": collection_id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [ogc.CRS84],
        "extent": ogc.extent(ctx, party, collection_id, cap),
        "links": [
            _link(href, "self", JSON, title),
            _link(f"{href}/items", "items", GEOJSON, f"{title} as GeoJSON"),
        ],
    }


@_get("/collections", "The collections: declarations, conflicts, lines, tracks", _F)
def collections(request: Request, ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    party = who.require_party()
    found = [_collection(request, ctx, party, cid) for cid in ogc.COLLECTIONS]
    links = [_link(f"{_base(request)}/collections", "self", JSON, "The collections")]
    return JSONResponse({"links": links, "collections": found})


CollectionId = Annotated[str, Path(alias="collectionId", description="declarations, conflicts, lines or tracks")]
FeatureId = Annotated[str, Path(alias="featureId", description="The item's id")]


@_get("/collections/{collectionId}", "One collection, with its extent", _F)
def collection(collection_id: CollectionId, request: Request, ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    return JSONResponse(_collection(request, ctx, who.require_party(), collection_id))


def _bbox(value: str | None) -> tuple[list[Box], tuple[float, float] | None]:
    """OGC's bbox: four numbers, or six with heights (metres: the bottom and the top); the boxes and the heights."""
    if value is None:
        return [], None
    parts = value.split(",")
    if len(parts) not in (4, 6):
        raise ogc.BadParameter(
            "bbox must be four numbers (minlon,minlat,maxlon,maxlat) or six "
            "(minlon,minlat,minheight,maxlon,maxlat,maxheight)",
            field="bbox",
        )
    heights_m = None
    if len(parts) == 6:
        heights_m = _heights(parts[2], parts[5])
        parts = [parts[0], parts[1], parts[3], parts[4]]
    try:
        return parse_bbox(",".join(parts)), heights_m
    except InvalidInput as exc:
        raise ogc.BadParameter(exc.detail, field="bbox") from None


def _heights(low: str, high: str) -> tuple[float, float]:
    try:
        low_m, high_m = float(low), float(high)
    except ValueError:
        low_m = high_m = math.nan
    if not (math.isfinite(low_m) and math.isfinite(high_m) and low_m <= high_m):
        raise ogc.BadParameter("bbox: the heights must be numbers, the bottom at most the top", field="bbox")
    return low_m, high_m


def _items_query(request: Request, collection_id: str) -> ogc.ItemsQuery:
    ogc.collection_of(collection_id)  # 404 before any parameter is judged
    queryables = ogc.QUERYABLES[collection_id]
    _check_parameters(request, ITEMS_PARAMETERS + queryables)
    params = request.query_params
    start_s, end_s = ogc.parse_datetime(params.get("datetime"))
    limit = ogc.parse_limit(params.get("limit"), ogc_openapi.DEFAULT_LIMIT, request.app.state.settings.page_limit_max)
    boxes, heights_m = _bbox(params.get("bbox"))
    cursor = ogc.parse_cursor(params.get("cursor"))
    properties = {name: params[name] for name in queryables if name in params}
    return ogc.ItemsQuery(boxes, start_s, end_s, limit, cursor, heights_m, properties)


@_get(
    "/collections/{collectionId}/items",
    "A page of the collection's items (bbox, datetime, limit; follow `next`)",
    ogc_openapi.items_parameters(None, ogc.QUERYABLES),
    {GEOJSON: {"schema": _FEATURES}},
    GeoJSONResponse,
)
def items(collection_id: CollectionId, request: Request, ctx: CtxDep, who: PrincipalDep) -> GeoJSONResponse:
    party = who.require_party()
    query = _items_query(request, collection_id)
    page = ogc.items(ctx, party, collection_id, query)
    if collection_id == "declarations":
        views.record(ctx, party, views.others(party, page.features), "ogc")
    href = f"{_base(request)}/collections/{collection_id}"
    links = [
        _link(str(request.url), "self", GEOJSON, "This page"),
        _link(href, "collection", JSON, "The collection"),
    ]
    if page.next_cursor is not None:
        kept = {k: v for k, v in request.query_params.items() if k != "cursor"}
        following = urlencode({**kept, "limit": str(query.limit), "cursor": str(page.next_cursor)})
        links.append(_link(f"{href}/items?{following}", "next", GEOJSON, "The next page"))
    body: dict[str, Any] = {"type": "FeatureCollection", "features": page.features}
    if page.number_matched is not None:
        body["numberMatched"] = page.number_matched
    body |= {"numberReturned": len(page.features), "timeStamp": format_time(ctx.clock()), "links": links}
    return GeoJSONResponse(body)


@_get(
    "/collections/{collectionId}/items/{featureId}",
    "One item, if the caller may see it",
    _F,
    {GEOJSON: {"schema": _FEATURE}},
    GeoJSONResponse,
)
def item(
    collection_id: CollectionId, feature_id: FeatureId, request: Request, ctx: CtxDep, who: PrincipalDep
) -> GeoJSONResponse:
    _check_parameters(request)
    party = who.require_party()
    found = ogc.item(ctx, party, collection_id, feature_id)
    if collection_id == "declarations":
        views.record(ctx, party, views.others(party, [found]), "ogc")
    href = f"{_base(request)}/collections/{collection_id}"
    found["links"] = [
        _link(str(request.url), "self", GEOJSON, "This item"),
        _link(href, "collection", JSON, "The collection"),
    ]
    return GeoJSONResponse(found)
