"""A fuzzing corpus against every write endpoint, over real HTTP, against one `deconf serve` started as a user does.

The corpus: malformed JSON, NaN and infinities, numbers no float or int holds, deep nesting, bodies that are not
UTF-8 (UTF-16, Latin-1, raw surrogates, overlong forms), wrong types in every field, long strings, lone surrogates,
control characters and noncharacters in every string, repeated keys in every object, odd geometries, wrong
content types. Every answer must be below 500 and every connection must survive; a refused request must leave the
record's head (and, for tracks, which write no entry, the track list) as it was; the server must be healthy after,
with no traceback in its log. The status histogram is printed at the end (`pytest -s`).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.channel import Channel, area, deir_ez_zor
from tests.e2e.conftest import E2E_ADMIN, Server, start_server
from tests.e2e.test_dss_process import SC, f3548_env, oi_body, volume
from tests.f3548_tokens import TokenMint

pytestmark = pytest.mark.slow

RAW = "@@raw@@"  # stands for a piece of JSON text that json.dumps cannot write (NaN, 400 digits, a repeated key)
HISTOGRAM: Counter[int] = Counter()
SENT: Counter[str] = Counter()

WRONG: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], {}, [[]], [None], {"a": 1}, "9" * 300]
HOSTILE_TEXT = ["\ud800", "\udfff", "a\u0000b", "c\u0001d", "e\ufffe", "\uffff", "\u0085", "\x7f", "\U0010ffff",
                "\ud83d", "x" * 100_000, "é" * 300_000]  # fmt: skip
NUMBERS_RAW = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1" + "0" * 400, "-" + "9" * 4000, "1e-400",
               "-0", "9" * 5000, "0." + "0" * 30 + "1", "1E+2", "123456789012345678901234567890"]  # fmt: skip
MALFORMED = [b"", b" ", b"{", b"}", b"[", b"]", b'{"a":}', b'{"a" 1}', b"nul", b"tru", b"'x'", b'{"a":1,}', b"[1,]",
             b"/* c */ {}", b'{"a":1} {"b":2}', b"\x00", b'{"a":"\x01"}', b'"\\u12"', b'"\\x41"', b"{" * 50,
             b'{"a": 01}', b"+1", b".5", b"0x10", b'{"\\ud800": 1}', b'"\\ud800"']  # fmt: skip
DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000, b"[" * 900 + b"]" * 900]
ODD_GEOMETRIES: list[Any] = [
    {"type": "Polygon", "coordinates": [[[40, 35], [41, 35], [41, 36], [40, 36]]]},  # unclosed
    {"type": "Polygon", "coordinates": [[[40, 35], [41, 36], [41, 35], [40, 36], [40, 35]]]},  # bow tie
    {"type": "Polygon", "coordinates": [[[40, 35], [40, 35], [40, 35], [40, 35]]]},  # no area
    {"type": "Polygon", "coordinates": [[[40, 91], [41, 91], [41, 92], [40, 91]]]},
    {"type": "Polygon", "coordinates": [[[179.9, 35], [-179.9, 35], [-179.9, 35.1], [179.9, 35.1], [179.9, 35]]]},
    {"type": "Polygon", "coordinates": [[[0, 89.9], [120, 89.9], [-120, 89.9], [0, 89.9]]]},  # round a pole
    {"type": "Polygon", "coordinates": [[[-170, -80], [170, -80], [170, 80], [-170, 80], [-170, -80]]]},  # huge
    {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[]]},
    {"type": "Polygon", "coordinates": [[[40, 35], [41, 35]]]},
    {"type": "Polygon", "coordinates": [[["40", "35"], ["41", "35"], ["41", "36"], ["40", "35"]]]},
    {"type": "Polygon", "coordinates": [[[40, 35, 1, 2, 3], [41, 35], [41, 36], [40, 35]]]},
    {"type": "Polygon", "coordinates": [[[40 + i * 1e-6, 35] for i in range(10_001)] + [[40, 35]]]},
    {"type": "MultiPolygon", "coordinates": [[]]},
    {"type": "MultiPolygon", "coordinates": [[[[40, 35], [41, 35], [41, 36], [40, 35]]], [[]]]},
    {"type": "Point", "coordinates": [40]},
    {"type": "Point", "coordinates": [181, 35]},
    {"type": "Point", "coordinates": []},
    {"type": "LineString", "coordinates": [[40, 35]]},
    {"type": "LineString", "coordinates": [[40, 35], [40, 35]]},
    {"type": "GeometryCollection", "geometries": []},
    {"type": "Feature", "geometry": None, "properties": {}},
    {"type": "Circle", "coordinates": [40, 35]},
    {"type": "Polygon"},
    {"coordinates": [[[40, 35], [41, 35], [41, 36], [40, 35]]]},
]
GEOJSON = "application/json"


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    who: str  # a party of the channel, "admin", "uss" (an F3548 access token) or "nobody"
    body: Any  # a valid body, mutated field by field
    headers: tuple[tuple[str, str], ...] = ()
    geometry: str | None = None  # where a geometry sits in `body`, to swap in the odd ones


@dataclass
class Fuzzed:
    server: Server
    ch: Channel
    uss_token: str
    targets: list[Target]


def _now(minutes: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    tmp = tmp_path_factory.mktemp("fuzz")
    mint = TokenMint(tmp / "auth")
    server = start_server(tmp, extra_env={**f3548_env(mint), "DECONF_MAX_BODY_BYTES": "1048576"})
    ch = Channel(server)
    try:
        deir_ez_zor(ch)
        ch.party("scratch")
        own = ch.declare("sdf", area(40.20, 35.40, audience="all"))
        ch.declare("saa", area(40.20, 35.37))
        conflict = ch.ok("saa", "GET", "/v1/conflicts")[0]
        notification = ch.ok("saa", "GET", "/v1/notifications")[0]
        sent = ch.send("sdf", "coalition")
        held = ch.send("sdf", "saa")  # waits for coalition's review on the coalition–russia link
        line = ch.ok("sdf", "POST", "/v1/lines", 201, json=_line())
        track = [{"t": _now(), "lon": 40.0, "lat": 35.0, "alt_m": 100, "speed_mps": 5, "course_deg": 90}]
        targets = [
            Target("declare", "POST", "/v1/declarations", "sdf", area(41.0, 36.0), geometry="geometry"),
            Target(
                "revise",
                "PUT",
                f"/v1/declarations/{own['id']}",
                "sdf",
                area(40.2, 35.4),
                (("If-Match", '"1"'),),
                geometry="geometry",
            ),
            Target(
                "message",
                "POST",
                "/v1/messages",
                "sdf",
                {"to": "saa", "subject": "s", "body": "b", "refs": [own["id"]], "ack_by": _now(60)},
            ),
            Target(
                "relay", "POST", f"/v1/messages/{held['id']}/relay", "coalition", {"decision": "refuse", "note": "n"}
            ),
            Target("message-ack", "POST", f"/v1/messages/{sent['id']}/ack", "coalition", {"signature": None}),
            Target("conflict-ack", "POST", f"/v1/conflicts/{conflict['id']}/ack", "saa", {"signature": None}),
            Target("notification-ack", "POST", f"/v1/notifications/{notification['id']}/ack", "saa", {}),
            Target("line", "POST", "/v1/lines", "sdf", _line(), geometry="geometry"),
            Target("line-accept", "POST", f"/v1/lines/{line['id']}/accept", "coalition", {"signature": None}),
            Target("tracks", "POST", "/v1/tracks/convoy-1/positions", "sdf", track),
            Target("party", "POST", "/v1/parties", "admin", {"id": "fz", "name": "Fuzz", "public_key": None}),
            Target("party-patch", "PATCH", "/v1/parties/scratch", "admin", {"status": "active", "public_key": None}),
            Target("link", "POST", "/v1/links", "admin", {"a": "sdf", "b": "saa", "relay": "review"}),
            Target("link-patch", "PATCH", "/v1/links/coalition/sdf", "admin", {"relay": "auto"}),
            Target("webhook", "POST", "/v1/webhooks", "sdf", {"url": "https:// bad", "secret": "0123456789abcdef"}),
            Target("mqtt-secret", "POST", "/v1/mqtt/secret", "sdf", {}),
            Target(
                "import",
                "POST",
                "/v1/imports?dry_run=false",
                "sdf",
                {"type": "FeatureCollection", "features": [area(42.0, 37.0)]},
                (("Content-Type", "application/geo+json"),),
                geometry="features.0.geometry",
            ),
            Target(
                "dss-oir",
                "PUT",
                f"/dss/v1/operational_intent_references/{uuid.uuid4()}",
                "uss",
                oi_body(volume(35.0, 40.0)),
            ),
            Target(
                "dss-query",
                "POST",
                "/dss/v1/operational_intent_references/query",
                "uss",
                {"area_of_interest": volume(35.0, 40.0)},
            ),
            Target(
                "dss-anonymous",
                "PUT",
                f"/dss/v1/subscriptions/{uuid.uuid4()}",
                "nobody",
                {"extents": volume(35.0, 40.0), "uss_base_url": "https://uss.example"},
            ),
        ]
        yield Fuzzed(server, ch, mint.mint("uss-fuzz", [SC]), targets)
    finally:
        ch.close()
        server.stop()


def _line() -> dict[str, Any]:
    return {"with": "coalition", "geometry": {"type": "LineString", "coordinates": [[40.0, 35.0], [40.5, 35.5]]},
            "left": "sdf", "right": "coalition", "tolerance_m": 100}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# the corpus
# ----------------------------------------------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in `value` a mutation may go: each member of each object, the first item of each list."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from _paths(value[0], (*prefix, 0))


def _replaced(body: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        return {**body, head: _replaced(body[head], rest, new)}
    return [_replaced(body[0], rest, new), *body[1:]]


def _with_raw(body: Any, path: tuple[Any, ...], raw: str) -> bytes:
    return json.dumps(_replaced(body, path, RAW)).replace(json.dumps(RAW), raw).encode("utf-8", "surrogatepass")


def _repeated_key(body: Any, path: tuple[Any, ...]) -> bytes | None:
    """`body` with the object at `path` repeating its first key (with a different value)."""
    obj: Any = body
    for step in path:
        obj = obj[step]
    if not isinstance(obj, dict) or not obj:
        return None
    key = next(iter(obj))
    inner = json.dumps(obj)[:-1] + f", {json.dumps(key)}: {json.dumps(WRONG[6])}" + "}"
    return _with_raw(body, path, inner)


def corpus(target: Target) -> Iterator[tuple[str, bytes, str]]:
    """(label, body, content type) for one target."""
    ctype = dict(target.headers).get("Content-Type", GEOJSON)
    valid = json.dumps(target.body)
    for i, raw in enumerate(MALFORMED + DEEP):
        yield f"malformed[{i}]", raw, ctype
    for name, codec in (("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"), ("utf-32", "utf-32"), ("bom", "utf-8-sig")):
        yield f"encoding:{name}", valid.encode(codec), ctype
    latin = json.dumps(target.body).replace('"', '"é', 1).encode("latin-1", "replace")
    for i, raw in enumerate((latin, b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc0\x80"}', b'{"a": "\xff"}', b"\xef\xbb")):
        yield f"not-utf8[{i}]", raw, ctype
    for i, media in enumerate(("text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x")):
        yield f"content-type[{i}]", valid.encode(), media
    yield "repeated-key:root", _repeated_key(target.body, ()) or b"{}", ctype
    for path in _paths(target.body):
        where = ".".join(map(str, path))
        for i, wrong in enumerate(WRONG):
            yield f"wrong:{where}[{i}]", json.dumps(_replaced(target.body, path, wrong)).encode(), ctype
        for i, text in enumerate(HOSTILE_TEXT):
            yield (
                f"text:{where}[{i}]",
                json.dumps(_replaced(target.body, path, text)).encode("utf-8", "surrogatepass"),
                ctype,
            )
        for i, raw in enumerate(NUMBERS_RAW):
            yield f"number:{where}[{i}]", _with_raw(target.body, path, raw), ctype
        repeated = _repeated_key(target.body, path)
        if repeated is not None:
            yield f"repeated-key:{where}", repeated, ctype
    if target.geometry is not None:
        path = tuple(int(p) if p.isdigit() else p for p in target.geometry.split("."))
        for i, geometry in enumerate(ODD_GEOMETRIES):
            yield f"geometry[{i}]", json.dumps(_replaced(target.body, path, geometry)).encode(), ctype
    for i, text in enumerate(HOSTILE_TEXT[:10]):  # a bare string, and a string where an object or list is due
        yield f"bare-text[{i}]", json.dumps(text).encode("utf-8", "surrogatepass"), ctype


# ----------------------------------------------------------------------------------------------------------------
# sending it
# ----------------------------------------------------------------------------------------------------------------


def _state(http: httpx.Client) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the record's head and the tracks (which write no entry)."""
    admin = {"Authorization": f"Bearer {E2E_ADMIN}"}
    head = http.get("/v1/ledger/head", headers=admin).json()
    return head["seq"], head["hash"]


def _tracks(fz: Fuzzed) -> int:
    return len(fz.ch.ok("sdf", "GET", "/v1/tracks?status=all"))


def _auth(fz: Fuzzed, who: str) -> dict[str, str]:
    if who == "uss":
        return {"Authorization": f"Bearer {fz.uss_token}"}
    if who == "nobody":
        return {}
    return {"Authorization": f"Bearer {fz.ch.tokens[who]}"}


TARGET_NAMES = ["declare", "revise", "message", "relay", "message-ack", "conflict-ack", "notification-ack", "line",
                "line-accept", "tracks", "party", "party-patch", "link", "link-patch", "webhook", "mqtt-secret",
                "import", "dss-oir", "dss-query", "dss-anonymous"]  # fmt: skip


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_no_input_gets_a_5xx_or_writes_when_refused(fuzzed: Fuzzed, name: str) -> None:
    target = next(t for t in fuzzed.targets if t.name == name)
    failures: list[str] = []
    with httpx.Client(base_url=fuzzed.server.url, timeout=30.0) as http:
        before, tracks_before = _state(http), _tracks(fuzzed)
        for label, body, ctype in corpus(target):
            headers = {**_auth(fuzzed, target.who), **dict(target.headers), "Content-Type": ctype}
            try:
                r = http.request(target.method, target.path, content=body, headers=headers)
            except httpx.TransportError as exc:  # the server reset or dropped the connection
                HISTOGRAM[0] += 1
                failures.append(f"{label}: connection lost ({type(exc).__name__})")
                continue
            HISTOGRAM[r.status_code] += 1
            SENT[name] += 1
            if r.status_code >= 500:
                failures.append(f"{label}: {r.status_code} {r.text[:200]}")
                continue
            after = _state(http)
            if r.status_code >= 400:
                if after != before:
                    failures.append(f"{label}: refused with {r.status_code} yet the record moved")
                if name == "tracks" and _tracks(fuzzed) != tracks_before:
                    failures.append(f"{label}: refused with {r.status_code} yet a track was stored")
                if not target.path.startswith("/dss/") and r.json().get("status") != r.status_code:
                    failures.append(f"{label}: {r.status_code} without Problem Details: {r.text[:200]}")
            before = after
            if name == "tracks":
                tracks_before = _tracks(fuzzed)
    assert not failures, "\n".join(failures[:40])


def test_a_suspended_party_can_create_nothing(fuzzed: Fuzzed) -> None:
    """Every create endpoint a party has (webhooks and MQTT secrets are checked with their own), refused with 403
    to a suspended party, nothing recorded; receipts (acknowledgements) stay open to it."""
    ch = fuzzed.ch
    ch.party("idle")
    ch.ok("admin", "POST", "/v1/links", 201, json={"a": "idle", "b": "sdf"})
    ch.ok("admin", "PATCH", "/v1/parties/idle", json={"status": "suspended"})
    creates: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/declarations", {"json": area(43.0, 33.0)}),
        ("POST", "/v1/messages", {"json": {"to": "sdf", "subject": "s"}}),
        ("POST", "/v1/lines", {"json": {**_line(), "with": "sdf", "left": "idle", "right": "sdf"}}),
        ("POST", "/v1/tracks/t1/positions", {"json": [{"t": _now(), "lon": 43.0, "lat": 33.0}]}),
        ("POST", "/v1/imports", {"json": {"type": "FeatureCollection", "features": [area(43.0, 33.0)]}}),
    ]
    with httpx.Client(base_url=fuzzed.server.url, timeout=30.0) as http:
        before = _state(http)
        for method, path, kw in creates:
            r = ch.call("idle", method, path, **kw)
            assert r.status_code == 403, (path, r.status_code, r.text)
            assert "suspended" in r.json()["detail"], r.text
        assert _state(http) == before
    assert ch.ok("idle", "GET", "/v1/tracks?status=all") == []


def test_the_server_is_healthy_after_the_corpus(fuzzed: Fuzzed, tmp_path: Path) -> None:
    r = httpx.get(f"{fuzzed.server.url}/healthz", timeout=10.0)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    fuzzed.ch.declare("saa", area(44.0, 31.0, name="after the corpus"))  # still writes
    log = fuzzed.server.output()
    for needle in ("Traceback", "unexpected error", "Exception in ASGI"):
        assert needle not in log, log[max(0, log.find(needle) - 500) : log.find(needle) + 3000]
    total = sum(HISTOGRAM.values())
    histogram = ", ".join(f"{status or 'lost'}: {n}" for status, n in sorted(HISTOGRAM.items()))
    print(f"\nfuzzing corpus: {total} requests over {len(SENT)} endpoints; statuses {histogram}")
    assert HISTOGRAM[0] == 0 and not any(status >= 500 for status in HISTOGRAM)
