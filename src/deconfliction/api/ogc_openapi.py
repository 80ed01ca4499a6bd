"""The OGC API – Features definition: an OpenAPI **3.0** document of its own, served at /ogc/api.

The channel's main document (/openapi.json) is OpenAPI 3.1 and lists its paths under /ogc/…; an OGC API client
(GDAL, QGIS, OGC's CITE suite) reads the definition linked from the landing page as `service-desc` and resolves
its paths against `servers` — so this one is 3.0, its paths are relative to the landing page, and its only server
is the landing page's absolute URL. Parameters are those of OGC API – Features Part 1 (the `limit`, `bbox` and
`datetime` requirements `/req/core/fc-*-definition`), shared with the main document so the two never drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deconfliction import __version__
from deconfliction.api.problems import PROBLEM_JSON, PROBLEM_SCHEMA

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
HTML = "text/html"
DEFAULT_LIMIT = 100
COLLECTION_IDS = ("declarations", "conflicts", "lines", "tracks")


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    # form/explode:false is what Part 1 asks of every query parameter it defines: bbox=1,2,3,4, not bbox=1&bbox=2
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "style": "form",
        "explode": False,
        "description": description,
    }


def limit_parameter(maximum: int | None) -> dict[str, Any]:
    """/req/core/fc-limit-definition; `maximum` None leaves it out (the main document: a larger limit is served as
    the maximum, not refused, so a fuzzer must not take it for bad input)."""
    schema: dict[str, Any] = {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}
    if maximum is not None:
        schema |= {"maximum": maximum, "default": min(DEFAULT_LIMIT, maximum)}
    return _query("limit", schema, "Items per page; a larger limit is served as the maximum")


BBOX = _query(
    "bbox",
    {
        "type": "array",
        "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
        "items": {"type": "number"},
    },
    "minlon,minlat,maxlon,maxlat (CRS84), or minlon,minlat,minheight,maxlon,maxlat,maxheight (metres); "
    "minlon > maxlon crosses ±180°. Features whose geometry intersects it (and whose altitude meets the heights)",
)
DATETIME = _query(
    "datetime",
    {"type": "string"},
    "An RFC 3339 instant, or an interval start/end with `..` for an open end: features whose time meets it",
)
CURSOR = _query("cursor", {"type": "integer", "minimum": 0}, "Where the next page starts: follow the `next` link")
F = _query("f", {"type": "string", "enum": ["json", "geojson"]}, "The encoding: JSON (GeoJSON for features)")
F_API = _query("f", {"type": "string", "enum": ["json", "html"]}, "This document as JSON, or its docs as HTML")


def queryable_parameter(name: str, collections: Sequence[str]) -> dict[str, Any]:
    """/rec/core/fc-filters: a property compared by equality; GDAL sends its `-where "name = 'x'"` as one."""
    where = ", ".join(f"`{c}`" for c in collections)
    return _query(name, {"type": "string"}, f"Only the items whose property `{name}` is this ({where})")


def items_parameters(limit_maximum: int | None, queryables: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """The items' parameters; `queryables` maps each collection to its properties to filter on."""
    names = sorted({name for props in queryables.values() for name in props})
    filters = [queryable_parameter(n, [c for c, props in queryables.items() if n in props]) for n in names]
    return [BBOX, DATETIME, limit_parameter(limit_maximum), CURSOR, F, *filters]


def definition(base_url: str, limit_maximum: int, queryables: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the OGC API under `base_url` (the landing page's absolute URL); `queryables`
    maps each collection to the properties its items may be filtered on."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Deconfliction channel: OGC API – Features",
            "version": __version__,
            "description": "The caller's picture, read-only: declarations, conflicts, lines and tracks it may see "
            "(need to know applies). Authenticate with `Authorization: Bearer <token>`.",
        },
        "servers": [{"url": base_url, "description": "The landing page"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "Capabilities"}, {"name": "Data"}],
        "paths": _paths(queryables),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "collectionId": {
                    "name": "collectionId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(COLLECTION_IDS)},
                    "description": "The collection's id",
                },
                "featureId": {
                    "name": "featureId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The item's id (a declaration, conflict, line or track id)",
                },
                "bbox": BBOX,
                "datetime": DATETIME,
                "limit": limit_parameter(limit_maximum),
                "cursor": CURSOR,
                "f": F,
                "fApi": F_API,
            },
            "schemas": _SCHEMAS,
            "responses": _RESPONSES,
        },
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _operation(op_id: str, summary: str, tag: str, parameters: list[str], ok: str) -> dict[str, Any]:
    errors = {code: _ref("responses", name) for code, name in _ERRORS.items()}
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "tags": [tag],
            "parameters": [_ref("parameters", p) for p in parameters],
            "responses": {"200": _ref("responses", ok), **errors},
        }
    }


def _paths(queryables: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    paths = _generic_paths()
    # Each collection's items also under a path of its own, with the properties it may be filtered on: GDAL looks
    # for `/collections/<its id>/items` before the template to learn them.
    common = [_ref("parameters", p) for p in ("bbox", "datetime", "limit", "cursor", "f")]
    for collection_id, names in queryables.items():
        operation = _operation(
            f"getFeatures_{collection_id}", f"A page of {collection_id}; follow `next`", "Data", [], "Features"
        )
        operation["get"]["parameters"] = [*common, *(queryable_parameter(n, [collection_id]) for n in names)]
        paths[f"/collections/{collection_id}/items"] = operation
    return paths


def _generic_paths() -> dict[str, Any]:
    api = _operation("getAPI", "This API definition (OpenAPI 3.0)", "Capabilities", ["fApi"], "API")
    api["get"]["security"] = []  # the same for every caller: no token needed
    api["get"]["responses"] = {
        code: _ref("responses", name)
        for code, name in (("200", "API"), ("400", "InvalidParameter"), ("429", "TooManyRequests"))
    }
    return {
        "/": _operation("getLandingPage", "The landing page", "Capabilities", ["f"], "LandingPage"),
        "/api": api,
        "/conformance": _operation(
            "getConformanceDeclaration", "The conformance classes", "Capabilities", ["f"], "ConformanceDeclaration"
        ),
        "/collections": _operation("getCollections", "The collections", "Capabilities", ["f"], "Collections"),
        "/collections/{collectionId}": _operation(
            "describeCollection", "One collection, with its extent", "Capabilities", ["collectionId", "f"], "Collection"
        ),
        "/collections/{collectionId}/items": _operation(
            "getFeatures",
            "A page of the collection's items; follow `next`",
            "Data",
            ["collectionId", "bbox", "datetime", "limit", "cursor", "f"],
            "Features",
        ),
        "/collections/{collectionId}/items/{featureId}": _operation(
            "getFeature", "One item, if the caller may see it", "Data", ["collectionId", "featureId", "f"], "Feature"
        ),
    }


_ERRORS = {
    "400": "InvalidParameter",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "429": "TooManyRequests",
}
_STRING = {"type": "string"}
_LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {"href": _STRING, "rel": _STRING, "type": _STRING, "title": _STRING},
}
_LINKS = {"type": "array", "items": _ref("schemas", "link")}
_GEOMETRY = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Point", "LineString", "Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array", "items": {}},
    },
}
_EXTENT = {
    "type": "object",
    "properties": {
        "spatial": {
            "type": "object",
            "properties": {
                "bbox": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                },
                "crs": _STRING,
            },
        },
        "temporal": {
            "type": "object",
            "properties": {
                "interval": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
                "trs": _STRING,
            },
        },
    },
}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": _STRING,
        "geometry": _ref("schemas", "geometryGeoJSON"),
        "properties": {"type": "object", "nullable": True},
        "links": _LINKS,
    },
}
_COUNT = {"type": "integer", "minimum": 0}
_SCHEMAS: dict[str, Any] = {
    "link": _LINK,
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {"title": _STRING, "description": _STRING, "links": _LINKS},
    },
    "confClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": _STRING}},
    },
    "extent": _EXTENT,
    "collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": _STRING,
            "title": _STRING,
            "description": _STRING,
            "links": _LINKS,
            "extent": _ref("schemas", "extent"),
            "itemType": _STRING,
            "crs": {"type": "array", "items": _STRING},
        },
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {"links": _LINKS, "collections": {"type": "array", "items": _ref("schemas", "collection")}},
    },
    "geometryGeoJSON": _GEOMETRY,
    "featureGeoJSON": _FEATURE,
    "featureCollectionGeoJSON": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _ref("schemas", "featureGeoJSON")},
            "links": _LINKS,
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": _COUNT,
            "numberReturned": _COUNT,
        },
    },
    "problem": PROBLEM_SCHEMA,
}


def _answer(description: str, media_type: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": _ref("schemas", schema)}}}


def _problem(description: str) -> dict[str, Any]:
    return _answer(description, PROBLEM_JSON, "problem")


_RESPONSES: dict[str, Any] = {
    "LandingPage": _answer("The landing page: links to the definition, conformance and data", JSON, "landingPage"),
    "API": {
        "description": "This document (f=json), or its documentation (f=html)",
        "content": {OPENAPI_30: {"schema": {"type": "object"}}, HTML: {"schema": _STRING}},
    },
    "ConformanceDeclaration": _answer("The conformance classes this API implements", JSON, "confClasses"),
    "Collections": _answer("The four collections", JSON, "collections"),
    "Collection": _answer("One collection and its extent (what the caller may see there)", JSON, "collection"),
    "Features": _answer("A page of items the caller may see", GEOJSON, "featureCollectionGeoJSON"),
    "Feature": _answer("One item", GEOJSON, "featureGeoJSON"),
    "InvalidParameter": _problem("A query parameter is unknown, repeated or has a bad value (`field` names it)"),
    "Unauthorized": _problem("No token, or one the channel does not know"),
    "Forbidden": _problem("The admin token: it is no party and has no picture"),
    "NotFound": _problem("No such collection, or an item the caller may not see (exactly as one that does not exist)"),
    "TooManyRequests": {
        **_problem("Over the rate limit (the setting `rate_limit_per_s`): retry after `Retry-After` seconds"),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
}
