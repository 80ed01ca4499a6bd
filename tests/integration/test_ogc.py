"""OGC API – Features in process: the landing page and conformance, the collections and their extents, paging by
`next` links, bbox (across ±180° too) and datetime, 400s for what the standard calls bad, 401 without a token, and
need to know: the same rules as GET /v1/declarations in every collection, reads of others' declarations recorded."""

from __future__ import annotations

import json
from typing import Any

from deconfliction.domain.timewindow import format_time, utcnow
from tests.conftest import BOTH_BACKENDS, Api, feature, square

pytestmark = BOTH_BACKENDS

GEOJSON = "application/geo+json"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
# sdf's hidden area: corners with unusual decimals, so that any leak of them is easy to find
HIDDEN = {"type": "Polygon", "coordinates": [[[40.123457, 35.345679], [40.234568, 35.345679], [40.234568, 35.456791],
                                              [40.123457, 35.456791], [40.123457, 35.345679]]]}  # fmt: skip


def ok(api: Api, who: str, path: str, **params: Any) -> dict[str, Any]:
    r = api.call(who, "GET", path, params=params)
    assert r.status_code == 200, (path, r.status_code, r.text)
    body: dict[str, Any] = r.json()
    return body


def items(api: Api, who: str, collection: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a collection, following `next` links to the end."""
    r = api.call(who, "GET", f"/ogc/collections/{collection}/items", params=params)
    found: list[dict[str, Any]] = []
    while True:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(GEOJSON)
        page = r.json()
        assert page["numberReturned"] == len(page["features"])
        found.extend(page["features"])
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            return found
        r = api.call(who, "GET", following[0].removeprefix("http://testserver"))


def names(features: list[dict[str, Any]]) -> set[str]:
    return {f["properties"]["name"] for f in features}


def three(api: Api) -> None:
    for party in ("sdf", "saa", "russia"):
        api.add_party(party)


def test_landing_page_conformance_and_collections(api: Api) -> None:
    three(api)
    landing = ok(api, "sdf", "/ogc")
    assert landing["title"] and landing["description"]
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["href"] == "http://testserver/ogc/api"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["service-doc"]["href"] == "http://testserver/ogc/api?f=html"
    assert rels["data"]["href"].endswith("/ogc/collections")
    conformance = ok(api, "sdf", "/ogc/conformance", f="json")
    assert CORE in conformance["conformsTo"]
    assert any(c.endswith("/conf/geojson") for c in conformance["conformsTo"])
    assert any(c.endswith("/conf/oas30") for c in conformance["conformsTo"])
    collections = ok(api, "sdf", "/ogc/collections")["collections"]
    assert [c["id"] for c in collections] == ["declarations", "conflicts", "lines", "tracks"]
    for c in collections:
        assert c["itemType"] == "feature" and c["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
        assert {link["rel"] for link in c["links"]} >= {"self", "items"}
        assert c["extent"]["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]  # nothing to see yet
        assert ok(api, "sdf", f"/ogc/collections/{c['id']}") == c
    r = api.call("sdf", "GET", "/ogc/collections/unknown")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_no_token_is_401_and_the_admin_is_not_a_party(api: Api) -> None:
    three(api)
    for path in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/declarations/items"):
        r = api.client.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert r.headers["content-type"] == "application/problem+json"
        r = api.client.get(path, headers={"Authorization": "Bearer dcf_unknown"})
        assert r.status_code == 401, path
    for path in ("/ogc", "/ogc/conformance"):
        assert api.call("admin", "GET", path).status_code == 200, path
    for path in ("/ogc/collections", "/ogc/collections/declarations/items", "/ogc/collections/lines/items/x"):
        assert api.call("admin", "GET", path).status_code == 403, path


def test_items_flattened_for_attribute_tables_and_one_item(api: Api) -> None:
    three(api)
    props = {"altitude": {"lower_m": 100, "upper_m": 3000}, "radius_m": 50, "name": "Khabur"}
    did = api.declare("sdf", feature(square(40.3, 35.5), **props))["id"]
    [found] = items(api, "sdf", "declarations")
    assert found["id"] == did and found["geometry"] == square(40.3, 35.5)
    p = found["properties"]
    assert (p["name"], p["kind"], p["party"], p["status"], p["version"]) == ("Khabur", "area", "sdf", "active", 1)
    assert (p["lower_m"], p["upper_m"], p["radius_m"]) == (100, 3000, 50)
    assert (p["start"], p["end"], p["audience"]) == ("2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z", "conflicts")
    r = api.call("sdf", "GET", f"/ogc/collections/declarations/items/{did}")
    assert r.status_code == 200 and r.headers["content-type"].startswith(GEOJSON)
    assert r.json()["properties"] == p and {link["rel"] for link in r.json()["links"]} == {"self", "collection"}
    extent = ok(api, "sdf", "/ogc/collections/declarations")["extent"]
    bbox = extent["spatial"]["bbox"][0]
    assert all(abs(a - b) < 1e-6 for a, b in zip(bbox, [40.29, 35.49, 40.31, 35.51], strict=True)), bbox
    assert extent["temporal"]["interval"] == [["2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z"]]


def test_paging_follows_next_links_and_limit_is_capped(api: Api) -> None:
    three(api)
    for i in range(7):
        api.declare("sdf", feature(square(10.0 + i, 10.0), name=f"a{i}"))
    page = ok(api, "sdf", "/ogc/collections/declarations/items", limit=3)
    assert page["numberReturned"] == 3 and page["timeStamp"].endswith("Z")
    rels = [link["rel"] for link in page["links"]]
    assert rels.count("next") == 1 and "self" in rels and "collection" in rels
    assert names(items(api, "sdf", "declarations", limit=3)) == {f"a{i}" for i in range(7)}
    assert names(items(api, "sdf", "declarations", limit=7)) == {f"a{i}" for i in range(7)}
    assert len(items(api, "sdf", "declarations", limit=10**30)) == 7  # served as the maximum, not refused
    last = ok(api, "sdf", "/ogc/collections/declarations/items", limit=10)
    assert "next" not in [link["rel"] for link in last["links"]]


def test_bbox_crossing_the_antimeridian_and_datetime_intervals(api: Api) -> None:
    three(api)
    api.declare("sdf", feature(square(179.5, 0.0), name="east", end="2017-09-12T00:00:00Z"))
    api.declare("sdf", feature(square(-179.5, 0.0), name="west", start="2017-09-15T00:00:00Z"))
    api.declare("sdf", feature(square(0.0, 0.0), name="greenwich", start="2017-09-01T00:00:00Z", end=None))
    assert names(items(api, "sdf", "declarations", bbox="170,-10,-170,10")) == {"east", "west"}
    assert names(items(api, "sdf", "declarations", bbox="170,-10,180,10")) == {"east"}
    assert names(items(api, "sdf", "declarations", bbox="-10,-10,10,10")) == {"greenwich"}
    assert names(items(api, "sdf", "declarations", bbox="170,-10,0,-170,10,5000")) == {"east", "west"}  # 3-D
    by_time = {
        "2017-09-10T00:00:00Z": {"east", "greenwich"},
        "2017-09-12T00:00:00Z/..": {"west", "greenwich"},  # east ends as the interval starts
        "../2017-09-05T00:00:00Z": {"greenwich"},
        "2017-09-11T00:00:00Z/2017-09-15T00:00:00Z": {"east", "west", "greenwich"},  # closed: west starts at its end
        "/2017-09-08T00:00:00+03:00": {"greenwich"},
        "../..": {"east", "west", "greenwich"},
        "2018-01-01T00:00:00Z": {"greenwich"},
    }
    for value, expected in by_time.items():
        assert names(items(api, "sdf", "declarations", datetime=value)) == expected, value


def test_bad_parameters_are_400_problems(api: Api) -> None:
    three(api)
    bad = [
        {"unknown": "1"},
        {"limit": "0"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"bbox": "1,2,3"},
        {"bbox": "1,2,3,x"},
        {"bbox": "0,10,1,5"},
        {"datetime": "yesterday"},
        {"datetime": "2017-09-12T00:00:00Z/2017-09-11T00:00:00Z"},
        {"datetime": "a/b/c"},
        {"cursor": "-3"},
        {"f": "html"},
    ]
    for params in bad:
        r = api.call("sdf", "GET", "/ogc/collections/declarations/items", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == 400
    for path in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/lines"):
        assert api.call("sdf", "GET", path, params={"limit": "3"}).status_code == 400, path
    r = api.call("sdf", "GET", "/ogc/collections/declarations/items?limit=1&limit=2")
    assert r.status_code == 400
    assert api.call("sdf", "GET", "/ogc/collections/tracks/items", params={"cursor": 10**9}).status_code == 400


def test_need_to_know_in_every_collection(api: Api) -> None:
    """saa conflicts with sdf's hidden area and learns only its own conflict record; russia learns nothing."""
    three(api)
    hidden = api.declare("sdf", feature(HIDDEN, name="Jazeera-Storm", separation_m=5000))["id"]
    saa = api.declare("saa", feature(square(40.10, 35.32), name="saa's", audience=["sdf"]))
    assert len(saa["conflicts"]) == 1
    for who in ("saa", "russia"):
        text = json.dumps([items(api, who, c) for c in ("declarations", "conflicts", "lines", "tracks")])
        text += json.dumps(ok(api, who, "/ogc/collections"))
        for secret in (hidden, "Jazeera", "40.123457", "35.345679", "40.234568", "35.456791"):
            assert secret not in text, (who, secret)
        r = api.call(who, "GET", f"/ogc/collections/declarations/items/{hidden}")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == api.call(who, "GET", "/ogc/collections/declarations/items/nope").json()[
            "detail"
        ].replace("nope", hidden)
    assert items(api, "russia", "declarations") == [] and items(api, "russia", "conflicts") == []
    [theirs] = items(api, "saa", "conflicts")
    assert theirs["geometry"]["type"] == "Point"
    lon, lat = theirs["geometry"]["coordinates"]
    assert 40.09 <= lon <= 40.11 and 35.31 <= lat <= 35.33  # on saa's own square
    p = theirs["properties"]
    assert (p["other_party"], p["other_declaration"], p["declaration"]) == ("sdf", None, saa["id"])
    assert p["kind"] == "proximity" and p["required_m"] == 5000 and 0 < p["distance_m"] < 5000
    assert (p["status"], p["start"], p["end"]) == ("open", "2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z")
    [mine] = items(api, "sdf", "conflicts")
    assert mine["id"] == theirs["id"] and mine["properties"]["other_declaration"] == saa["id"]  # shared with sdf
    assert api.call("russia", "GET", f"/ogc/collections/conflicts/items/{theirs['id']}").status_code == 404
    assert names(items(api, "sdf", "declarations")) == {"Jazeera-Storm", "saa's"}
    assert names(items(api, "saa", "declarations")) == {"saa's"}


def test_reads_of_others_declarations_are_recorded_via_ogc(api: Api) -> None:
    three(api)
    shared = api.declare("sdf", feature(square(30.0, 30.0), audience="all"))["id"]
    api.declare("saa", feature(square(50.0, 30.0)))

    def vias() -> list[tuple[str, str]]:
        r = api.call("sdf", "GET", f"/v1/declarations/{shared}/views")
        assert r.status_code == 200, r.text
        return [(v["party"], v["via"]) for v in r.json()]

    items(api, "sdf", "declarations")  # the owner's own reads leave no trace
    assert vias() == []
    assert len(items(api, "saa", "declarations")) == 2
    assert vias() == [("saa", "ogc")]
    assert api.call("russia", "GET", f"/ogc/collections/declarations/items/{shared}").status_code == 200
    assert vias() == [("saa", "ogc"), ("russia", "ogc")]
    ok(api, "russia", "/ogc/collections")  # an extent shows no declaration: no view
    assert len(vias()) == 2


def test_lines_and_tracks(api: Api) -> None:
    three(api)
    river = {"type": "LineString", "coordinates": [[40.0, 35.0], [40.5, 35.5]]}
    r = api.call("sdf", "POST", "/v1/lines", json={"with": "saa", "geometry": river, "left": "sdf"})
    assert r.status_code == 201, r.text
    line_id = r.json()["id"]
    for who in ("sdf", "saa"):
        [line] = items(api, who, "lines")
        assert line["id"] == line_id and line["geometry"] == river
        assert (line["properties"]["status"], line["properties"]["proposer"]) == ("proposed", "sdf")
    assert items(api, "russia", "lines") == []
    assert items(api, "sdf", "lines", bbox="0,0,1,1") == []
    assert api.call("russia", "GET", f"/ogc/collections/lines/items/{line_id}").status_code == 404
    fix = {"t": format_time(utcnow()), "lon": 40.1, "lat": 35.1, "alt_m": 500, "speed_mps": 10, "course_deg": 90}
    assert api.call("saa", "POST", "/v1/tracks/convoy-1/positions", json=[fix]).status_code == 202
    [track] = items(api, "saa", "tracks")
    assert track["id"] == "convoy-1" and track["geometry"] == {"type": "Point", "coordinates": [40.1, 35.1]}
    assert (track["properties"]["alt_m"], track["properties"]["speed_mps"]) == (500, 10)
    assert items(api, "saa", "tracks", datetime="2017-01-01T00:00:00Z") == []
    assert items(api, "sdf", "tracks") == [] and items(api, "russia", "tracks") == []
    assert api.call("sdf", "GET", "/ogc/collections/tracks/items/convoy-1").status_code == 404
    extent = ok(api, "saa", "/ogc/collections/tracks")["extent"]
    assert extent["spatial"]["bbox"] == [[40.1, 35.1, 40.1, 35.1]]


def test_bbox_selects_by_the_geometry_itself(api: Api) -> None:
    """Part 1: the features whose geometry intersects the box — not its envelope, not the shape grown by its
    separation as GET /v1/declarations reads a bbox; across ±180° the short way round; six numbers: heights."""
    three(api)
    api.declare("sdf", feature(square(40.0, 35.0), name="grown", separation_m=5000))  # lon 39.99..40.01
    ell = [[[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2], [0, 0]]]
    api.declare("sdf", feature({"type": "Polygon", "coordinates": ell}, name="ell"))
    across = [[[179.9, 10.0], [-179.9, 10.0], [-179.9, 10.1], [179.9, 10.1], [179.9, 10.0]]]
    api.declare("sdf", feature({"type": "Polygon", "coordinates": across}, name="across"))
    api.declare("sdf", feature(square(60.0, 35.0), name="high", altitude={"lower_m": 3000, "upper_m": 5000}))
    beside = "40.02,34.9,40.1,35.1"  # a kilometre east of the square: within its separation, off its geometry
    r = api.call("sdf", "GET", "/v1/declarations", params={"bbox": beside})
    assert [f["properties"]["name"] for f in r.json()["features"]] == ["grown"]
    assert names(items(api, "sdf", "declarations", bbox=beside)) == set()
    assert names(items(api, "sdf", "declarations", bbox="40.005,34.9,40.1,35.1")) == {"grown"}
    assert names(items(api, "sdf", "declarations", bbox="1.5,1.5,1.9,1.9")) == set()  # in the ell's envelope only
    assert names(items(api, "sdf", "declarations", bbox="1.5,0.5,1.9,0.9")) == {"ell"}
    assert names(items(api, "sdf", "declarations", bbox="179.95,9,180,11")) == {"across"}
    assert names(items(api, "sdf", "declarations", bbox="-180,9,-179.95,11")) == {"across"}
    assert names(items(api, "sdf", "declarations", bbox="170,9,-170,11")) == {"across"}
    assert names(items(api, "sdf", "declarations", bbox="-170,9,170,11")) == set()  # not the long way round
    assert names(items(api, "sdf", "declarations", bbox="59,34,0,61,36,2999")) == set()
    assert names(items(api, "sdf", "declarations", bbox="59,34,5000,61,36,6000")) == {"high"}
    assert names(items(api, "sdf", "declarations", bbox="-1,-1,0,61,36,100")) == {"grown", "ell"}
    for bad in ("59,34,5000,61,36,10", "59,34,x,61,36,10", "1,2,3,4,5"):
        r = api.call("sdf", "GET", "/ogc/collections/declarations/items", params={"bbox": bad})
        assert r.status_code == 400 and r.json()["field"] == "bbox", (bad, r.text)


def test_number_matched_counts_only_what_the_caller_may_see(api: Api) -> None:
    three(api)
    for i in range(5):
        api.declare("sdf", feature(square(10.0 + i, 10.0), name=f"a{i}", audience=["saa"] if i < 2 else "conflicts"))
    api.declare("saa", feature(square(20.0, 10.0), name="saa's"))

    def page(who: str, **params: Any) -> dict[str, Any]:
        return ok(api, who, "/ogc/collections/declarations/items", **params)

    assert page("sdf")["numberMatched"] == 5 == page("sdf")["numberReturned"]
    assert page("saa")["numberMatched"] == 3  # sdf's two shared, its own: not sdf's three others
    assert page("russia")["numberMatched"] == 0
    assert page("sdf", bbox="9,9,11.5,11")["numberMatched"] == 2
    first = page("sdf", limit=2)  # more follows: counting would mean reading it all, so it is left out
    assert "numberMatched" not in first and first["numberReturned"] == 2
    following = [link["href"] for link in first["links"] if link["rel"] == "next"]
    later = api.call("sdf", "GET", following[0].removeprefix("http://testserver")).json()
    assert "numberMatched" not in later and later["numberReturned"] == 2  # nor do the pages after the first
    assert ok(api, "saa", "/ogc/collections/conflicts/items")["numberMatched"] == 0


def test_items_filter_on_their_properties(api: Api) -> None:
    """/rec/core/fc-filters: `?name=…` and the like; what a party may see is filtered, never widened."""
    three(api)
    api.declare("sdf", feature(square(10.0, 10.0), name="post", audience=["saa"]))
    api.declare("sdf", feature(square(11.0, 10.0), name="post", kind="site"))
    api.declare("saa", feature(square(12.0, 10.0), name="post", audience="all"))
    assert len(items(api, "sdf", "declarations", name="post")) == 3
    assert names(items(api, "sdf", "declarations", name="nothing")) == set()
    assert [f["properties"]["party"] for f in items(api, "sdf", "declarations", party="saa")] == ["saa"]
    assert [f["properties"]["kind"] for f in items(api, "saa", "declarations", party="sdf")] == ["area"]
    assert [f["properties"]["kind"] for f in items(api, "sdf", "declarations", kind="site")] == ["site"]
    assert items(api, "russia", "declarations", party="sdf") == []
    river = {"type": "LineString", "coordinates": [[40.0, 35.0], [40.5, 35.5]]}
    assert (
        api.call("sdf", "POST", "/v1/lines", json={"with": "saa", "geometry": river, "left": "sdf"}).status_code == 201
    )
    assert len(items(api, "saa", "lines", proposer="sdf")) == 1 and items(api, "saa", "lines", proposer="saa") == []
    for collection, params in (
        ("declarations", {"proposer": "sdf"}),
        ("lines", {"name": "x"}),
        ("tracks", {"party": "x"}),
    ):
        r = api.call("sdf", "GET", f"/ogc/collections/{collection}/items", params=params)
        assert r.status_code == 400 and r.json()["field"] == next(iter(params)), (collection, r.text)


def test_a_page_the_filters_emptied_still_holds_the_next_match(api: Api) -> None:
    """GDAL stops at an empty page: so a page holds `limit` matches, or every one left."""
    three(api)
    for i in range(5):
        api.declare("sdf", feature(square(10.0 + i, 10.0), name=f"noise{i}"))
    api.declare("sdf", feature(square(20.0, 10.0), name="wanted"))
    first = ok(api, "sdf", "/ogc/collections/declarations/items", name="wanted", limit=2)
    assert names(first["features"]) == {"wanted"} and first["numberMatched"] == 1
    assert "next" not in [link["rel"] for link in first["links"]]
    for i in range(3):  # the store finds these by their separation; their geometry lies off the box
        api.declare("sdf", feature(square(30.0, 10.0 + i * 0.001), name=f"near{i}", separation_m=5000))
    api.declare("sdf", feature(square(30.05, 10.0), name="hit"))
    page = ok(api, "sdf", "/ogc/collections/declarations/items", bbox="30.03,9.9,30.1,10.1", limit=2)
    assert names(page["features"]) == {"hit"} and page["numberMatched"] == 1
