"""The OGC API's own definition, as a client finds it from the landing page: an OpenAPI 3.0 document (validated as
3.0 by openapi-spec-validator) whose `servers` is the landing page, every path of which answers there; `limit`,
`bbox` and `datetime` defined as Part 1's requirements say; HEAD answered wherever GET is."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

from deconfliction.config import Settings
from tests.conftest import BOTH_BACKENDS, Api, feature, square

OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
SERVER = "http://testserver/ogc"


def definition(api: Api) -> dict[str, Any]:
    r = api.client.get("/ogc/api")  # no token: the same document for everyone, like /openapi.json
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == OPENAPI_30
    doc: dict[str, Any] = r.json()
    return doc


def resolved(doc: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """`obj`, or what its local `$ref` points at."""
    ref = obj.get("$ref")
    if ref is None:
        return obj
    found: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return resolved(doc, found)


def parameters(doc: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in (resolved(doc, q) for q in doc["paths"][path]["get"]["parameters"])}


def schemas_of(node: Any) -> list[dict[str, Any]]:
    """Every object in the document, to look for what OpenAPI 3.0 does not have."""
    if isinstance(node, dict):
        return [node, *(s for v in node.values() for s in schemas_of(v))]
    if isinstance(node, list):
        return [s for v in node for s in schemas_of(v)]
    return []


def test_the_definition_is_openapi_30_with_the_landing_page_as_its_server(api: Api) -> None:
    doc = definition(api)
    validate(doc, cls=OpenAPIV30SpecValidator)
    assert doc["openapi"].startswith("3.0.")
    assert [s["url"] for s in doc["servers"]] == [SERVER]
    for node in schemas_of(doc):  # what made /openapi.json unreadable as 3.0
        assert "const" not in node and not isinstance(node.get("type"), list) and node.get("type") != "null", node
        assert not isinstance(node.get("exclusiveMinimum"), int | float), node
    assert {"/", "/api", "/conformance", "/collections", "/collections/{collectionId}/items"} <= set(doc["paths"])
    # every status an operation answers with is declared (/req/oas30/completeness), each error a Problem
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]["responses"]
    assert set(items) == {"200", "400", "401", "403", "404", "429"}
    for code in ("400", "404", "429"):
        assert list(resolved(doc, items[code])["content"]) == ["application/problem+json"]
    main = api.client.get("/openapi.json").json()  # the channel's own document stays 3.1, and valid
    assert main["openapi"].startswith("3.1.")
    validate(main, cls=OpenAPIV31SpecValidator)


def test_every_path_of_the_definition_answers_under_its_server(api: Api) -> None:
    """What GDAL, QGIS and CITE do: read the definition, resolve its paths against `servers`, call them."""
    api.add_party("sdf")
    did = api.declare("sdf", feature(square(40.3, 35.5)))["id"]
    doc = definition(api)
    ids = resolved(doc, {"$ref": "#/components/parameters/collectionId"})["schema"]["enum"]
    assert ids == ["declarations", "conflicts", "lines", "tracks"]
    called = 0
    for template, item in doc["paths"].items():
        collections = ["declarations"] if "{featureId}" in template else ids
        for cid in collections if "{collectionId}" in template else [None]:
            path = template.replace("{collectionId}", str(cid)).replace("{featureId}", did)
            r = api.call("sdf", "GET", SERVER.removeprefix("http://testserver") + path)
            assert r.status_code == 200, (template, cid, r.text)
            declared = resolved(doc, item["get"]["responses"]["200"])["content"]
            assert r.headers["content-type"].split(";")[0] in {t.split(";")[0] for t in declared}, (path, r.headers)
            called += 1
    assert called >= 13


def test_limit_bbox_and_datetime_are_defined_as_part_1_requires(api: Api, settings: Settings) -> None:
    doc = definition(api)
    main = api.client.get("/openapi.json").json()
    items_paths = ["/collections/{collectionId}/items"] + [
        f"/collections/{c}/items" for c in ("declarations", "tracks")
    ]
    defined = [parameters(doc, path) for path in items_paths]
    for params in [*defined, parameters(main, "/ogc/collections/{collectionId}/items")]:
        for name in ("limit", "bbox", "datetime"):
            p = params[name]
            assert (p["in"], p["required"], p["style"], p["explode"]) == ("query", False, "form", False), p
        assert params["datetime"]["schema"] == {"type": "string"}
        bbox = params["bbox"]["schema"]
        assert bbox["type"] == "array" and bbox["items"] == {"type": "number"}
        assert bbox["oneOf"] == [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}]
        assert params["limit"]["schema"]["type"] == "integer" and params["limit"]["schema"]["minimum"] == 1
    limit = parameters(doc, "/collections/{collectionId}/items")["limit"]["schema"]
    assert (limit["maximum"], limit["default"]) == (settings.page_limit_max, 100)
    # the properties each collection's items may be filtered on, under its own path (where GDAL looks for them)
    assert {"name", "kind", "party"} <= set(parameters(doc, "/collections/declarations/items"))
    assert "proposer" not in parameters(doc, "/collections/declarations/items")


def test_limits_maximum_and_default_are_what_is_served(api: Api, settings: Settings) -> None:
    api.add_party("sdf")
    for i in range(3):
        api.declare("sdf", feature(square(10.0 + i, 10.0), name=f"a{i}"))
    doc = definition(api)
    limit = parameters(doc, "/collections/{collectionId}/items")["limit"]["schema"]
    r = api.call("sdf", "GET", "/ogc/collections/declarations/items", params={"limit": limit["maximum"] + 1})
    assert r.status_code == 200 and r.json()["numberReturned"] == 3  # above the maximum: served as it
    assert (
        len(api.call("sdf", "GET", "/ogc/collections/declarations/items", params={"limit": 2}).json()["features"]) == 2
    )


def test_the_documentation_page_reads_the_definition(api: Api) -> None:
    r = api.client.get("/ogc/api", params={"f": "html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f"{SERVER}/api" in r.text
    r = api.client.get("/ogc/api", params={"f": "xml"})
    assert r.status_code == 400 and r.json()["field"] == "f"


@BOTH_BACKENDS
def test_head_is_answered_wherever_get_is(api: Api) -> None:
    """The same status and headers as GET, no body; 405's `Allow` promised HEAD and 405'd it before."""
    for party in ("sdf", "saa"):
        api.add_party(party)
    shared = api.declare("sdf", feature(square(40.3, 35.5), audience=["saa"]))["id"]
    hidden = api.declare("sdf", feature(square(41.3, 35.5)))["id"]
    paths = ["/ogc", "/ogc/", "/ogc/api", "/ogc/api?f=html", "/ogc/conformance", "/ogc/collections"]
    for cid in ("declarations", "conflicts", "lines", "tracks", "unknown"):
        paths += [f"/ogc/collections/{cid}", f"/ogc/collections/{cid}/items", f"/ogc/collections/{cid}/items?limit=0"]
    paths += [f"/ogc/collections/declarations/items/{shared}", f"/ogc/collections/declarations/items/{hidden}"]
    main = api.client.get("/openapi.json").json()
    templates = {p for p, item in main["paths"].items() if p.startswith("/ogc") and "get" in item}
    one = "/ogc/collections/{collectionId}"
    assert templates == {"/ogc", "/ogc/api", "/ogc/conformance", "/ogc/collections", one, f"{one}/items",
                         f"{one}/items/{{featureId}}"}  # fmt: skip
    statuses = set()
    for who in ("saa", "admin", None):
        headers = {} if who is None else api.as_(who)
        for path in paths:
            got, head = api.client.get(path, headers=headers), api.client.head(path, headers=headers)
            statuses.add(got.status_code)
            assert head.status_code == got.status_code, (who, path, head.status_code, got.status_code)
            assert head.content == b"", (who, path)
            for name in ("content-type", "content-length", "www-authenticate"):
                assert head.headers.get(name) == got.headers.get(name), (who, path, name)
    assert statuses == {200, 400, 401, 403, 404}
    r = api.call("saa", "POST", "/ogc")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
