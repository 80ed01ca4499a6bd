"""Readers and writers of GeoJSON, KML/KMZ, GPX and CSV: shapes, properties, aliases, per-row errors, round trips,
and XML that tries to expand entities or reach outside refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deconfliction.adapters import formats
from deconfliction.adapters.formats import Defaults, FormatError
from deconfliction.domain.declarations import DeclarationLimits, DeclarationSpec, parse_feature

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
START = "2017-09-09T05:00:00Z"


def spec_of(feature: dict[str, Any]) -> tuple[Any, ...]:
    """What a declaration is, comparable: the parsed spec's fields with the shape as GeoJSON."""
    s: DeclarationSpec = parse_feature(feature, DeclarationLimits())
    return (s.kind, s.name, s.shape.geojson(), s.window, s.altitude, s.radius_m, s.separation_m, s.audience, s.timing)


def by_name(result: formats.ReadResult) -> dict[str, dict[str, Any]]:
    assert all(not r.errors for r in result.rows), [r.errors for r in result.rows]
    return {r.feature["properties"]["name"]: r.feature for r in result.rows if r.feature is not None}


EXPORTED: list[dict[str, Any]] = [
    {
        "type": "Feature",
        "id": "3f0c",
        "geometry": {"type": "Point", "coordinates": [40.123456789012344, 35.3352]},
        "properties": {"kind": "site", "name": 'Hospital "Al-Assad", main', "party": "sdf", "version": 2,
                       "status": "active", "start": START, "end": None, "altitude": {"lower_m": 0.0, "upper_m": None},
                       "radius_m": 300.0, "separation_m": None, "audience": ["coalition", "russia"],
                       "created_at": START, "updated_at": START},
    },
    {
        "type": "Feature",
        "id": "77aa",
        "geometry": {"type": "Polygon", "coordinates": [
            [[40.1, 35.3], [40.2, 35.3], [40.2, 35.4], [40.1, 35.4], [40.1, 35.3]],
            [[40.12, 35.32], [40.12, 35.34], [40.14, 35.34], [40.14, 35.32], [40.12, 35.32]]]},
        "properties": {"kind": "area", "name": "Khabur valley — Área", "party": "sdf", "start": START,
                       "end": "2017-09-20T00:00:00Z", "altitude": {"lower_m": 0.0, "upper_m": 3000.0},
                       "radius_m": 0.0, "separation_m": 2000.0, "audience": "all"},
    },
    {
        "type": "Feature",
        "id": "91bc",
        "geometry": {"type": "LineString", "coordinates": [[40.14, 35.34], [40.43, 35.16], [40.45, 35.02]]},
        "properties": {"kind": "route", "name": "Convoy", "party": "saa", "start": START,
                       "end": "2017-09-10T00:00:00Z", "altitude": {"lower_m": 0.0, "upper_m": None},
                       "radius_m": 200.0, "separation_m": None, "audience": "conflicts",
                       "times": [START, "2017-09-09T06:00:00Z", "2017-09-09T07:30:00.250000Z"]},
    },
    {
        "type": "Feature",
        "id": "c3d4",
        "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[40.1, 35.0], [40.2, 35.0], [40.2, 35.1], [40.1, 35.0]]],
            [[[40.6, 35.0], [40.7, 35.0], [40.7, 35.1], [40.6, 35.0]]]]},
        "properties": {"kind": "area", "name": "Two fields", "party": "saa", "start": START, "end": None,
                       "altitude": {"lower_m": -10.5, "upper_m": None}, "radius_m": 50.0, "separation_m": None,
                       "audience": "conflicts"},
    },
    {
        "type": "Feature",
        "id": "e5f6",
        "geometry": {"type": "LineString", "coordinates": [[40.0, 35.0], [40.1, 35.1]]},
        "properties": {"kind": "route", "name": "Patrol at speed", "party": "saa", "start": START, "end": None,
                       "altitude": {"lower_m": 0.0, "upper_m": 500.0}, "radius_m": 100.0, "separation_m": 800.0,
                       "audience": "all", "speed_mps": 12.5},
    },
]  # fmt: skip


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_export_then_import_gives_the_same_declarations(fmt: str) -> None:
    data = formats.write(EXPORTED, fmt)
    assert formats.detect(data) == fmt  # sniffed from the bytes alone
    result = formats.read(data, fmt)
    assert [r.errors for r in result.rows] == [()] * len(EXPORTED)
    assert result.warnings == []
    for original, row in zip(EXPORTED, result.rows, strict=True):
        assert row.feature is not None
        assert row.feature["geometry"] == original["geometry"], row.label
        assert spec_of(row.feature) == spec_of(original), row.label
        assert not {"party", "id", "version", "status"} & row.feature["properties"].keys()


def test_the_google_earth_kml_with_folders_styles_and_a_multigeometry() -> None:
    result = formats.read((DATA / "deir_ez_zor_google_earth.kml").read_bytes(), "kml")
    rows = {r.label: r for r in result.rows}
    assert list(rows) == [
        "Deir ez-Zor sites.kml/Humanitarian sites/Clinics/Al-Assad hospital",
        "Deir ez-Zor sites.kml/Humanitarian sites/Clinics/Al-Busayrah health post",
        "Deir ez-Zor sites.kml/Humanitarian sites/WFP warehouse compound",
        "Deir ez-Zor sites.kml/Movements/Convoy Deir ez-Zor to Al-Mayadin",
    ]
    found = by_name(result)
    hospital = found["Al-Assad hospital"]
    assert hospital["geometry"] == {"type": "Point", "coordinates": [40.1405, 35.3352]}
    assert hospital["properties"] == {"name": "Al-Assad hospital", "kind": "site", "radius_m": 300.0,
                                      "audience": "all", "start": "2017-09-05T00:00:00Z",
                                      "end": "2017-10-15T00:00:00Z"}  # fmt: skip
    post = found["Al-Busayrah health post"]["properties"]
    assert post["radius_m"] == 200.0 and post["audience"] == ["coalition", "russia"]  # aliases: Radius, Shared with
    assert "end" not in post and post["kind"] == "site"
    # The MultiGeometry's point is Google Earth's label anchor: the declaration is the polygon.
    warehouse = found["WFP warehouse compound"]
    assert warehouse["geometry"]["type"] == "Polygon" and warehouse["properties"]["kind"] == "area"
    assert warehouse["geometry"]["coordinates"][0][0] == [40.16, 35.32]
    assert warehouse["properties"]["altitude"] == {"lower_m": 0.0, "upper_m": 150.0}
    assert warehouse["properties"]["separation_m"] == 1500.0
    convoy = found["Convoy Deir ez-Zor to Al-Mayadin"]
    assert convoy["properties"]["kind"] == "route" and len(convoy["geometry"]["coordinates"]) == 3
    for feature in found.values():
        spec_of(feature)  # every row is a valid declaration as it stands


def test_a_kmz_is_read_and_a_zip_bomb_is_not() -> None:
    kml = (DATA / "deir_ez_zor_google_earth.kml").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("doc.kml", kml)
        kmz.writestr("files/icon.png", b"\x89PNG")
    data = buffer.getvalue()
    assert formats.detect(data, filename="sites.kmz") == "kml" and formats.sniff(data) == "kml"
    assert len(formats.read(data, "kml").rows) == 4
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("doc.kml", b"<kml>" + b" " * 30_000_000 + b"</kml>")
    with pytest.raises(FormatError, match="too large"):
        formats.read(bomb.getvalue(), "kml")


def test_kml_multigeometry_of_lines_and_points_becomes_several_rows() -> None:
    kml = b"""<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>Patrols</name>
      <TimeStamp><when>2017-09-10</when></TimeStamp>
      <MultiGeometry><LineString><coordinates>40.1,35.3 40.2,35.4</coordinates></LineString>
      <Point><coordinates>40.3,35.5</coordinates></Point></MultiGeometry></Placemark></kml>"""
    rows = formats.read(kml, "kml").rows
    assert [r.label for r in rows] == ["Patrols[0]", "Patrols[1]"]
    assert sorted(r.feature["geometry"]["type"] for r in rows if r.feature) == ["LineString", "Point"]
    assert all(r.feature and r.feature["properties"]["start"] == "2017-09-10T00:00:00Z" for r in rows)


def test_gpx_waypoints_tracks_with_times_and_a_closed_area() -> None:
    defaults = Defaults(start="2017-09-01T00:00:00Z", radius_m=250.0)
    result = formats.read((DATA / "convoy.gpx").read_bytes(), "gpx", defaults)
    assert [r.label for r in result.rows] == [
        "wpt[0] 'Al-Assad hospital'",
        "wpt[1] 'Al-Mayadin shelter'",
        "rte[0] 'Airport perimeter'",
        "trk[0]/trkseg[0] 'Convoy to Al-Mayadin'",
    ]
    found = by_name(result)
    assert found["Al-Assad hospital"]["properties"]["kind"] == "site"
    assert found["Al-Assad hospital"]["properties"]["radius_m"] == 250.0
    area = found["Airport perimeter"]
    assert area["geometry"]["type"] == "Polygon" and area["properties"]["kind"] == "area"
    ring = area["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] == [40.17, 35.27] and len(ring) == 5  # closed by the reader
    convoy = found["Convoy to Al-Mayadin"]["properties"]
    assert convoy["kind"] == "route"
    assert convoy["times"] == ["2017-09-12T04:00:00Z", "2017-09-12T07:00:00Z", "2017-09-12T09:30:00Z"]
    assert convoy["start"] == "2017-09-12T04:00:00Z" and convoy["end"] == "2017-09-12T09:30:00Z"  # before defaults
    for feature in found.values():
        spec_of(feature)


def test_gpx_track_without_every_time_is_untimed() -> None:
    gpx = b"""<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>T</name>
      <trkseg><trkpt lat="35.0" lon="40.0"><time>2017-09-12T04:00:00Z</time></trkpt>
      <trkpt lat="35.1" lon="40.1"/></trkseg>
      <trkseg><trkpt lat="35.2" lon="40.2"/><trkpt lat="35.3" lon="40.3"/></trkseg></trk></gpx>"""
    rows = formats.read(gpx, "gpx", Defaults(start=START)).rows
    assert [r.feature["properties"]["name"] for r in rows if r.feature] == ["T (1 of 2)", "T (2 of 2)"]
    assert all(r.feature and "times" not in r.feature["properties"] for r in rows)


def test_csv_with_semicolons_bom_decimal_commas_and_aliases() -> None:
    result = formats.read((DATA / "sites_semicolon.csv").read_bytes(), "csv", Defaults(start=START))
    assert [r.label for r in result.rows] == ["line 2", "line 3", "line 4"]
    assert result.warnings == ["columns ignored: Notes"]
    found = by_name(result)
    hospital = found["Al-Assad hospital"]
    assert hospital["geometry"] == {"type": "Point", "coordinates": [40.1405, 35.3352]}
    assert hospital["properties"]["end"] == "2017-10-15T00:00:00Z" and hospital["properties"]["audience"] == "all"
    assert found["Al-Busayrah health post"]["properties"]["audience"] == ["coalition"]
    assert "end" not in found["Al-Busayrah health post"]["properties"]
    shelter = found["Al-Mayadin school shelter"]["properties"]
    assert shelter["start"] == START and "radius_m" not in shelter  # the default fills what the row lacks


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("lat,lon", "35.3,40.1"),
        ("LATITUDE,LONGITUDE", "35.3,40.1"),
        ("Lng\tLat", "40.1\t35.3"),
        ("x;y", "40.1;35.3"),
        ("Long,Lat", "40.1,35.3"),
    ],
)
def test_csv_place_columns_by_any_common_name(header: str, row: str) -> None:
    rows = formats.read(f"{header}\n{row}\n".encode(), "csv", Defaults(start=START)).rows
    assert rows[0].feature is not None
    assert rows[0].feature["geometry"] == {"type": "Point", "coordinates": [40.1, 35.3]}


def test_csv_wkt_and_geojson_columns_give_other_shapes() -> None:
    text = (
        "name,wkt,geometry,start\n"
        'Road,"LINESTRING (40.1 35.3, 40.2 35.4)",,2017-09-09T05:00:00Z\n'
        'Field,,"{""type"": ""Polygon"", ""coordinates"": [[[40,35],[40.1,35],[40.1,35.1],[40,35]]]}",'
        "2017-09-09T05:00:00Z\n"
    )
    found = by_name(formats.read(text.encode(), "csv"))
    assert found["Road"]["geometry"] == {"type": "LineString", "coordinates": [[40.1, 35.3], [40.2, 35.4]]}
    assert found["Road"]["properties"]["kind"] == "route"
    assert found["Field"]["geometry"]["type"] == "Polygon" and found["Field"]["properties"]["kind"] == "area"


def test_csv_errors_name_each_row_and_field() -> None:
    text = "name,lat,lon,radius_m,audience\nA,35.3,40.1,100,all\nB,north,40.1,,\nC,35.3,40.1,wide,\nD,,40.1,,\n"
    rows = formats.read(text.encode(), "csv").rows
    assert [r.errors for r in rows] == [
        (),
        (("lat", "lat 'north' is not a number"),),
        (("properties.radius_m", "radius_m 'wide' is not a number"),),
        (("lat", "lat is empty (and there is no wkt or geometry)"),),
    ]


def test_csv_without_place_columns_is_refused_whole() -> None:
    with pytest.raises(FormatError, match="no place columns"):
        formats.read(b"name,where\nA,here\n", "csv")


def test_csv_in_windows_1252_is_read_with_a_warning() -> None:
    result = formats.read("name;lat;lon\nCaf\u00e9;35,3;40,1\n".encode("cp1252"), "csv", Defaults(start=START))
    assert by_name(result)["Caf\u00e9"]["geometry"]["coordinates"] == [40.1, 35.3]
    assert result.warnings == ["the file is not UTF-8: read as Windows-1252"]


def test_geojson_drops_foreign_properties_with_a_warning_and_keeps_an_explicit_null_end() -> None:
    result = formats.read(
        (DATA / "sites.geojson").read_bytes(), "geojson", Defaults(start=START, end="2017-12-01T00:00:00Z")
    )
    found = by_name(result)
    assert "fid" not in found["Al-Assad hospital"]["properties"]
    assert result.warnings == ["properties ignored (not a declaration's): fid"]
    assert found["Al-Assad hospital"]["properties"]["end"] == "2017-12-01T00:00:00Z"  # default fills the absent end
    assert found["WFP warehouse compound"]["properties"]["end"] is None  # explicit null: open-ended, kept
    assert found["WFP warehouse compound"]["properties"]["start"] == "2017-09-01T00:00:00Z"


def test_defaults_fill_only_what_rows_lack() -> None:
    defaults = Defaults(kind="site", start=START, radius_m=99.0, audience=["coalition"], lower_m=0.0, upper_m=100.0)
    text = "name,lat,lon,radius_m,kind\nA,35.3,40.1,5,area\nB,35.3,40.1,,\n"
    found = by_name(formats.read(text.encode(), "csv", defaults))
    assert found["A"]["properties"]["radius_m"] == 5.0 and found["A"]["properties"]["kind"] == "area"
    assert found["B"]["properties"]["radius_m"] == 99.0 and found["B"]["properties"]["kind"] == "site"
    assert found["B"]["properties"]["altitude"] == {"lower_m": 0.0, "upper_m": 100.0}
    assert found["B"]["properties"]["audience"] == ["coalition"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ROOT><Placemark><name>&lol3;</name><Point><coordinates>40,35</coordinates></Point></Placemark></ROOT>"""


@pytest.mark.parametrize("fmt", ["kml", "gpx"])
@pytest.mark.parametrize(
    "attack",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ROOT><name>&x;</name></ROOT>',
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><ROOT/>',
    ],
)
def test_entities_and_doctypes_are_refused(fmt: str, attack: bytes) -> None:
    with pytest.raises(FormatError, match="DOCTYPE"):
        formats.read(attack.replace(b"ROOT", fmt.encode()), fmt)


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("kml", b"<kml><Placemark>", "not well-formed"),
        ("kml", b"<gpx/>", "not <kml>"),
        ("kml", b"PK\x03\x04garbage", "not a valid zip"),
        ("gpx", b"<gpx><wpt lat='x' lon='y'/></gpx>", "cannot be read"),
        ("gpx", b"", "not well-formed"),
        ("geojson", b'{"type": "Feature"', "not valid JSON"),
        ("geojson", b'{"type": "Point"}', "FeatureCollection"),
        ("csv", b"", "empty"),
    ],
)
def test_malformed_files_give_a_clear_error(fmt: str, data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        formats.read(data, fmt)


def test_a_placemark_without_geometry_is_a_row_error_not_a_file_error() -> None:
    kml = b"""<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>D</name>
      <Placemark><name>Nowhere</name></Placemark>
      <Placemark><name>Here</name><Point><coordinates>40,35</coordinates></Point></Placemark></Document></kml>"""
    rows = formats.read(kml, "kml").rows
    assert rows[0].label == "D/Nowhere" and rows[0].errors[0][0] == "geometry"
    assert rows[1].feature is not None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"declared": "gpx"}, "gpx"),
        ({"content_type": "application/vnd.google-earth.kml+xml; charset=utf-8"}, "kml"),
        ({"content_type": "text/csv"}, "csv"),
        ({"content_type": "application/geo+json"}, "geojson"),
        ({"filename": "Sites.GPX"}, "gpx"),
        ({"content_type": "application/octet-stream", "filename": "x.kmz"}, "kml"),
    ],
)
def test_format_detection(kwargs: dict[str, str], expected: str) -> None:
    assert formats.detect(b"", **kwargs) == expected


def test_sniffing_the_first_bytes() -> None:
    assert formats.sniff(b'\xef\xbb\xbf  {"type": "FeatureCollection"}') == "geojson"
    assert formats.sniff(b'<?xml version="1.0"?>\n<kml:kml xmlns:kml="x">') == "kml"
    assert formats.sniff(b"<?xml version='1.0'?><gpx version='1.1'>") == "gpx"
    assert formats.sniff(b"name;lat;lon\n") == "csv"
    assert formats.sniff(b"hello") is None


def test_written_files_carry_what_tools_need() -> None:
    kml = formats.write(EXPORTED, "kml").decode()
    assert "<Folder>" in kml and "<name>sdf</name>" in kml and "<TimeSpan>" in kml and "#kind-area" in kml
    assert "<innerBoundaryIs>" in kml  # the hole
    gpx = formats.write(EXPORTED, "gpx").decode()
    assert "<type>area</type>" in gpx and "<time>2017-09-09T06:00:00Z</time>" in gpx
    csv_text = formats.write(EXPORTED, "csv").decode("utf-8-sig")
    header, first = csv_text.splitlines()[:2]
    assert header.startswith("id,name,kind,party,status,start,end,lat,lon,")
    assert "POINT (40.123456789012344 35.3352)" in first and "coalition;russia" in first
