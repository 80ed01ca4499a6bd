"""`deconf import` and `deconf export` against a real `deconf serve`: a Google Earth file in, a bad spreadsheet
refused whole with every row's error, and the picture out again as KML for Google Earth."""

from __future__ import annotations

from pathlib import Path

import pytest

from deconfliction.adapters import formats
from tests.e2e.conftest import E2E_ADMIN, Server, clean_env, run_cli

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
START = "2017-09-09T05:00:00Z"


def _party(server: Server, party: str) -> str:
    result = run_cli("party", "add", party, party.upper(), "--quiet", "--url", server.url, "--token", E2E_ADMIN)
    assert result.code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_import_and_export_with_the_cli(server: Server, tmp_path: Path) -> None:
    sdf, coalition = _party(server, "sdf"), _party(server, "coalition")
    _party(server, "russia")  # named in the audience of one of the file's placemarks
    env = clean_env(DECONF_URL=server.url, DECONF_TOKEN=sdf)

    dry = run_cli("import", str(DATA / "deir_ez_zor_google_earth.kml"), "--dry-run", env=env)
    assert dry.code == 0, dry.output
    assert "Dry run: 4 valid (kml)" in dry.stdout and "Al-Assad hospital" in dry.stdout
    with server.client(sdf) as http:
        assert http.get("/v1/declarations").json()["features"] == []

    done = run_cli("import", str(DATA / "deir_ez_zor_google_earth.kml"), "--audience", "coalition", env=env)
    assert done.code == 0, done.output
    assert "Imported 4 (kml)" in done.stdout and "WFP warehouse compound" in done.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(f"name,lat,lon,start\nA,35.3,40.1,{START}\nB,north,40.1,{START}\nC,35.3,40.1,soon\n")
    refused = run_cli("import", str(bad), env=env)
    assert refused.code == 1
    assert "2 of 3 rows are invalid" in refused.stderr and "rows[1].lat" in refused.stderr
    assert "rows[2].properties.start" in refused.stderr and "line 4" in refused.stderr
    with server.client(sdf) as http:
        assert len(http.get("/v1/declarations").json()["features"]) == 4  # nothing of bad.csv

    out = tmp_path / "picture.kml"
    exported = run_cli(
        "export", "--format", "kml", "-o", str(out), env=clean_env(DECONF_URL=server.url, DECONF_TOKEN=coalition)
    )
    assert exported.code == 0, exported.output
    assert "wrote 4 declarations" in exported.stdout
    rows = formats.read(out.read_bytes(), "kml").rows
    assert {r.feature["properties"]["name"] for r in rows if r.feature} == {
        "Al-Assad hospital",
        "Al-Busayrah health post",
        "WFP warehouse compound",
        "Convoy Deir ez-Zor to Al-Mayadin",
    }

    named = run_cli("export", "--format", "csv", env=env, cwd=tmp_path)
    assert named.code == 0, named.output
    files = list(tmp_path.glob("deconf-sdf-*.csv"))
    assert len(files) == 1 and files[0].read_bytes().startswith(b"\xef\xbb\xbfid,name,kind")


def test_import_needs_a_token_and_a_server(tmp_path: Path) -> None:
    no_token = run_cli("import", str(DATA / "sites.geojson"), env=clean_env())
    assert no_token.code == 2 and "No token" in no_token.stderr
    nobody = run_cli("export", "--url", "http://127.0.0.1:9", "--token", "x", env=clean_env())
    assert nobody.code == 1 and "Cannot connect" in nobody.stderr
