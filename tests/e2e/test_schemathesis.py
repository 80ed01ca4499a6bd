"""Schemathesis over the whole OpenAPI document of a real `deconf serve`: no operation answers 5xx, answers
conform to what the document says of them, and every error is Problem Details (`application/problem+json`).

The server runs as a user starts it (tests/e2e/conftest.py), with parties, links, declarations, conflicts,
notifications, messages (one awaiting the fuzzing party's review), lines, a webhook, a track and an MQTT secret,
so that the ids in paths often lead to real data. Every operation is fuzzed as the party `alpha`, except the
admin-only ones, fuzzed as the admin against two parties of their own so that the fuzzer never suspends `alpha`.
Runs are deterministic (derandomised, no example database) and bounded by MAX_EXAMPLES per operation.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.channel import START, Channel, area
from tests.e2e.conftest import Server, start_server
from tests.f3548_tokens import TokenMint

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
SEED = 20_170_909
SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck))
# Each once found a 5xx here: a cursor past SQLite's INTEGER, a digit int() refuses, a JSON integer float()
# refuses, a time that leaves datetime's years once moved to UTC, a URL urlsplit() refuses.
EDGE_VALUES: dict[str, dict[str, list[Any]]] = {
    "integer": {"values": [2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 10**30, 10**400]},
    "number": {"values": [1e308, -1e308, 10**400, -(10**400)]},
    "string": {
        "values": [
            "\u00b2",
            "99999999999999999999999",
            '"\u00b2"',
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:59Z",
            "http://[::1",
            "http://127.0.0.1:99999999/",
        ]
    },
}
PROBLEM_MEMBERS = ("type", "title", "status", "detail")

# Operations only the admin token may call: fuzzed as the admin, on the victim parties and their link.
ADMIN_ONLY = {
    ("POST", "/v1/parties"),
    ("PATCH", "/v1/parties/{party_id}"),
    ("POST", "/v1/parties/{party_id}/tokens"),
    ("POST", "/v1/links"),
    ("PATCH", "/v1/links/{a}/{b}"),
    ("DELETE", "/v1/links/{a}/{b}"),
    ("GET", "/metrics"),
}
# GET /v1/events is an endless Server-Sent Events stream: one fuzzed request would hold the run until its read
# timeout. It is excluded from fuzzing here and checked by test_the_event_stream_refuses_bad_cursors below (and
# in test_server_process.py, test_need_to_know.py).
STREAMING = "/v1/events"


@dataclass
class Seeded:
    server: Server
    tokens: dict[str, str]
    known: dict[str, list[str]] = field(default_factory=dict)  # path parameter name → ids that exist


def _seed(ch: Channel) -> dict[str, list[str]]:
    """Parties, links and one of every kind of resource; returns the ids the fuzzer may put into paths."""
    for pid in ("alpha", "bravo", "charlie", "victim-a", "victim-b"):
        ch.party(pid)
    for a, b, relay in (("alpha", "bravo", "auto"), ("alpha", "charlie", "review"), ("victim-a", "victim-b", "auto")):
        ch.ok("admin", "POST", "/v1/links", 201, json={"a": a, "b": b, "relay": relay})
    own = ch.declare("alpha", area(40.40, 35.50, audience=["bravo"], name="alpha's area"))
    hidden = ch.declare("alpha", area(40.60, 35.50, name="alpha's hidden area"))
    shared = ch.declare("bravo", area(40.41, 35.50, audience=["alpha"], name="bravo's area"))  # conflicts with own
    public = ch.declare("charlie", area(41.50, 36.00, audience="all", name="charlie's area"))
    route = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[40.0, 35.0], [40.2, 35.1]]},
        "properties": {"kind": "route", "start": START, "radius_m": 50, "speed_mps": 10, "audience": "all"},
    }
    timed = ch.declare("alpha", route)
    conflicts = [c["id"] for c in ch.ok("alpha", "GET", "/v1/conflicts")]
    assert conflicts, "alpha's area and bravo's should conflict"
    notifications = [n["id"] for n in ch.ok("alpha", "GET", "/v1/notifications")]
    assert notifications, "bravo shared its area with alpha"
    to_bravo = ch.send("alpha", "bravo")
    from_bravo = ch.send("bravo", "alpha")
    for_review = ch.send("bravo", "charlie")  # bravo → alpha → charlie: alpha reviews before the review link
    assert for_review["route"] == ["bravo", "alpha", "charlie"], for_review
    line = {"type": "LineString", "coordinates": [[40.5, 35.0], [40.5, 36.0]]}
    proposed = ch.ok("alpha", "POST", "/v1/lines", 201, json={"with": "bravo", "geometry": line, "left": "alpha"})
    offered = ch.ok("bravo", "POST", "/v1/lines", 201, json={"with": "alpha", "geometry": line, "left": "alpha"})
    # port 9 of the loopback: deliveries fail and are retried; nothing leaves the machine
    hook = ch.ok("alpha", "POST", "/v1/webhooks", 201, json={"url": "http://127.0.0.1:9/hook"})
    ch.ok("alpha", "POST", "/v1/mqtt/secret", 201)
    fixes = [{"t": "2026-01-01T00:00:00Z", "lon": 10.0, "lat": 10.0, "speed_mps": 5, "course_deg": 90}]
    ch.ok("alpha", "POST", "/v1/tracks/convoy-1/positions", 202, json=fixes)
    return {
        "declaration_id": [own["id"], hidden["id"], shared["id"], public["id"], timed["id"]],
        "conflict_id": conflicts,
        "notification_id": notifications,
        "message_id": [to_bravo["id"], from_bravo["id"], for_review["id"]],
        "line_id": [proposed["id"], offered["id"]],
        "webhook_id": [hook["id"]],
        "track_id": ["convoy-1"],
        "party_id": ["victim-a", "victim-b"],
        "a": ["victim-a", "victim-b"],
        "b": ["victim-b", "victim-a"],
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    place = tmp_path_factory.mktemp("schemathesis")
    mint = TokenMint(place / "auth")  # the F3548 DSS is on: its operations are fuzzed with a real access token
    dss_env = {"DECONF_F3548_PUBLIC_KEYS": str(mint.pem_path), "DECONF_F3548_AUDIENCE": mint.audience}
    server = start_server(place, extra_env=dss_env)  # rate limit off: a 429 would hide answers
    ch = Channel(server)
    try:
        known = _seed(ch)
        tokens = {**ch.tokens, "uss": mint.mint("uss-fuzz", ALL_SCOPES, exp_s=3 * 3600)}
        yield Seeded(server, tokens, known)
    finally:
        ch.close()
        server.stop()


@pytest.fixture(scope="module")
def api_schema(seeded: Seeded) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "base-url": seeded.server.url,
            "seed": SEED,
            "dictionaries": EDGE_VALUES,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # tokens are set per call below: the admin's for ADMIN_ONLY, alpha's for the rest
                "with-security-parameters": False,
                # values at the edges of what the store and the standard library hold, mixed into every
                # integer, number and string the fuzzer draws
                "dictionaries": {kind: {"dictionary": kind, "probability": 0.25} for kind in EDGE_VALUES},
            },
            "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
            "request-timeout": 10,
        }
    )
    return schemathesis.openapi.from_url(f"{seeded.server.url}/openapi.json", config=config).exclude(path=STREAMING)


ALL_SCOPES = (
    "utm.strategic_coordination",
    "utm.constraint_management",
    "utm.constraint_processing",
    "utm.conformance_monitoring_sa",
    "utm.availability_arbitration",
)


def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error answer is RFC 9457 Problem Details with the status it was sent with — under /dss, F3548-21's
    ErrorResponse {"message"} instead."""
    if response.status_code < 400:
        return None
    if case.path.startswith("/dss/"):
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("message"), str), f"not an ErrorResponse: {body}"
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/problem+json"), (
        f"{case.method} {case.formatted_path} answered {response.status_code} as {content_type!r}: "
        f"{response.content[:300]!r}"
    )
    body = response.json()
    missing = [m for m in PROBLEM_MEMBERS if m not in body]
    assert not missing, f"problem without {missing}: {body}"
    assert body["status"] == response.status_code, body
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    problem_details,
]


def _use_real_ids(case: Case, known: dict[str, list[str]]) -> None:
    """Put ids that exist into most positive cases' paths (chosen from the generated value, so runs repeat)."""
    meta = case.meta
    path_info = None if meta is None else meta.components.get(ParameterLocation.PATH)
    if path_info is not None and path_info.mode is not GenerationMode.POSITIVE:
        return
    for name, value in list((case.path_parameters or {}).items()):
        ids = known.get(name)
        if not ids or not isinstance(value, str):
            continue
        pick = zlib.crc32(value.encode("utf-8", "surrogatepass"))
        if pick % 4:  # three cases in four reach real data; the fourth keeps the generated (unknown) id
            case.path_parameters[name] = ids[pick % len(ids)]


def check_case(case: Case, seeded: Seeded, http_session: requests.Session) -> None:
    """One generated request: authenticated as the operation needs, real ids in most paths, every check run."""
    admin_only = (case.method.upper(), case.path) in ADMIN_ONLY
    if admin_only:
        for name in ("party_id", "a", "b"):  # never the fuzzing party: a withdrawn alpha would answer 401 to all
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = seeded.known[name][0]
    else:
        _use_real_ids(case, seeded.known)
    token = seeded.tokens["admin" if admin_only else "uss" if case.path.startswith("/dss/") else "alpha"]
    case.call_and_validate(session=http_session, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.fixture(scope="module")
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_no_operation_answers_5xx_and_every_answer_is_as_documented(
    api_schema: schemathesis.BaseSchema, seeded: Seeded, http_session: requests.Session, subtests: pytest.Subtests
) -> None:
    """Every operation of /openapi.json (but the event stream), each as its own subtest.

    The operations are run here rather than through `schemathesis.pytest.from_fixture`, whose runner renames
    pytest nodes through an attribute pytest 9.2 no longer has; the tests it builds are the same.
    """
    load_all_checks()
    tested = 0
    for result in get_all_tests(schema=api_schema, test_func=check_case, settings=SETTINGS, given_kwargs=None):
        if isinstance(result, Err):
            error = result.err()
            with subtests.test(msg=f"schema error: {error.label}"):
                error.as_failing_test_function()()
            continue
        operation, test = result.ok()
        tested += 1
        with subtests.test(msg=operation.label):
            try:
                test(seeded=seeded, http_session=http_session)
            except FailureGroup as exc:
                raise as_reported_failure(exc) from None
    assert tested >= 40, f"only {tested} operations were tested"


def test_the_event_stream_refuses_bad_cursors(seeded: Seeded) -> None:
    """The streaming operation left out of fuzzing: bad cursors are 422 Problems; a good request streams."""
    headers = {"Authorization": f"Bearer {seeded.tokens['alpha']}"}
    url = f"{seeded.server.url}/v1/events"
    for params, extra, field_name in (
        ({"after": str(2**63)}, {}, "after"),
        ({"after": "-1"}, {}, "after"),
        ({}, {"Last-Event-ID": "99999999999999999999"}, "Last-Event-ID"),
        ({}, {"Last-Event-ID": b"\xb2"}, "Last-Event-ID"),  # '²' in Latin-1: str.isdigit() says yes, int() no
    ):
        r = httpx.get(url, params=params, headers={**headers, **extra}, timeout=5.0)
        assert r.status_code == 422, (params, extra, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field_name in r.json().get("field", ""), r.json()
    with httpx.stream("GET", url, headers=headers, timeout=5.0) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert next(r.iter_lines()).startswith("retry:")


def test_a_header_digit_int_refuses_is_412(seeded: Seeded) -> None:
    """'²' passes str.isdigit() and fails int(): over real HTTP (the in-process client re-encodes such bytes). As an
    If-Match it names no version, so the precondition fails (RFC 9110), as for a stale one."""
    ch = Channel(seeded.server, seeded.tokens)
    try:
        did = ch.declare("bravo", area(44.0, 31.0, name="bravo's own"))["id"]
        r = ch.call("bravo", "PUT", f"/v1/declarations/{did}", json=area(44.0, 31.0), headers={"If-Match": b'"\xb2"'})
        assert r.status_code == 412 and r.json()["field"] == "If-Match", r.text  # a tag that matches nothing
        assert ch.ok("bravo", "GET", f"/v1/declarations/{did}")["properties"]["version"] == 1
    finally:
        ch.close()


def test_the_server_logged_no_unexpected_error(seeded: Seeded) -> None:
    """After the fuzzing: no traceback in the server's log (a failure inside a stream or a background job too)."""
    log = seeded.server.output()
    first = min((i for i in (log.find("Traceback"), log.find("unexpected error")) if i >= 0), default=-1)
    assert first < 0, log[max(0, first - 500) : first + 4_000]


def test_the_fuzzed_server_still_serves_the_seeded_party(seeded: Seeded) -> None:
    ch = Channel(seeded.server, seeded.tokens)
    try:
        assert ch.ok("alpha", "GET", "/v1/parties")
        assert ch.ok("admin", "GET", "/healthz")["status"] == "ok"
        ch.declare("bravo", area(45.0, 30.0, audience="all"))
    finally:
        ch.close()
