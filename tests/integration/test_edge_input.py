"""Input at the edges of what the store and the standard library hold: each was a 500, found by fuzzing the
OpenAPI document (tests/e2e/test_schemathesis.py); each must be a 422 Problem naming the offending field.

- cursors, seqs and versions past SQLite's INTEGER (OverflowError in the driver), or written with a digit that
  str.isdigit() accepts and int() refuses ('²');
- JSON integers too large for a float (OverflowError in float() and math.isfinite());
- times whose offset moves them out of the years 1–9999 once in UTC, and a timed route arriving after 9999;
- webhook URLs that urlsplit() refuses.

Plus what the fuzzing asked of the OpenAPI document: errors documented as Problem Details, 405 naming every method.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, feature, square

TOO_BIG = str(2**63)  # one past SQLite's INTEGER
SUPERSCRIPT_TWO = "\u00b2"
HUGE_INT = 10**400  # valid JSON; no float holds it
START = "2017-09-09T05:00:00Z"


@pytest.fixture
def two(api: Api) -> Api:
    api.add_party("sdf")
    api.add_party("saa")
    r = api.call("admin", "POST", "/v1/links", json={"a": "sdf", "b": "saa"})
    assert r.status_code == 201, r.text
    return api


def assert_422(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == 422 and body["detail"]
    assert body.get("field") == field, body
    return body


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v1/notifications?before={TOO_BIG}", "before"),
        (f"/v1/messages?before={TOO_BIG}", "before"),
        (f"/v1/lines?before={TOO_BIG}", "before"),
        (f"/v1/ledger?after={TOO_BIG}", "after"),
        (f"/v1/ledger/{TOO_BIG}", "seq"),
        (f"/v1/ledger/-{2**64}", "seq"),
        (f"/v1/declarations?after={TOO_BIG}", "after"),
        (f"/v1/declarations?after={SUPERSCRIPT_TWO}", "after"),
        (f"/v1/declarations?after={'9' * 5000}", "after"),  # past int()'s 4300-digit limit too
        (f"/v1/events?after={TOO_BIG}", "after"),
    ],
)
def test_a_cursor_beyond_what_the_store_holds_is_422(two: Api, path: str, field: str) -> None:
    assert_422(two.call("sdf", "GET", path), field)


@pytest.mark.parametrize("seq", [str(-(2**63)), "-1", "0", str(2**63 - 1)])
def test_a_ledger_seq_within_64_bits_but_never_written_is_404(two: Api, seq: str) -> None:
    r = two.call("sdf", "GET", f"/v1/ledger/{seq}")
    assert r.status_code == 404, r.text


def test_a_cursor_at_the_largest_row_key_is_an_empty_page(two: Api) -> None:
    largest = str(2**63 - 1)
    assert two.call("sdf", "GET", f"/v1/ledger?after={largest}").json() == []
    assert two.call("sdf", "GET", f"/v1/notifications?before={largest}").json() == []
    assert two.call("sdf", "GET", f"/v1/declarations?after={largest}").json()["features"] == []


def test_views_cursor_beyond_the_store_is_422(two: Api) -> None:
    did = two.declare("sdf", feature(square(40.4, 35.5)))["id"]
    assert_422(two.call("sdf", "GET", f"/v1/declarations/{did}/views?after={TOO_BIG}"), "after")


# A header holding '²' is checked over real HTTP (tests/e2e/test_schemathesis.py): the in-process client
# re-encodes non-ASCII header bytes, so that the server never sees '²' here.
@pytest.mark.parametrize("value", [TOO_BIG, "99999999999999999999", " 5x"])
def test_a_bad_last_event_id_is_422(two: Api, value: str) -> None:
    assert_422(two.call("sdf", "GET", "/v1/events", headers={"Last-Event-ID": value}), "Last-Event-ID")


@pytest.mark.parametrize(
    "if_match", [f'"{TOO_BIG}"', f'W/"{TOO_BIG}"', "99999999999999999999999", '"2"', '"abc"', "", ",", '"1 "']
)
def test_an_if_match_naming_no_current_version_is_412_and_the_declaration_unchanged(two: Api, if_match: str) -> None:
    """RFC 9110: an If-Match that matches nothing is a failed precondition, whatever it holds — not a 422."""
    did = two.declare("sdf", feature(square(40.4, 35.5)))["id"]
    r = two.call(
        "sdf",
        "PUT",
        f"/v1/declarations/{did}",
        json=feature(square(40.5, 35.5)),
        headers={"If-Match": if_match},
    )
    assert r.status_code == 412, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["field"] == "If-Match"
    assert two.call("sdf", "GET", f"/v1/declarations/{did}").json()["properties"]["version"] == 1


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1", '"7", "1"', "*"])
def test_an_if_match_naming_the_current_version_revises(two: Api, if_match: str) -> None:
    did = two.declare("sdf", feature(square(40.4, 35.5)))["id"]
    r = two.call(
        "sdf", "PUT", f"/v1/declarations/{did}", json=feature(square(40.5, 35.5)), headers={"If-Match": if_match}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2


def _raw(api: Api, method: str, path: str, body: str) -> Any:
    """Send `body` as it is: json.dumps would write HUGE_INT too, but the point is what arrives."""
    return api.call("sdf", method, path, content=body.encode(), headers={"Content-Type": "application/json"})


SITE = '{"type": "Feature", "geometry": %s, "properties": {"kind": "site", "start": "2017-09-09T05:00:00Z"%s}}'
POINT = '{"type": "Point", "coordinates": [40.4, 35.5]}'
ROUTE = (
    '{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[40.4, 35.5], [40.5, 35.5]]}, '
    '"properties": {"kind": "route", "start": "2017-09-09T05:00:00Z"%s}}'
)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (SITE % (POINT, f', "radius_m": {HUGE_INT}'), "properties.radius_m"),
        (SITE % (POINT, f', "separation_m": {HUGE_INT}'), "properties.separation_m"),
        (SITE % (POINT, f', "altitude": {{"lower_m": -{HUGE_INT}}}'), "properties.altitude.lower_m"),
        (SITE % (POINT, f', "altitude": {{"lower_m": 0, "upper_m": {HUGE_INT}}}'), "properties.altitude.upper_m"),
        (SITE % (f'{{"type": "Point", "coordinates": [{HUGE_INT}, 35.5]}}', ""), "geometry.coordinates"),
        (ROUTE % f', "radius_m": 10, "speed_mps": {HUGE_INT}', "properties.speed_mps"),
    ],
)
def test_a_json_integer_no_float_holds_is_422_in_a_declaration(two: Api, body: str, field: str) -> None:
    assert_422(_raw(two, "POST", "/v1/declarations", body), field)


@pytest.mark.parametrize("member", ["lon", "lat", "alt_m", "speed_mps", "course_deg", "separation_m"])
def test_a_json_integer_no_float_holds_is_422_in_a_position_report(two: Api, member: str) -> None:
    report = {"t": START, "lon": "40.4", "lat": "35.5", member: str(-HUGE_INT)}
    body = "[{" + ", ".join(f'"{k}": {v if k != "t" else chr(34) + v + chr(34)}' for k, v in report.items()) + "}]"
    assert_422(_raw(two, "POST", "/v1/tracks/convoy-1/positions", body), f"[0].{member}")


def test_a_json_integer_no_float_holds_is_422_as_a_line_tolerance(two: Api) -> None:
    body = (
        '{"with": "saa", "left": "sdf", "geometry": {"type": "LineString", "coordinates": [[40, 35], [40, 36]]}, '
        f'"tolerance_m": {HUGE_INT}}}'
    )
    assert_422(_raw(two, "POST", "/v1/lines", body), "tolerance_m")


@pytest.mark.parametrize(
    ("name", "value"),
    [("start", "0001-01-01T00:00:00+23:59"), ("end", "9999-12-31T23:59:59-23:59")],
)
def test_a_time_outside_the_years_1_to_9999_in_utc_is_422(two: Api, name: str, value: str) -> None:
    body = feature(square(40.4, 35.5), **{name: value})
    assert_422(two.call("sdf", "POST", "/v1/declarations", json=body), f"properties.{name}")
    assert_422(two.call("sdf", "GET", "/v1/declarations", params={name: value}), name)
    report = {"t": "2017-09-09T05:00:00Z", "lon": 40.4, "lat": 35.5, "stale": "9999-12-31T23:59:59-23:59"}
    assert_422(two.call("sdf", "POST", "/v1/tracks/convoy-1/positions", json=[report]), "[0].stale")
    message = {"to": "saa", "subject": "x", "ack_by": "0001-01-01T00:00:00+23:59"}
    assert_422(two.call("sdf", "POST", "/v1/messages", json=message), "ack_by")


def test_the_first_and_last_instants_datetime_holds_are_accepted(two: Api) -> None:
    written = two.declare("sdf", feature(square(40.4, 35.5), start="0001-01-01T00:00:00Z", end="9999-12-31T23:59:59Z"))
    assert written["declaration"]["properties"]["end"] == "9999-12-31T23:59:59Z"


def test_a_timed_route_arriving_after_the_year_9999_is_422(two: Api) -> None:
    # 108 km at 1 mm/s is 3.4 years: the schedule, and any conflict on it, would end in the year 10003
    route = {"type": "LineString", "coordinates": [[40.3, 35.45], [41.5, 35.45]]}
    body = feature(route, kind="route", start="9999-12-31T23:00:00Z", end=None, radius_m=10, speed_mps=0.001)
    body["properties"]["audience"] = "all"  # a timed route the other party may see is compared by its schedule
    assert_422(two.call("sdf", "POST", "/v1/declarations", json=body), "properties.speed_mps")
    body["properties"]["speed_mps"] = 100.0  # arrives 18 minutes later, within 9999
    two.declare("sdf", body)
    crossing = feature(square(40.9, 35.45), start="9999-12-31T23:00:00Z", end=None)
    written = two.declare("saa", crossing)  # the convergence finder puts a time on the sdf's route: no overflow
    assert [c["kind"] for c in written["conflicts"]] == ["convergence"]


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999999/", "https://[not-an-ip]/"])
def test_a_webhook_url_urlsplit_refuses_is_422(two: Api, url: str) -> None:
    assert_422(two.call("sdf", "POST", "/v1/webhooks", json={"url": url}), "url")
    assert two.call("sdf", "GET", "/v1/webhooks").json() == []


def test_optional_report_members_may_be_null_as_documented(two: Api) -> None:
    report = {"t": START, "lon": 40.4, "lat": 35.5, "stale": None, "alt_m": None, "speed_mps": None}
    r = two.call("sdf", "POST", "/v1/tracks/convoy-1/positions", json=[report])
    assert r.status_code == 202, r.text
    item = two.client.get("/openapi.json").json()["paths"]["/v1/tracks/{track_id}/positions"]["post"]
    schema = item["requestBody"]["content"]["application/json"]["schema"]["items"]["properties"]
    assert "null" in schema["stale"]["type"] and "null" in schema["alt_m"]["type"]


def test_every_operation_documents_its_errors_as_problem_details(two: Api) -> None:
    """… and under /dss, as F3548-21's ErrorResponse, which the standard's clients expect."""
    spec = two.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert spec["components"]["schemas"]["F3548ErrorResponse"]["required"] == ["message"]
    for path, item in spec["paths"].items():
        expected = ["application/json"] if path.startswith("/dss/") else ["application/problem+json"]
        for method, operation in item.items():
            responses = operation["responses"]
            for code in [c for c in responses if c.startswith("4")]:
                content = responses[code].get("content", {})
                assert list(content) == expected, (method, path, code, content)
            assert "4XX" in responses, (method, path)


def test_405_names_every_method_of_the_path(two: Api) -> None:
    r = two.call("sdf", "PATCH", "/v1/declarations/some-id")
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "PUT", "DELETE"} <= allowed, allowed
    r = two.call("sdf", "DELETE", "/v1/declarations")
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}


def test_healthz_says_only_up_without_the_admin_token(two: Api) -> None:
    assert two.client.get("/healthz").json() == {"status": "ok"}
    assert two.call("sdf", "GET", "/healthz").json() == {"status": "ok"}
    assert two.client.get("/healthz", headers={"Authorization": "Bearer nope"}).json() == {"status": "ok"}
    full = two.call("admin", "GET", "/healthz").json()
    assert full["status"] == "ok" and {"declarations_active", "worker", "leader", "schema_version"} <= set(full)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/messages", '{"to": "saa", "to": "sdf", "subject": "s"}', "to"),
        ("/v1/messages", '{"to": "saa", "subject": "\\ud800"}', "subject"),
        ("/v1/messages", '{"to": "saa", "subject": "s", "refs": ["a\\u0000b"]}', "refs[0]"),
        ("/v1/declarations", SITE % (POINT, ', "name": "e\\ufffe"'), "properties.name"),
        ("/v1/declarations", SITE % (POINT, ', "name": "a", "name": "b"'), "properties.name"),
    ],
)
def test_repeated_keys_and_refused_text_are_422_naming_the_field(two: Api, path: str, body: str, field: str) -> None:
    head = two.call("sdf", "GET", "/v1/ledger/head").json()
    assert_422(_raw(two, "POST", path, body), field)
    assert two.call("sdf", "GET", "/v1/ledger/head").json() == head
