"""Text is text: what a party may write (domain/text.py, domain/strict_json.py), and every export well-formed for
any stored value — a property test feeds random Unicode, surrogates and control characters included, through every
writer (GeoJSON, KML, GPX, CSV, CoT) and parses what comes out."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import gpxpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]

from deconfliction.adapters import formats
from deconfliction.adapters.cot_export import document, picture_events, stream
from deconfliction.domain.declarations import DeclarationLimits, parse_feature
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.strict_json import MalformedJSON, loads
from deconfliction.domain.text import check_text, for_xml

START = "2017-09-09T05:00:00Z"
NOW = datetime(2017, 9, 10, tzinfo=UTC)
# Every code point, surrogates included: what a store written before the checks may hold.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40)
HOSTILE = ["a\x00b", "c\x01d", "e\ufffe", "\ud800", "\udfff x", "f\x7fg", "h\x85i", "\U0001ffff", "\ufdd0"]
CARRIED = ["plain", "tab\there", "two\nlines", "crlf\r\n", "Dayr az-Zawr دير الزور", "😀", "\u00a0", "\u200b"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_refused_character_is_422_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_text(value, "properties.name")
    assert caught.value.field == "properties.name"
    assert "U+" in caught.value.detail


@pytest.mark.parametrize("value", CARRIED)
def test_text_every_format_carries_is_kept(value: str) -> None:
    assert check_text(value, "name") == value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"to": "a", "to": "b"}', "to"),
        (b'{"properties": {"name": "x", "name": "y"}}', "properties.name"),
        (b'[{"t": 1}, {"t": 1, "t": 2}]', "[1].t"),
        (b'{"name": "\\ud800"}', "name"),
        (b'{"refs": ["ok", "a\\u0000b"]}', "refs[1]"),
        (b'{"p": {"name": "e\\uFFFE"}}', "p.name"),
        (b'{"n": "\\udbff\\udfff"}', "n"),  # a pair, but of a noncharacter (U+10FFFF)
        (b'{"\\ud800": 1}', "\\ud800"),  # the field is named with an escape, never the raw surrogate
        ('{"n": "\x85"}'.encode(), "n"),  # a C1 control written raw, not escaped
    ],
)
def test_a_body_is_refused_naming_where(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        loads(body)
    assert caught.value.field == field
    json.dumps({"field": caught.value.field, "detail": caught.value.detail}).encode("utf-8")  # answerable


@pytest.mark.parametrize(
    "body",
    [b"{", b"\xff\xfe{\x00}\x00", '{"a": 1}'.encode("utf-16"), b"[" * 100_000, b'{"a": ' + b"9" * 5000 + b"}", b"\xc3"],
)
def test_a_body_that_is_not_utf8_json_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedJSON):
        loads(body)


def test_a_body_of_text_parses_as_json_does() -> None:
    body = b'{"name": "tab\\there \\ud83d\\ude00 \\u00e9", "n": NaN, "x": [1, {"y": null}]}'
    value = loads(body)
    assert value["name"] == "tab\there 😀 é" and value["n"] != value["n"] and value["x"] == [1, {"y": None}]


def test_an_import_refuses_a_name_no_export_could_carry() -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
        "properties": {"kind": "site", "name": "a\x00b", "start": START, "radius_m": 10},
    }
    with pytest.raises(InvalidInput) as caught:
        parse_feature(feature, DeclarationLimits())
    assert caught.value.field == "properties.name"


def _feature(text: str, fid: str, lon: float) -> dict[str, Any]:
    ring = [[lon, 35.0], [lon + 0.1, 35.0], [lon + 0.1, 35.1], [lon, 35.1], [lon, 35.0]]
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"kind": "area", "name": text, "party": text or "p", "version": 1, "status": "active",
                       "start": START, "end": None, "altitude": {"lower_m": 0.0, "upper_m": None}, "radius_m": 0.0,
                       "separation_m": None, "audience": [text, "all"], "created_at": START, "updated_at": START},
    }  # fmt: skip


def _site(text: str) -> dict[str, Any]:
    feature = _feature(text, text, 41.0)
    feature["geometry"] = {"type": "Point", "coordinates": [41.0, 35.0]}
    feature["properties"]["kind"] = "site"
    return feature


def _track(text: str) -> dict[str, Any]:
    return {"id": text, "t": START, "position": {"type": "Point", "coordinates": [40.0, 35.0, 100.0]}}


def _conflict(text: str) -> dict[str, Any]:
    return {"id": "c1", "kind": "proximity", "other_party": text, "distance_m": 1.0, "required_m": 2.0,
            "time": {"start": START, "end": None}, "status": "open",
            "location": {"type": "Point", "coordinates": [40.0, 35.0]}}  # fmt: skip


def _parse_every_format(features: list[dict[str, Any]]) -> None:
    assert len(json.loads(formats.write(features, "geojson").decode("utf-8"))["features"]) == len(features)
    kml = etree.fromstring(formats.write(features, "kml"))
    assert len(kml.findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == len(features)
    gpx_bytes = formats.write(features, "gpx")
    etree.fromstring(gpx_bytes)
    parsed = gpxpy.parse(gpx_bytes.decode("utf-8"))
    assert len(parsed.routes) + len(parsed.waypoints) == len(features)
    rows = list(csv.reader(io.StringIO(formats.write(features, "csv").decode("utf-8-sig"), newline="")))
    assert len(rows) == len(features) + 1


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT, ANY_TEXT)
def test_every_export_is_well_formed_for_any_stored_text(first: str, second: str) -> None:
    features = [_feature(first, "d1", 40.0), _feature(second, "d2", 40.5), _site(first + second)]
    _parse_every_format(features)
    events = picture_events("p", features, [_conflict(first)], [_track(second or "t")], NOW)
    root = ET.fromstring(document(events))
    assert len(root) == len(events)
    lines = stream(events).splitlines()
    assert [ET.fromstring(line).tag for line in lines] == ["event"] * len(events)


@pytest.mark.parametrize("value", HOSTILE + CARRIED)
def test_the_named_hostile_values_export_well_formed(value: str) -> None:
    _parse_every_format([_feature(value, "d1", 40.0), _site(value)])
    ET.fromstring(document(picture_events("q", [_feature(value, "d1", 40.0)], [_conflict(value)], [], NOW)))


def test_xml_keeps_text_it_can_carry() -> None:
    assert for_xml("tab\there\nok é 😀 \U0001fffe") == "tab\there\nok é 😀 \U0001fffe"
    assert for_xml("a\x00b\ud800c\ufffe") == "a\ufffdb\ufffdc\ufffd"
