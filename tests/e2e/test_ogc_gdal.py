"""The picture as GDAL (and so QGIS) opens it: the real `ogrinfo` and `ogr2ogr` against a real `deconf serve`, over
OGC API – Features with the party's Bearer token in GDAL_HTTP_HEADERS.

GDAL finds the API definition from the landing page (`service-desc`), reads it as OpenAPI 3.0 and acts on it: a
`-where` on a property the definition lists for the collection goes to the server as a query parameter.

sdf declares eleven areas shared with saa (more than GDAL's page of ten, so GDAL follows `next` links) and one
hidden area; saa declares an area that conflicts with the hidden one and proposes a line; sdf reports a track.
GDAL lists the four layers, reads the features with their attributes and geometry, and copies them to a
GeoPackage and a GeoJSON file read back. saa's GDAL sees only its share: its conflict as a point on its own shape,
nothing of sdf's hidden area; russia's sees nothing at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV30SpecValidator

from deconfliction.domain.timewindow import format_time, utcnow
from tests.conftest import square
from tests.e2e.channel import Channel, area
from tests.e2e.conftest import Server, start_server

pytestmark = pytest.mark.slow

HIDDEN_RING = [[40.123457, 35.345679], [40.234568, 35.345679], [40.234568, 35.456791], [40.123457, 35.456791],
               [40.123457, 35.345679]]  # fmt: skip
SECRETS = ("Jazeera", "40.123457", "35.345679", "40.234568", "35.456791", "40.12345", "35.45679")
SHARED = 11
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"


def gdal_tool(name: str) -> str:
    """The path of a GDAL command-line tool; missing is a failure, never a skip: this test must run."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: run `make test`, which installs GDAL's command-line tools (gdal-bin)",
            pytrace=False,
        )
    return path


def gdal(tool: str, *args: str, token: str, cwd: Path) -> str:
    """Run a GDAL tool as the party holding `token`; returns its standard output (it must succeed)."""
    return gdal_run(tool, *args, token=token, cwd=cwd).stdout


def gdal_run(tool: str, *args: str, token: str, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a GDAL tool as the party holding `token` (it must succeed); with `debug`, its standard error logs each
    HTTP request it makes (`HTTP: Fetch(<url>)`)."""
    env = {
        **os.environ,
        "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}",
        "GDAL_HTTP_TIMEOUT": "20",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "CPL_DEBUG": "ON" if debug else "OFF",
    }
    proc = subprocess.run(
        [gdal_tool(tool), *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )
    assert proc.returncode == 0, f"{tool} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def seed(ch: Channel) -> dict[str, Any]:
    for party in ("sdf", "saa", "russia"):
        ch.party(party)
    shared = [
        ch.declare("sdf", area(41.0 + i * 0.1, 36.0, audience=["saa"], name=f"post-{i}", altitude=_band(i)))["id"]
        for i in range(SHARED)
    ]
    hidden = {"type": "Polygon", "coordinates": [HIDDEN_RING]}
    body = area(0, 0, name="Jazeera-Storm", separation_m=5000)
    ch.declare("sdf", {**body, "geometry": hidden})
    saa = ch.declare("saa", area(40.10, 35.32, name="saa-city"))
    assert len(saa["conflicts"]) == 1, saa
    line = {"type": "LineString", "coordinates": [[40.0, 35.0], [40.5, 35.5]]}
    ch.ok("saa", "POST", "/v1/lines", 201, json={"with": "sdf", "geometry": line, "left": "saa"})
    fix = {"t": format_time(utcnow()), "lon": 42.5, "lat": 36.5, "speed_mps": 12, "course_deg": 45}
    ch.ok("sdf", "POST", "/v1/tracks/convoy-7/positions", 202, json=[fix])
    return {"shared": shared, "saa": saa["id"]}


def _band(i: int) -> dict[str, float]:
    return {"lower_m": 0.0, "upper_m": 1000.0 + i}


Seeded = tuple[Server, dict[str, Any], dict[str, str]]  # the server, the seeded ids, every party's token


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One server for the module, seeded once: GDAL only reads (its reads are recorded, which no test counts)."""
    server = start_server(tmp_path_factory.mktemp("ogc_gdal"))
    ch = Channel(server)
    try:
        yield server, seed(ch), dict(ch.tokens)
    finally:
        ch.close()
        server.stop()


def test_gdal_lists_the_layers_reads_and_copies_the_features(seeded_server: Seeded, tmp_path: Path) -> None:
    server, seeded, tokens = seeded_server
    url = f"OAPIF:{server.url}/ogc"
    listing = gdal("ogrinfo", "-ro", url, token=tokens["sdf"], cwd=tmp_path)
    for layer in ("1: declarations (title: Declarations)", "2: conflicts", "3: lines", "4: tracks"):
        assert layer in listing, listing
    summary = gdal("ogrinfo", "-ro", "-so", url, "declarations", token=tokens["sdf"], cwd=tmp_path)
    assert f"Feature Count: {SHARED + 1}" in summary, summary  # past GDAL's page of ten: `next` links followed
    for column in ("name: String", "party: String", "start: DateTime", "upper_m: Real", "version: Integer"):
        assert column in summary, summary

    out = tmp_path / "declarations.geojson"
    gdal("ogr2ogr", "-f", "GeoJSON", str(out), url, "declarations", token=tokens["sdf"], cwd=tmp_path)
    copied = json.loads(out.read_text(encoding="utf-8"))["features"]
    by_name = {f["properties"]["name"]: f for f in copied}
    assert set(by_name) == {f"post-{i}" for i in range(SHARED)} | {"Jazeera-Storm"}
    post = by_name["post-3"]
    assert post["properties"]["party"] == "sdf" and post["properties"]["kind"] == "area"
    assert post["properties"]["upper_m"] == 1003.0 and post["properties"]["audience"] == "saa"
    assert post["properties"]["id"] == seeded["shared"][3]
    assert post["geometry"]["type"] == "Polygon"
    ring = post["geometry"]["coordinates"][0]
    expected = square(41.3, 36.0)["coordinates"][0]
    assert all(abs(a - b) < 1e-9 for p, q in zip(ring, expected, strict=True) for a, b in zip(p, q, strict=True))

    gpkg = tmp_path / "picture.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(gpkg), url, token=tokens["sdf"], cwd=tmp_path)
    for layer, count in (("declarations", SHARED + 1), ("conflicts", 1), ("lines", 1), ("tracks", 1)):
        back = gdal("ogrinfo", "-ro", "-so", str(gpkg), layer, token=tokens["sdf"], cwd=tmp_path)
        assert f"Feature Count: {count}" in back, back
    track = gdal("ogrinfo", "-ro", "-q", str(gpkg), "tracks", token=tokens["sdf"], cwd=tmp_path)
    assert "POINT (42.5 36.5)" in track and "speed_mps (Real) = 12" in track, track

    spatial = gdal("ogrinfo", "-ro", "-q", "-spat", "41.15", "35.9", "41.45", "36.1", url, "declarations",
                   token=tokens["sdf"], cwd=tmp_path)  # fmt: skip
    assert {line.split("= ")[1] for line in spatial.splitlines() if "name (String)" in line} == {
        "post-2",
        "post-3",
        "post-4",
    }, spatial


def test_another_partys_gdal_sees_only_its_share(seeded_server: Seeded, tmp_path: Path) -> None:
    server, seeded, tokens = seeded_server
    url = f"OAPIF:{server.url}/ogc"
    everything = gdal("ogrinfo", "-ro", "-al", url, token=tokens["saa"], cwd=tmp_path)
    for secret in SECRETS:
        assert secret not in everything, secret
    declarations = gdal("ogrinfo", "-ro", "-so", url, "declarations", token=tokens["saa"], cwd=tmp_path)
    assert f"Feature Count: {SHARED + 1}" in declarations, declarations  # sdf's shared eleven and its own

    conflicts = gdal("ogrinfo", "-ro", "-q", url, "conflicts", token=tokens["saa"], cwd=tmp_path)
    assert "other_party (String) = sdf" in conflicts and f"declaration (String) = {seeded['saa']}" in conflicts
    assert "other_declaration (String) = (null)" in conflicts, conflicts
    point = conflicts.split("POINT (")[1].split(")")[0]
    lon, lat = (float(v) for v in point.split())
    assert 40.09 <= lon <= 40.11 and 35.31 <= lat <= 35.33, point  # on saa's own square
    assert "Feature Count: 0" in gdal("ogrinfo", "-ro", "-so", url, "tracks", token=tokens["saa"], cwd=tmp_path)

    nothing = gdal("ogrinfo", "-ro", "-al", url, token=tokens["russia"], cwd=tmp_path)
    assert "OGRFeature" not in nothing, nothing
    for secret in (*SECRETS, "post-", "saa-city"):
        assert secret not in nothing, secret


def test_gdal_finds_reads_and_acts_on_the_definition(seeded_server: Seeded, tmp_path: Path) -> None:
    server, _, tokens = seeded_server
    with server.client(tokens["sdf"]) as http:
        links = {link["rel"]: link for link in http.get("/ogc").json()["links"]}
        definition = http.get(links["service-desc"]["href"])
    assert links["service-desc"]["type"] == OPENAPI_30 and definition.headers["content-type"] == OPENAPI_30
    doc = definition.json()
    validate(doc, cls=OpenAPIV30SpecValidator)
    assert doc["servers"][0]["url"] == f"{server.url}/ogc"  # absolute, from the request: this server's address

    url = f"OAPIF:{server.url}/ogc"
    # `name` is listed among the declarations' parameters: GDAL reads the definition and asks the server to filter
    pushed = gdal_run("ogrinfo", "-ro", "-q", "-where", "name = 'post-3'", url, "declarations",
                      token=tokens["sdf"], cwd=tmp_path, debug=True)  # fmt: skip
    fetched = [line for line in pushed.stderr.splitlines() if line.startswith("HTTP: Fetch(")]
    assert f"HTTP: Fetch({server.url}/ogc/api)" in fetched, pushed.stderr
    assert any("/ogc/collections/declarations/items?" in f and "name=post-3" in f for f in fetched), fetched
    assert _names(pushed.stdout) == ["post-3"], pushed.stdout
    # `audience` is not: GDAL filters on its side, every page read whole
    kept = gdal_run("ogrinfo", "-ro", "-q", "-where", "audience = 'saa'", url, "declarations",
                    token=tokens["sdf"], cwd=tmp_path, debug=True)  # fmt: skip
    assert "Full filter will be evaluated on client side" in kept.stderr, kept.stderr
    assert not any("audience=" in line for line in kept.stderr.splitlines() if line.startswith("HTTP: Fetch("))
    assert sorted(_names(kept.stdout)) == sorted(f"post-{i}" for i in range(SHARED))


def test_head_over_real_http_is_get_without_a_body(seeded_server: Seeded) -> None:
    server, _, tokens = seeded_server
    with server.client(tokens["saa"]) as http:
        for path in ("/ogc", "/ogc/api", "/ogc/conformance", "/ogc/collections", "/ogc/collections/lines/items"):
            got, head = http.get(path), http.head(path)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-length"] == str(len(got.content)), path
            assert head.headers["content-type"] == got.headers["content-type"], path
    assert httpx.head(f"{server.url}/ogc/collections").status_code == 401


def _names(ogrinfo_output: str) -> list[str]:
    return [line.split("= ", 1)[1] for line in ogrinfo_output.splitlines() if "name (String) =" in line]
