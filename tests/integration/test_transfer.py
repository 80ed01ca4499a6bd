"""Import and export over the API, in process: all rows or none (declarations, conflicts, events and the record
alike, on SQLite and PostgreSQL), dry runs, uploads as a browser sends them, and exports that show only what the
caller may see — recorded as read."""

from __future__ import annotations

import itertools
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deconfliction.adapters import formats
from deconfliction.api.app import create_app
from deconfliction.bootstrap import Wired, wire
from deconfliction.domain.errors import InvalidInput
from deconfliction.services import transfer
from deconfliction.services.declarations import declare_job
from deconfliction.storage.base import DeclarationQuery
from tests.conftest import BOTH_BACKENDS, Api, feature, make_settings, square

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
START = "2017-09-09T05:00:00Z"
PARTIES = ("sdf", "saa", "coalition", "russia")


def setup(api: Api) -> None:
    for party in PARTIES:
        api.add_party(party)
    # saa's area over the whole city: every site imported below conflicts with it
    api.declare("saa", feature(square(40.14, 35.34, 0.2), name="city", separation_m=5000))


def ten_sites(bad_row: int | None = None) -> bytes:
    lines = ["name,lat,lon,radius_m,audience,start"]
    for i in range(1, 11):
        audience = "nobody;coalition" if i == bad_row else "coalition"
        lines.append(f"site {i},{35.30 + i / 100},{40.10 + i / 100},100,{audience},{START}")
    return ("\n".join(lines) + "\n").encode()


def snapshot(wired: Wired) -> dict[str, Any]:
    """Everything an import writes: declarations (any status), events per party, the record's head, the picture."""
    with wired.ctx.store.read() as tx:
        declared = {p: len(tx.list_declarations(DeclarationQuery(viewer=p, status=None, party=p))) for p in PARTIES}
        events = {p: tx.last_event_id(p) for p in PARTIES}
        head = tx.ledger_head()
    return {"declared": declared, "events": events, "head": head, "picture": len(wired.ctx.picture.declarations)}


def post_csv(api: Api, who: str, data: bytes, query: str = "") -> Any:
    return api.call(who, "POST", f"/v1/imports{query}", content=data, headers={"Content-Type": "text/csv"})


@BOTH_BACKENDS
def test_a_bad_row_7_of_10_writes_nothing_at_all(api: Api, wired: Wired) -> None:
    setup(api)
    before = snapshot(wired)
    r = post_csv(api, "sdf", ten_sites(bad_row=7))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["errors"] == [
        {
            "field": "rows[6].properties.audience",
            "message": "line 8: properties.audience names 'nobody', which is not a party of the channel",
            "row": "line 8",
        }
    ]
    assert problem["field"] == "rows[6].properties.audience" and "nothing was imported" in problem["detail"]
    assert snapshot(wired) == before
    # the same file, corrected, goes in whole — and each site conflicts with saa's city, told to both
    r = post_csv(api, "sdf", ten_sites())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["imported"] == 10 and [d["row"] for d in body["declarations"]] == [f"line {i}" for i in range(2, 12)]
    assert all(len(d["conflicts"]) == 1 and d["conflicts"][0]["other_party"] == "saa" for d in body["declarations"])
    after = snapshot(wired)
    assert after["declared"]["sdf"] == 10 and after["picture"] == before["picture"] + 10
    assert after["events"]["saa"] > before["events"]["saa"]


@BOTH_BACKENDS
def test_a_job_of_many_declarations_failing_part_way_is_undone_whole(api: Api, wired: Wired) -> None:
    """Not the pre-check: rows 1–6 are written in the job's transaction, then row 7 fails; the writer undoes all."""
    setup(api)
    ctx = wired.ctx
    before = snapshot(wired)
    rows = formats.read(ten_sites(bad_row=7), "csv").rows
    jobs = [(i, declare_job(ctx, "sdf", row.feature)) for i, row in enumerate(rows)]
    with pytest.raises(InvalidInput, match=r"line 8: properties\.audience names 'nobody'") as failed:
        ctx.write(transfer.all_or_nothing(rows, jobs))
    assert failed.value.errors == [
        {"field": "rows[6].properties.audience", "message": failed.value.errors[0]["message"], "row": "line 8"}
    ]
    assert snapshot(wired) == before

    # The same, sharing a group (and so a transaction, each job in a savepoint) with a good job that commits.
    release = threading.Event()
    blocker = ctx.writer.submit(lambda out: release.wait(10))
    composite = ctx.writer.submit(transfer.all_or_nothing(rows, jobs))
    good = ctx.writer.submit(declare_job(ctx, "russia", feature(square(30.0, 30.0), name="elsewhere")))
    release.set()
    blocker.result(10)
    with pytest.raises(InvalidInput, match="nothing was imported"):
        composite.result(10)
    assert good.result(10).declaration.party == "russia"
    after = snapshot(wired)
    assert after["declared"] == {**before["declared"], "russia": 1}
    assert after["picture"] == before["picture"] + 1
    assert after["events"]["saa"] == before["events"]["saa"]  # no conflict of sdf's rows was told to saa

    # The record has no gap and no stray entry: it goes on from where it was.
    head_seq = before["head"][0]
    entries = api.call("russia", "GET", f"/v1/ledger?after={head_seq - 1}").json()
    assert entries[0]["seq"] == head_seq and entries[0]["hash"] == before["head"][1]
    for prev, entry in itertools.pairwise(entries):
        assert entry["seq"] == prev["seq"] + 1 and entry["prev"] == prev["hash"]
    assert all("sdf" not in (e.get("actor"), *e.get("subject", [])) for e in entries[1:])


def test_every_bad_row_is_listed_with_its_field(api: Api, wired: Wired) -> None:
    setup(api)
    text = (
        "name,lat,lon,start,end,radius_m\n"
        f"ok,35.3,40.1,{START},,\n"
        f"late,35.3,40.1,{START},2017-09-01T00:00:00Z,\n"
        "no start,35.3,40.1,,,\n"
        f"far north,135.3,40.1,{START},,\n"
        f"wide,35.3,40.1,{START},,-5\n"
    )
    before = snapshot(wired)
    r = post_csv(api, "sdf", text.encode())
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == [
        "rows[1].properties.end",
        "rows[2].properties.start",
        "rows[3].geometry.coordinates",
        "rows[4].properties.radius_m",
    ]
    assert [e["row"] for e in r.json()["errors"]] == ["line 3", "line 4", "line 5", "line 6"]
    assert r.json()["detail"].startswith("4 of 5 rows are invalid; nothing was imported")
    assert snapshot(wired) == before


def test_dry_run_reports_and_writes_nothing(api: Api, wired: Wired) -> None:
    setup(api)
    before = snapshot(wired)
    r = post_csv(api, "sdf", ten_sites(bad_row=3), "?dry_run=true")
    assert r.status_code == 200
    body = r.json()
    assert body["valid"] == 9 and body["format"] == "csv" and len(body["rows"]) == 9
    assert body["rows"][0]["row"] == "line 2" and body["rows"][0]["feature"]["geometry"]["type"] == "Point"
    assert [e["field"] for e in body["errors"]] == ["rows[2].properties.audience"]
    assert snapshot(wired) == before


def test_a_google_earth_file_dropped_in_a_browser(api: Api, wired: Wired) -> None:
    setup(api)
    kml = (DATA / "deir_ez_zor_google_earth.kml").read_bytes()
    files = {"file": ("Deir ez-Zor sites.kml", kml, "application/octet-stream")}  # the name tells the format
    r = api.call("sdf", "POST", "/v1/imports?audience=coalition", files=files)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["format"] == "kml" and body["imported"] == 4
    kinds = {d["name"]: d["kind"] for d in body["declarations"]}
    assert kinds == {
        "Al-Assad hospital": "site",
        "Al-Busayrah health post": "site",
        "WFP warehouse compound": "area",
        "Convoy Deir ez-Zor to Al-Mayadin": "route",
    }
    mine = api.call("sdf", "GET", "/v1/declarations").json()["features"]
    audiences = {f["properties"]["name"]: f["properties"]["audience"] for f in mine}
    assert audiences["Al-Assad hospital"] == "all"  # its own ExtendedData wins over the default
    assert audiences["WFP warehouse compound"] == ["coalition"]
    assert audiences["Al-Busayrah health post"] == ["coalition", "russia"]


@pytest.mark.parametrize(
    ("name", "media"),
    [
        ("convoy.gpx", "application/gpx+xml"),
        ("sites_semicolon.csv", "text/csv"),
        ("sites.geojson", "application/geo+json"),
    ],
)
def test_each_format_by_its_content_type(api: Api, name: str, media: str) -> None:
    setup(api)
    data = (DATA / name).read_bytes()
    r = api.call("sdf", "POST", f"/v1/imports?start={START}", content=data, headers={"Content-Type": media})
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == len(formats.read(data, formats.detect(data, content_type=media) or "").rows)


def test_files_that_cannot_be_read_are_refused_clearly(api: Api) -> None:
    setup(api)
    cases = [
        (b"<kml><Placemark>", "application/vnd.google-earth.kml+xml", "file"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><gpx>&e;</gpx>', "application/gpx+xml", "file"),
        (b"", "text/csv", "file"),
        (b"hello there", "application/octet-stream", "format"),
        (b"name,lat,lon\n", "text/csv", "file"),
    ]
    for data, media, field in cases:
        r = api.call("sdf", "POST", "/v1/imports", content=data, headers={"Content-Type": media})
        assert r.status_code == 422, (data, r.text)
        assert r.json()["field"] == field and r.headers["content-type"] == "application/problem+json"
    assert api.call("sdf", "POST", "/v1/imports?format=shp", content=b"x").status_code == 422
    r = api.call("sdf", "POST", "/v1/imports", files={"other": ("a.csv", b"lat,lon\n1,2\n", "text/csv")})
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert api.call("admin", "POST", "/v1/imports", content=ten_sites()).status_code == 403


def test_too_many_rows_are_refused_whole(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, import_rows_max=5)
    wired = wire(settings)
    try:
        with TestClient(create_app(settings, wired.ctx, wired.hub, wired.background)) as client:
            api = Api(client)
            setup(api)
            r = post_csv(api, "sdf", ten_sites())
            assert r.status_code == 422 and r.json()["field"] == "file"
            assert "at most 5" in r.json()["detail"] and "import_rows_max" in r.json()["detail"]
            assert api.call("sdf", "GET", "/v1/declarations").json()["features"] == []
    finally:
        wired.ctx.close()


def test_an_import_may_be_larger_than_other_requests_up_to_its_own_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_body_bytes=4_096, import_max_bytes=65_536)
    wired = wire(settings)
    try:
        with TestClient(create_app(settings, wired.ctx, wired.hub, wired.background)) as client:
            api = Api(client)
            setup(api)
            padded = ten_sites() + b"\n" * 8_000  # blank lines: 8 kB, twice max_body_bytes
            r = post_csv(api, "sdf", padded)
            assert r.status_code == 201, r.text
            assert r.json()["imported"] == 10
            r = post_csv(api, "sdf", ten_sites() + b"\n" * 70_000)  # past import_max_bytes
            assert r.status_code == 413 and "65536 bytes" in r.json()["detail"]
            big = feature(square(40.5, 35.5, 0.01), name="x" * 5_000)  # other requests keep max_body_bytes
            assert api.call("sdf", "POST", "/v1/declarations", json=big).status_code == 413
    finally:
        wired.ctx.close()


def _export(api: Api, who: str, fmt: str, query: str = "") -> Any:
    r = api.call(who, "GET", f"/v1/export?format={fmt}{query}")
    assert r.status_code == 200, r.text
    return r


def test_export_shows_only_what_the_caller_may_see_and_records_it(api: Api) -> None:
    setup(api)
    shared_all = api.declare("sdf", feature(square(41.0, 36.0), name="to all", audience="all"))["id"]
    to_coalition = api.declare("sdf", feature(square(41.1, 36.0), name="to coalition", audience=["coalition"]))["id"]
    api.declare("sdf", feature(square(41.2, 36.0), name="conflicts only", audience="conflicts"))
    for fmt in formats.FORMATS:
        seen = {
            r.feature["properties"]["name"]
            for r in formats.read(_export(api, "coalition", fmt).content, fmt).rows
            if r.feature
        }
        assert seen == {"to all", "to coalition"}, fmt
        text = _export(api, "saa", fmt).content.decode("utf-8-sig")
        assert "to all" in text and "city" in text and "to coalition" not in text and "conflicts only" not in text
    own = formats.read(_export(api, "sdf", "geojson").content, "geojson").rows
    assert {r.feature["properties"]["name"] for r in own if r.feature} == {"to all", "to coalition", "conflicts only"}
    views = api.call("sdf", "GET", f"/v1/declarations/{to_coalition}/views").json()
    assert {(v["party"], v["via"]) for v in views} == {("coalition", "export")}
    assert ("saa", "export") in {
        (v["party"], v["via"]) for v in api.call("sdf", "GET", f"/v1/declarations/{shared_all}/views").json()
    }


def test_export_headers_status_and_bbox(api: Api) -> None:
    setup(api)
    gone = api.declare("sdf", feature(square(41.0, 36.0), name="gone"))["id"]
    api.declare("sdf", feature(square(45.0, 36.0), name="far east"))
    api.call("sdf", "DELETE", f"/v1/declarations/{gone}")
    media = {"geojson": "application/geo+json", "kml": "application/vnd.google-earth.kml+xml",
             "gpx": "application/gpx+xml", "csv": "text/csv; charset=utf-8"}  # fmt: skip
    for fmt, content_type in media.items():
        r = _export(api, "sdf", fmt)
        assert r.headers["content-type"] == content_type
        disposition = r.headers["content-disposition"]
        assert re.fullmatch(rf'attachment; filename="deconf-sdf-\d{{8}}T\d{{6}}Z\.{fmt}"', disposition), disposition
    names = lambda r: {f["properties"]["name"] for f in r.json()["features"]}  # noqa: E731
    assert names(_export(api, "sdf", "geojson")) == {"far east"}
    assert names(_export(api, "sdf", "geojson", "&status=all")) == {"far east", "gone"}
    assert names(_export(api, "sdf", "geojson", "&bbox=44,35,46,37")) == {"far east"}
    assert _export(api, "sdf", "geojson").headers["x-deconf-count"] == "1"
    assert api.call("sdf", "GET", "/v1/export?format=shp").status_code == 422
    assert api.call("admin", "GET", "/v1/export").status_code == 403


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_an_export_imported_again_gives_the_same_declarations(api: Api, fmt: str) -> None:
    setup(api)
    api.declare("sdf", feature(square(41.0, 36.0), name="area", audience=["coalition"], separation_m=1500,
                               altitude={"lower_m": 0, "upper_m": 2000}))  # fmt: skip
    api.declare("sdf", feature({"type": "Point", "coordinates": [40.123456789, 35.5]}, kind="site", name="site",
                               radius_m=250, audience="all"))  # fmt: skip
    route = {"type": "LineString", "coordinates": [[40.1, 35.1], [40.2, 35.2], [40.3, 35.25]]}
    api.declare("sdf", feature(route, kind="route", name="route", radius_m=100,
                               times=[START, "2017-09-09T06:00:00Z", "2017-09-09T08:00:00Z"]))  # fmt: skip
    exported = _export(api, "sdf", fmt).content
    r = api.call("coalition", "POST", "/v1/imports", files={"file": (f"x.{fmt}", exported, "application/octet-stream")})
    assert r.status_code == 201, r.text
    keep = ("kind", "start", "end", "altitude", "radius_m", "separation_m", "audience", "times")

    def picture(who: str) -> dict[str, Any]:
        features = api.call(who, "GET", f"/v1/declarations?party={who}").json()["features"]
        return {f["properties"]["name"]: (f["geometry"], {k: f["properties"].get(k) for k in keep}) for f in features}

    assert picture("coalition") == picture("sdf")
