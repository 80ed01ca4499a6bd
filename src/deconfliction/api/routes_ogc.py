"""OGC API – Features (read-only): the caller's picture for QGIS and GDAL, under the same need-to-know rules.

Part 1 Core, GeoJSON and OpenAPI 3.0. Query parameters are read here rather than declared to FastAPI, so that
bad values and unknown parameters are 400 Problems as the standard asks (FastAPI's would be 422); the OpenAPI
document describes them as the standard does.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.routes_declarations import parse_bbox
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.timewindow import format_time
from deconfliction.services import ogc, views
from deconfliction.storage.base import Box

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
DEFAULT_LIMIT = 100
ITEMS_PARAMETERS = ("bbox", "datetime", "limit", "cursor", "f")


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


_F = _query("f", {"type": "string", "enum": ["json", "geojson"]}, "The encoding: JSON (GeoJSON for features)")
_ITEMS_DOC = [
    _query(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "minlon,minlat,maxlon,maxlat (CRS84); minlon > maxlon crosses ±180°",
        style="form",
        explode=False,
    ),
    _query("datetime", {"type": "string"}, "An RFC 3339 instant, or an interval start/end with `..` for open ends"),
    _query("limit", {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}, "Items per page (capped)"),
    _query("cursor", {"type": "integer", "minimum": 0}, "Where the next page starts: follow the `next` link"),
    _F,
]
_OBJECT = {"type": "object"}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {"type": {"const": "Feature"}},
}
_FEATURES = {
    "type": "object",
    "required": ["type", "features", "numberReturned", "timeStamp", "links"],
    "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": _FEATURE}},
}


def _doc(parameters: list[dict[str, Any]], media_type: str = JSON, schema: dict[str, Any] = _OBJECT) -> Any:
    return {
        "openapi_extra": {"parameters": parameters},
        "responses": {200: {"content": {media_type: {"schema": schema}}}},
        "response_class": GeoJSONResponse if media_type == GEOJSON else JSONResponse,
    }


def _check_parameters(request: Request, allowed: tuple[str, ...] = ("f",)) -> None:
    """Unknown or repeated parameters, and an encoding other than JSON: 400."""
    params = request.query_params
    for name in params:
        if name not in allowed:
            raise ogc.BadParameter(f"unknown query parameter {name!r}; known: {', '.join(allowed)}", field=name)
        if len(params.getlist(name)) > 1:
            raise ogc.BadParameter(f"query parameter {name!r} is given more than once", field=name)
    if params.get("f", "json") not in ("json", "geojson"):
        raise ogc.BadParameter(f"f={params['f']!r}: only json is served", field="f")


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/ogc"


def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


@router.get("", summary="OGC API – Features landing page", **_doc([_F]))
def landing(request: Request, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    base, root = _base(request), str(request.base_url).rstrip("/")
    links = [
        _link(base, "self", JSON, "This document"),
        _link(f"{root}/openapi.json", "service-desc", OPENAPI, "The API definition"),
        _link(f"{root}/docs", "service-doc", "text/html", "The API documentation"),
        _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
        _link(f"{base}/collections", "data", JSON, "Collections"),
    ]
    title = "Deconfliction channel" + ("" if who.party is None else f": {who.party}'s picture")
    description = "Declarations, conflicts, lines and tracks the caller may see (need to know applies)."
    return JSONResponse({"title": title, "description": description, "links": links})


@router.get("/conformance", summary="OGC API – Features conformance classes", **_doc([_F]))
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


@router.get("/collections", summary="The collections: declarations, conflicts, lines, tracks", **_doc([_F]))
def collections(request: Request, ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    party = who.require_party()
    found = [_collection(request, ctx, party, cid) for cid in ogc.COLLECTIONS]
    links = [_link(f"{_base(request)}/collections", "self", JSON, "The collections")]
    return JSONResponse({"links": links, "collections": found})


CollectionId = Annotated[str, Path(alias="collectionId", description="declarations, conflicts, lines or tracks")]
FeatureId = Annotated[str, Path(alias="featureId", description="The item's id")]


@router.get("/collections/{collectionId}", summary="One collection, with its extent", **_doc([_F]))
def collection(collection_id: CollectionId, request: Request, ctx: CtxDep, who: PrincipalDep) -> JSONResponse:
    _check_parameters(request)
    return JSONResponse(_collection(request, ctx, who.require_party(), collection_id))


def _bbox(value: str | None) -> list[Box]:
    """OGC's bbox: four numbers, or six with heights (ignored: altitude is not filtered here)."""
    if value is not None and value.count(",") == 5:
        parts = value.split(",")
        value = ",".join([parts[0], parts[1], parts[3], parts[4]])
    try:
        return parse_bbox(value)
    except InvalidInput as exc:
        raise ogc.BadParameter(exc.detail, field="bbox") from None


def _items_query(request: Request) -> ogc.ItemsQuery:
    _check_parameters(request, ITEMS_PARAMETERS)
    params = request.query_params
    start_s, end_s = ogc.parse_datetime(params.get("datetime"))
    limit = ogc.parse_limit(params.get("limit"), DEFAULT_LIMIT, request.app.state.settings.page_limit_max)
    return ogc.ItemsQuery(_bbox(params.get("bbox")), start_s, end_s, limit, ogc.parse_cursor(params.get("cursor")))


@router.get(
    "/collections/{collectionId}/items",
    summary="A page of the collection's items (bbox, datetime, limit; follow `next`)",
    **_doc(_ITEMS_DOC, GEOJSON, _FEATURES),
)
def items(collection_id: CollectionId, request: Request, ctx: CtxDep, who: PrincipalDep) -> GeoJSONResponse:
    party = who.require_party()
    query = _items_query(request)
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
    body = {
        "type": "FeatureCollection",
        "features": page.features,
        "numberReturned": len(page.features),
        "timeStamp": format_time(ctx.clock()),
        "links": links,
    }
    return GeoJSONResponse(body)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One item, if the caller may see it",
    **_doc([_F], GEOJSON, _FEATURE),
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
