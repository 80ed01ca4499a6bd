"""A corpus of broken requests: each is answered 4xx (never 5xx) as Problem Details naming the
problem and the
field, and nothing is stored. Plus the auth and precondition errors of the contract."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deconfliction.api.app import create_app
from deconfliction.bootstrap import wire
from tests.conftest import Api, feature, make_settings, square

LON, LAT = 40.40, 35.50
GOOD = feature(square(LON, LAT), name="valid area")


def good(**props: Any) -> dict[str, Any]:
    f = copy.deepcopy(GOOD)
    f["properties"].update(props)
    return f


def with_geometry(geometry: Any, **props: Any) -> dict[str, Any]:
    f = good(**props)
    f["geometry"] = geometry
    return f


def ring_polygon(ring: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def far(**props: Any) -> dict[str, Any]:
    """A valid area far from everything else (no conflict with the bystander)."""
    return with_geometry(square(10.0, 10.0), **props)


def without(key: str) -> dict[str, Any]:
    f = good()
    del f[key]
    return f


def without_prop(key: str) -> dict[str, Any]:
    f = good()
    del f["properties"][key]
    return f


A, B, C, D = (
    [LON - 0.01, LAT - 0.01],
    [LON + 0.01, LAT - 0.01],
    [LON + 0.01, LAT + 0.01],
    [LON - 0.01, LAT + 0.01],
)
RAW_FEATURE = (
    '{"type": "Feature", "geometry": %s, "properties": {"kind": "site", "name": "x", '
    '"start": "2017-09-09T05:00:00Z", "end": "2017-09-20T00:00:00Z", "radius_m": 100}}'
)


@dataclass(frozen=True)
class Bad:
    """One broken request body, the statuses allowed, and what the problem must name."""

    body: Any = None  # JSON-serialisable
    raw: str | None = None  # sent as is, Content-Type application/json
    statuses: tuple[int, ...] = (422,)
    field_re: str | None = None  # the `field` member must match (None: it need not be present)
    detail_re: str = "."
    headers: dict[str, str] = field(default_factory=dict)


GEOM = r"^geometry"
CORPUS: dict[str, Bad] = {
    "unclosed ring": Bad(
        with_geometry(ring_polygon([A, B, C, D, [LON - 0.005, LAT - 0.01]])),
        field_re=GEOM,
        detail_re=r"clos|first.*last",
    ),
    "self-intersecting bow-tie": Bad(
        with_geometry(ring_polygon([A, C, B, D, A])),
        field_re=GEOM,
        detail_re=r"intersect|cross|twist|bow",
    ),
    "lat 91": Bad(
        with_geometry(ring_polygon([A, B, [LON + 0.01, 91.0], D, A])),
        field_re=GEOM,
        detail_re=r"lat|91|90",
    ),
    "lat -91 point": Bad(
        with_geometry({"type": "Point", "coordinates": [LON, -91]}, kind="site", radius_m=100),
        field_re=GEOM,
        detail_re=r"lat|91|90",
    ),
    "lon 181": Bad(
        with_geometry({"type": "Point", "coordinates": [181.0, LAT]}, kind="site", radius_m=100),
        field_re=GEOM,
        detail_re=r"lon|181|180",
    ),
    "lon 181 in a ring": Bad(
        with_geometry(ring_polygon([A, B, [181.0, LAT + 0.01], D, A])),
        field_re=GEOM,
        detail_re=r"lon|181|180",
    ),
    "NaN": Bad(
        raw=RAW_FEATURE % '{"type": "Point", "coordinates": [NaN, 35.5]}',
        field_re=GEOM,
        detail_re=r"nan|finite|number",
    ),
    "NaN in a ring": Bad(
        raw=RAW_FEATURE
        % (
            '{"type": "Polygon", "coordinates": [[[40.39, 35.49], [40.41, 35.49], '
            "[40.41, NaN], [40.39, 35.51], [40.39, 35.49]]]}"
        ),
        field_re=GEOM,
        detail_re=r"nan|finite|number",
    ),
    "Infinity": Bad(
        raw=RAW_FEATURE % '{"type": "Point", "coordinates": [40.4, Infinity]}',
        field_re=GEOM,
        detail_re=r"inf|finite|number",
    ),
    "-Infinity": Bad(
        raw=RAW_FEATURE % '{"type": "Point", "coordinates": [-Infinity, 35.5]}',
        field_re=GEOM,
        detail_re=r"inf|finite|number",
    ),
    "NaN radius": Bad(
        raw=(
            '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [40.4, 35.5]}, '
            '"properties": {"kind": "site", "start": "2017-09-09T05:00:00Z", "radius_m": NaN}}'
        ),
        field_re=r"^properties\.radius_m$",
        detail_re=r"radius",
    ),
    "string coordinate": Bad(
        with_geometry({"type": "Point", "coordinates": ["40.4", LAT]}, kind="site", radius_m=100),
        field_re=GEOM,
        detail_re=r"number|numeric|float",
    ),
    "boolean coordinate": Bad(
        with_geometry({"type": "Point", "coordinates": [True, LAT]}, kind="site", radius_m=100),
        field_re=GEOM,
        detail_re=r"number|numeric|float",
    ),
    "empty coordinates": Bad(
        with_geometry({"type": "Polygon", "coordinates": []}),
        field_re=GEOM,
        detail_re=r"empty|ring|at least|coordinates",
    ),
    "empty ring": Bad(
        with_geometry({"type": "Polygon", "coordinates": [[]]}),
        field_re=GEOM,
        detail_re=r"empty|ring|at least|4|four|positions|points",
    ),
    "ring with 3 points": Bad(
        with_geometry(ring_polygon([A, B, A])),
        field_re=GEOM,
        detail_re=r"4|four|at least|positions|points",
    ),
    "point with one number": Bad(
        with_geometry({"type": "Point", "coordinates": [LON]}, kind="site", radius_m=100),
        field_re=GEOM,
        detail_re=r"position|lon|lat|2|two",
    ),
    "linestring with one point": Bad(
        with_geometry({"type": "LineString", "coordinates": [[LON, LAT]]}, kind="route", radius_m=100),
        field_re=GEOM,
        detail_re=r"2|two|at least|positions|points",
    ),
    "coordinates not nested": Bad(
        with_geometry({"type": "Polygon", "coordinates": [LON, LAT]}), field_re=GEOM, detail_re="."
    ),
    "missing geometry": Bad(without("geometry"), field_re=r"^geometry$", detail_re=r"geometry"),
    "null geometry": Bad(with_geometry(None), field_re=r"^geometry$", detail_re=r"geometry"),
    "unknown geometry type": Bad(
        with_geometry({"type": "Circle", "coordinates": [LON, LAT]}),
        field_re=GEOM,
        detail_re=r"Circle|type",
    ),
    "geometry collection": Bad(
        with_geometry({"type": "GeometryCollection", "geometries": []}),
        field_re=GEOM,
        detail_re=r"GeometryCollection|type",
    ),
    "route with a Polygon": Bad(good(kind="route"), field_re=GEOM, detail_re=r"LineString"),
    "end before start": Bad(
        good(end="2017-09-01T00:00:00Z"),
        field_re=r"^properties\.(end|start)$",
        detail_re=r"after|before",
    ),
    "end equals start": Bad(
        good(end="2017-09-09T05:00:00Z"),
        field_re=r"^properties\.(end|start)$",
        detail_re=r"after|before",
    ),
    "naive start without offset": Bad(
        good(start="2017-09-09T05:00:00"),
        field_re=r"^properties\.start$",
        detail_re=r"offset|RFC ?3339",
    ),
    "naive end without offset": Bad(
        good(end="2017-09-20T00:00:00"),
        field_re=r"^properties\.end$",
        detail_re=r"offset|RFC ?3339",
    ),
    "start not a time": Bad(good(start="next tuesday"), field_re=r"^properties\.start$", detail_re=r"RFC ?3339|date"),
    "start a number": Bad(good(start=1505000000), field_re=r"^properties\.start$", detail_re=r"RFC ?3339|string"),
    "missing start": Bad(without_prop("start"), field_re=r"^properties\.start$", detail_re=r"start"),
    "unknown kind": Bad(good(kind="zone"), field_re=r"^properties\.kind$", detail_re=r"kind"),
    "missing kind": Bad(without_prop("kind"), field_re=r"^properties\.kind$", detail_re=r"kind"),
    "negative radius_m": Bad(good(radius_m=-5), field_re=r"^properties\.radius_m$", detail_re=r"radius"),
    "radius_m a string": Bad(good(radius_m="100"), field_re=r"^properties\.radius_m$", detail_re=r"radius"),
    "negative separation_m": Bad(
        good(separation_m=-1), field_re=r"^properties\.separation_m$", detail_re=r"separation"
    ),
    "unknown property": Bad(good(colour="red"), field_re=r"^properties\.colour$", detail_re=r"colour"),
    "unknown altitude member": Bad(
        good(altitude={"lower_m": 0, "top_m": 10}),
        field_re=r"^properties\.altitude",
        detail_re=r"top_m",
    ),
    "audience a number": Bad(good(audience=5), field_re=r"^properties\.audience", detail_re=r"audience"),
    "audience an object": Bad(good(audience={"saa": True}), field_re=r"^properties\.audience", detail_re=r"audience"),
    "audience list of numbers": Bad(good(audience=[1, 2]), field_re=r"^properties\.audience", detail_re=r"audience"),
    "audience unknown word": Bad(good(audience="everyone"), field_re=r"^properties\.audience", detail_re=r"audience"),
    "audience naming no party": Bad(good(audience=["nobody"]), field_re=r"^properties\.audience", detail_re=r"nobody"),
    "name too long": Bad(good(name="x" * 201), field_re=r"^properties\.name$", detail_re=r"name"),
    "properties missing": Bad(without("properties"), field_re=r"^properties$", detail_re=r"properties"),
    "type not Feature": Bad({**good(), "type": "FeatureCollection"}, field_re=r"^type$", detail_re=r"Feature"),
    "speed_mps on an area": Bad(good(speed_mps=3), field_re=r"^properties\.speed_mps$", detail_re=r"route"),
    "body not JSON": Bad(raw='{"type": "Feature", "geometry": ', statuses=(400,), detail_re=r"JSON"),
    "body plain text": Bad(raw="where we are operating", statuses=(400,), detail_re=r"JSON"),
    "body a JSON array": Bad([GOOD], statuses=(400, 422), field_re=r"", detail_re=r"Feature|object"),
    "body a JSON string": Bad("Feature", statuses=(400, 422), field_re=r"", detail_re=r"Feature|object"),
    "body null": Bad(raw="null", statuses=(400, 422), detail_re=r"."),
}


def _send(
    api: Api,
    who: str,
    bad: Bad,
    method: str = "POST",
    path: str = "/v1/declarations",
    headers: dict[str, str] | None = None,
) -> Any:
    hdrs = {**bad.headers, **(headers or {})}
    if bad.raw is not None:
        return api.call(
            who,
            method,
            path,
            content=bad.raw.encode(),
            headers={"Content-Type": "application/json", **hdrs},
        )
    return api.call(who, method, path, json=bad.body, headers=hdrs)


def assert_problem(
    response: Any, statuses: tuple[int, ...], *, field_re: str | None = None, detail_re: str = "."
) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    for member in ("type", "title", "status", "detail"):
        assert member in body, (member, body)
    assert body["status"] == response.status_code
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert re.search(detail_re, body["detail"], re.IGNORECASE), f"detail {body['detail']!r} !~ {detail_re!r}"
    if field_re is not None:
        assert "field" in body, f"no `field` in {body}"
        assert isinstance(body["field"], str)
        assert re.search(field_re, body["field"]), f"field {body['field']!r} !~ {field_re!r}"
    return body


def assert_nothing_stored(api: Api, who: str, bystander: str) -> None:
    listed = api.call(who, "GET", "/v1/declarations", params={"status": "all"})
    assert listed.status_code == 200, listed.text
    assert [f for f in listed.json()["features"] if f["properties"]["party"] == who] == []
    assert api.call(who, "GET", "/v1/conflicts").json() == []
    assert api.call(bystander, "GET", "/v1/conflicts").json() == []
    assert api.call("admin", "GET", "/healthz").json()["declarations_active"] == 1  # the bystander's only


@pytest.fixture
def two(api: Api) -> Api:
    """`saa` with nothing declared, and `sdf` with an area exactly where the broken requests would
    go (so that
    anything wrongly stored would open a conflict)."""
    api.add_party("sdf")
    api.add_party("saa")
    api.declare(
        "sdf",
        feature(square(LON, LAT, 0.05), audience="all", start="2017-01-01T00:00:00Z", end=None),
    )
    return api


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_broken_declaration_is_refused_and_nothing_stored(two: Api, case: str) -> None:
    bad = CORPUS[case]
    response = _send(two, "saa", bad)
    assert_problem(response, bad.statuses, field_re=bad.field_re, detail_re=bad.detail_re)
    assert_nothing_stored(two, "saa", "sdf")


@pytest.mark.parametrize(
    "case",
    [
        "unclosed ring",
        "lat 91",
        "NaN",
        "end before start",
        "unknown property",
        "body not JSON",
        "negative radius_m",
        "route with a Polygon",
    ],
)
def test_broken_revision_is_refused_and_the_declaration_unchanged(two: Api, case: str) -> None:
    """PUT with the same broken bodies: refused, and the stored version stays as it was."""
    mine = two.declare("saa", far(name="saa's own", audience="all"))
    bad = CORPUS[case]
    response = _send(
        two,
        "saa",
        bad,
        method="PUT",
        path=f"/v1/declarations/{mine['id']}",
        headers={"If-Match": '"1"'},
    )
    assert_problem(response, bad.statuses, field_re=bad.field_re, detail_re=bad.detail_re)
    now = two.call("saa", "GET", f"/v1/declarations/{mine['id']}")
    assert now.status_code == 200
    assert now.json()["properties"]["version"] == 1
    assert now.json()["properties"]["name"] == "saa's own"
    assert two.call("saa", "GET", "/v1/conflicts").json() == []


def test_valid_request_is_accepted_by_the_same_fixture(two: Api) -> None:
    """The corpus's base feature itself is valid and does conflict with the bystander: the checks
    above bite."""
    written = two.declare("saa", GOOD)
    assert len(written["conflicts"]) == 1
    assert written["conflicts"][0]["other_party"] == "sdf"


# --------------------------------------------------------------------------------------------------
# Configured limits: vertices, body size, area
# --------------------------------------------------------------------------------------------------


def circle(n: int, lon: float = LON, lat: float = LAT, r_deg: float = 0.05) -> dict[str, Any]:
    ring = [
        [
            round(lon + r_deg * math.cos(2 * math.pi * i / n), 6),
            round(lat + r_deg * math.sin(2 * math.pi * i / n), 6),
        ]
        for i in range(n)
    ]
    return ring_polygon([*ring, ring[0]])


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Api]:
    """A channel configured with small limits: 50 vertices, 16 KiB bodies."""
    settings = make_settings(tmp_path, max_vertices=50, max_body_bytes=16_384)
    wired = wire(settings)
    try:
        with TestClient(create_app(settings, wired.ctx, wired.hub, wired.background)) as client:
            api = Api(client)
            api.add_party("sdf")
            api.add_party("saa")
            api.declare(
                "sdf",
                feature(square(LON, LAT, 0.2), audience="all", start="2017-01-01T00:00:00Z", end=None),
            )
            yield api
    finally:
        wired.ctx.store.close()


def test_vertex_count_within_the_limit_is_accepted(small: Api) -> None:
    assert small.declare("saa", with_geometry(circle(40)))["id"]


def test_too_many_vertices(small: Api) -> None:
    body = with_geometry(circle(200))
    assert len(json.dumps(body)) < 16_384
    r = small.call("saa", "POST", "/v1/declarations", json=body)
    problem = assert_problem(r, (422,), field_re=GEOM, detail_re=r"vert|50|points|positions")
    assert "50" in problem["detail"], problem
    assert_nothing_stored(small, "saa", "sdf")


def test_too_many_vertices_in_a_multipolygon(small: Api) -> None:
    body = with_geometry(
        {
            "type": "MultiPolygon",
            "coordinates": [
                circle(30, LON - 0.5)["coordinates"],
                circle(30, LON + 0.5)["coordinates"],
            ],
        }
    )
    r = small.call("saa", "POST", "/v1/declarations", json=body)
    assert_problem(r, (422,), field_re=GEOM, detail_re=r"vert|50|points|positions")
    assert_nothing_stored(small, "saa", "sdf")


def test_body_over_max_body_bytes(small: Api) -> None:
    body = good(name="x")
    raw = json.dumps(body).replace('"name": "x"', '"name": "x", "padding": "' + "p" * 20_000 + '"')
    r = small.call(
        "saa",
        "POST",
        "/v1/declarations",
        content=raw.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, (413,), detail_re=r"16384|limit|large")
    assert_nothing_stored(small, "saa", "sdf")


def test_body_over_max_body_bytes_without_content_length(small: Api) -> None:
    """A chunked upload (no Content-Length) is counted as it streams and refused with 413 too."""
    raw = json.dumps(good()).replace('"name": "valid area"', '"name": "' + "p" * 30_000 + '"').encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 4096):
            yield raw[i : i + 4096]

    r = small.call(
        "saa",
        "POST",
        "/v1/declarations",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, (413,), detail_re=r"16384|limit|large")
    assert_nothing_stored(small, "saa", "sdf")


def test_body_over_default_max_body_bytes(two: Api) -> None:
    raw = b'{"type": "Feature", "pad": "' + b"p" * 1_100_000 + b'"}'
    r = two.call("saa", "POST", "/v1/declarations", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(r, (413,))
    assert_nothing_stored(two, "saa", "sdf")


def test_too_large_an_area(two: Api) -> None:
    # 10° x 10° near the equator: about 1.2 million km², over the default 200 000 km²
    body = with_geometry(ring_polygon([[20, 0], [30, 0], [30, 10], [20, 10], [20, 0]]))
    r = two.call("saa", "POST", "/v1/declarations", json=body)
    assert_problem(r, (422,), field_re=GEOM, detail_re=r"area|km")
    assert_nothing_stored(two, "saa", "sdf")


def test_too_large_a_radius(two: Api) -> None:
    body = with_geometry({"type": "Point", "coordinates": [LON, LAT]}, kind="site", radius_m=5_000_000)
    r = two.call("saa", "POST", "/v1/declarations", json=body)
    assert_problem(r, (413, 422), field_re=r"^properties\.radius_m$", detail_re=r"radius|100000|between")
    assert_nothing_stored(two, "saa", "sdf")


# --------------------------------------------------------------------------------------------------
# Preconditions, authentication, rights
# --------------------------------------------------------------------------------------------------


def test_put_without_if_match_is_428(two: Api) -> None:
    mine = two.declare("saa", far())
    r = two.call("saa", "PUT", f"/v1/declarations/{mine['id']}", json=good(name="changed"))
    assert_problem(r, (428,), field_re=r"If-Match", detail_re=r"If-Match")
    assert two.call("saa", "GET", f"/v1/declarations/{mine['id']}").json()["properties"]["version"] == 1


def test_put_with_stale_if_match_is_412(two: Api) -> None:
    mine = two.declare("saa", far())
    path = f"/v1/declarations/{mine['id']}"
    first = two.call(
        "saa",
        "PUT",
        path,
        json=far(name="v2"),
        headers={"If-Match": '"1"'},
    )
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    stale = two.call("saa", "PUT", path, json=good(name="v3"), headers={"If-Match": '"1"'})
    assert_problem(stale, (412,), detail_re=r"version")
    got = two.call("saa", "GET", path)
    assert got.json()["properties"]["name"] == "v2"
    assert got.json()["properties"]["version"] == 2
    assert two.call("saa", "GET", "/v1/conflicts").json() == []


@pytest.mark.parametrize("header", [None, "Bearer nope-not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "dcf_x"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/declarations"),
        ("GET", "/v1/declarations"),
        ("GET", "/v1/conflicts"),
        ("GET", "/v1/parties"),
        ("POST", "/v1/parties"),
        ("GET", "/v1/events"),
    ],
)
def test_missing_or_unknown_token_is_401(two: Api, header: str | None, method: str, path: str) -> None:
    headers = {} if header is None else {"Authorization": header}
    kwargs: dict[str, Any] = {"json": GOOD} if method == "POST" else {}
    r = two.client.request(method, path, headers=headers, **kwargs)
    assert_problem(r, (401,))
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers
    assert_nothing_stored(two, "saa", "sdf")


def test_admin_token_cannot_declare(two: Api) -> None:
    r = two.call("admin", "POST", "/v1/declarations", json=GOOD)
    assert_problem(r, (403,))
    assert two.call("admin", "GET", "/healthz").json()["declarations_active"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/parties", {"id": "rogue", "name": "Rogue"}),
        ("PATCH", "/v1/parties/sdf", {"status": "withdrawn"}),
        ("POST", "/v1/links", {"a": "saa", "b": "sdf"}),
        ("POST", "/v1/parties/sdf/tokens", None),
    ],
)
def test_party_token_cannot_administer(two: Api, method: str, path: str, body: Any) -> None:
    r = two.call("saa", method, path, json=body)
    assert_problem(r, (403,))
    parties = {p["id"]: p["status"] for p in two.call("saa", "GET", "/v1/parties").json()}
    assert parties == {"sdf": "active", "saa": "active"}
    assert two.call("saa", "GET", "/v1/links").json() == []


def test_duplicate_party_is_409(two: Api) -> None:
    r = two.call("admin", "POST", "/v1/parties", json={"id": "sdf", "name": "Impostor"})
    assert_problem(r, (409,), detail_re=r"sdf")
    names = {p["id"]: p["name"] for p in two.call("admin", "GET", "/v1/parties").json()}
    assert names["sdf"] == "SDF"
    # the original token still works; no second party row appeared
    assert two.call("sdf", "GET", "/v1/conflicts").status_code == 200
    assert len(names) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"id": "", "name": "x"},
        {"id": "Has Spaces", "name": "x"},
        {"id": "ok", "name": ""},
        {"id": "ok"},
        {"id": "ok", "name": "x", "extra": 1},
        {"id": "ok", "name": "x", "public_key": "not base64!"},
        {"id": "ok", "name": "x", "public_key": "AAAA"},
    ],
)
def test_bad_party_is_refused(two: Api, body: dict[str, Any]) -> None:
    r = two.call("admin", "POST", "/v1/parties", json=body)
    assert_problem(r, (400, 422))
    assert len(two.call("admin", "GET", "/v1/parties").json()) == 2


def test_hidden_declaration_of_another_party_is_404(two: Api) -> None:
    hidden = two.declare("saa", far(audience="conflicts"))
    r = two.call("sdf", "GET", f"/v1/declarations/{hidden['id']}")
    assert_problem(r, (404,))
    for method, kw in (("PUT", {"json": GOOD, "headers": {"If-Match": '"1"'}}), ("DELETE", {})):
        r = two.call("sdf", method, f"/v1/declarations/{hidden['id']}", **kw)
        assert_problem(r, (404,))
    assert two.call("saa", "GET", f"/v1/declarations/{hidden['id']}").json()["properties"]["version"] == 1


def test_visible_declaration_of_another_party_cannot_be_changed_403(two: Api) -> None:
    shared = two.call("saa", "GET", "/v1/declarations").json()["features"]
    assert len(shared) == 1  # sdf's, audience "all"
    sid = shared[0]["id"]
    r = two.call("saa", "PUT", f"/v1/declarations/{sid}", json=GOOD, headers={"If-Match": '"1"'})
    assert_problem(r, (403,))
    r = two.call("saa", "DELETE", f"/v1/declarations/{sid}")
    assert_problem(r, (403,))
    assert two.call("sdf", "GET", f"/v1/declarations/{sid}").json()["properties"]["status"] == "active"


def test_suspended_party_may_read_but_not_write(two: Api) -> None:
    r = two.call("admin", "PATCH", "/v1/parties/saa", json={"status": "suspended"})
    assert r.status_code == 200, r.text
    assert_problem(two.call("saa", "POST", "/v1/declarations", json=GOOD), (403,))
    assert two.call("saa", "GET", "/v1/declarations").status_code == 200
    assert_nothing_stored(two, "saa", "sdf")


def test_withdrawn_party_token_stops_working(two: Api) -> None:
    assert two.call("admin", "PATCH", "/v1/parties/saa", json={"status": "withdrawn"}).status_code == 200
    r = two.call("saa", "GET", "/v1/declarations")
    assert_problem(r, (401, 403))
    assert_problem(two.call("saa", "POST", "/v1/declarations", json=GOOD), (401, 403))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/declarations", {"bbox": "1,2,3"}),
        ("/v1/declarations", {"bbox": "a,b,c,d"}),
        ("/v1/declarations", {"bbox": "0,95,1,96"}),
        ("/v1/declarations", {"bbox": "nan,0,1,1"}),
        ("/v1/declarations", {"start": "yesterday"}),
        ("/v1/declarations", {"start": "2017-09-10T00:00:00"}),
        ("/v1/declarations", {"start": "2017-09-10T00:00:00Z", "end": "2017-09-09T00:00:00Z"}),
        ("/v1/declarations", {"status": "deleted"}),
        ("/v1/declarations", {"limit": "0"}),
        ("/v1/declarations", {"limit": "many"}),
        ("/v1/declarations", {"after": "-1"}),
        ("/v1/conflicts", {"status": "pending"}),
        ("/v1/conflicts", {"limit": "-3"}),
    ],
)
def test_bad_query_parameters_are_422(two: Api, path: str, params: dict[str, str]) -> None:
    r = two.call("saa", "GET", path, params=params)
    body = assert_problem(r, (400, 422))
    name = next(iter(params)) if len(params) == 1 else None
    if name is not None:
        assert name in body.get("field", "") or name in body["detail"], body


def test_unknown_conflict_is_404(two: Api) -> None:
    for method, path in (("GET", "/v1/conflicts/nope"), ("POST", "/v1/conflicts/nope/ack")):
        assert_problem(two.call("saa", method, path), (404,))


def test_unknown_route_and_wrong_method_are_problems(two: Api) -> None:
    assert_problem(two.call("saa", "GET", "/v1/nothing-here"), (404,))
    assert_problem(two.call("saa", "DELETE", "/v1/declarations"), (405,))
