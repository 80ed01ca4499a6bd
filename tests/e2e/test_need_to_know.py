"""The need-to-know proof: no read path discloses another party's geometry to a party outside its
audience.

sdf declares an area with distinctive coordinates and audience "conflicts"; saa declares an area
nearby (they
conflict); russia declares nothing. Then, as saa and as russia, every read path is called and
searched for any
trace of sdf's geometry, name, altitude or declaration id. Only once sdf shares with saa does saa
see it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from geographiclib.geodesic import Geodesic
from shapely.geometry import Point, Polygon

from tests.conftest import Api, feature
from tests.e2e.conftest import E2E_ADMIN, Server, SseStream

# sdf's area: corners with unusual decimals, so that any leak of them is easy to find.
SDF_W, SDF_S, SDF_E, SDF_N = 40.123457, 35.345679, 40.234568, 35.456791
SDF_RING = [[SDF_W, SDF_S], [SDF_E, SDF_S], [SDF_E, SDF_N], [SDF_W, SDF_N], [SDF_W, SDF_S]]
SDF_NAME = "Jazeera-Storm-Q7X"
SDF_UPPER_M = 3456.78

# saa's area lies south-west of sdf's, corner to corner about 1.07 km apart: the nearest point of
# saa's shape to
# sdf's is saa's own NE corner, so an honest `location` carries nothing of sdf's coordinates.
SAA_W, SAA_S, SAA_E, SAA_N = 40.05, 35.28, 40.115, 35.339
SAA_RING = [[SAA_W, SAA_S], [SAA_E, SAA_S], [SAA_E, SAA_N], [SAA_W, SAA_N], [SAA_W, SAA_S]]

SECRETS = [
    "40.123457",
    "40.12346",
    "40.1235",
    "35.345679",
    "35.34568",
    "35.3457",
    "40.234568",
    "40.23457",
    "35.456791",
    "35.45679",
    SDF_NAME,
    "3456.78",
]

Call = Callable[..., Any]  # call(who, method, path, **kwargs) -> response with .status_code/.text/.json()


def sdf_feature(audience: Any = "conflicts") -> dict[str, Any]:
    return feature(
        {"type": "Polygon", "coordinates": [SDF_RING]},
        name=SDF_NAME,
        audience=audience,
        altitude={"lower_m": 0, "upper_m": SDF_UPPER_M},
    )


def saa_feature() -> dict[str, Any]:
    return feature(
        {"type": "Polygon", "coordinates": [SAA_RING]},
        name="Deir ez-Zor city",
        start="2017-09-05T00:00:00Z",
        end="2017-10-15T00:00:00Z",
        audience=["russia"],
    )


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def leaks(text: str, sdf_id: str | None = None) -> list[str]:
    # timestamps are left out: their seconds ("...:35.345712Z") could match a coordinate by chance
    text = _TIMESTAMP.sub("<time>", text)
    found = [s for s in SECRETS if s.lower() in text.lower()]
    if sdf_id is not None and sdf_id in text:
        found.append(f"sdf's declaration id {sdf_id}")
    return found


def assert_no_leak(label: str, text: str, sdf_id: str | None) -> None:
    found = leaks(text, sdf_id)
    assert not found, f"{label} discloses {found}: {text[:2000]}"


class Scenario:
    def __init__(self, call: Call, declare: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self.call = call
        self.declare = declare
        self.sdf: dict[str, Any] = {}
        self.saa: dict[str, Any] = {}

    def run(self) -> None:
        self.sdf = self.declare("sdf", sdf_feature())
        assert self.sdf["conflicts"] == []
        self.saa = self.declare("saa", saa_feature())

    @property
    def sdf_id(self) -> str:
        return str(self.sdf["id"])


def read_paths(sc: Scenario, who: str, conflict_id: str | None) -> list[tuple[str, Any, bool]]:
    """(label, response, request-contains-sdf-id) for every read path `who` can reach."""
    call = sc.call
    out: list[tuple[str, Any, bool]] = []

    def get(path: str, **kw: Any) -> None:
        out.append((f"GET {path} {kw.get('params', '')}", call(who, "GET", path, **kw), False))

    get("/v1/declarations")
    for status in ("active", "cancelled", "all"):
        get("/v1/declarations", params={"status": status})
    get("/v1/declarations", params={"bbox": "40.0,35.2,40.4,35.6"})
    get("/v1/declarations", params={"bbox": "40.2,35.4,40.21,35.41"})  # inside sdf's area only
    get("/v1/declarations", params={"bbox": "-180,-90,180,90", "status": "all"})
    get("/v1/declarations", params={"start": "2017-09-10T00:00:00Z", "end": "2017-09-11T00:00:00Z"})
    get(
        "/v1/declarations",
        params={
            "bbox": "40.1,35.3,40.3,35.5",
            "start": "2017-09-10T00:00:00Z",
            "end": "2017-09-11T00:00:00Z",
            "status": "all",
        },
    )
    get("/v1/declarations", params={"party": "sdf", "status": "all"})
    get("/v1/declarations", params={"limit": 1})
    get("/v1/conflicts")
    for status in ("open", "acknowledged", "resolved"):
        get("/v1/conflicts", params={"status": status})
    get("/v1/parties")
    get("/v1/links")
    get("/openapi.json")
    get("/healthz")
    if conflict_id is not None:
        get(f"/v1/conflicts/{conflict_id}")
        out.append(("POST ack", call(who, "POST", f"/v1/conflicts/{conflict_id}/ack"), False))
    sid = sc.sdf_id
    out.append(("GET sdf's declaration", call(who, "GET", f"/v1/declarations/{sid}"), True))
    put_body = json.loads(json.dumps(saa_feature()))
    out.append(
        (
            "PUT sdf's declaration",
            call(who, "PUT", f"/v1/declarations/{sid}", json=put_body, headers={"If-Match": '"1"'}),
            True,
        )
    )
    out.append(
        (
            "PUT sdf's declaration, other version",
            call(who, "PUT", f"/v1/declarations/{sid}", json=put_body, headers={"If-Match": '"9"'}),
            True,
        )
    )
    out.append(("DELETE sdf's declaration", call(who, "DELETE", f"/v1/declarations/{sid}"), True))
    out.append(("ack with sdf's declaration id", call(who, "POST", f"/v1/conflicts/{sid}/ack"), True))
    out.append(("GET conflict by sdf's declaration id", call(who, "GET", f"/v1/conflicts/{sid}"), True))
    return out


def check_hidden_404s(sc: Scenario, who: str) -> None:
    """Reading or changing sdf's hidden declaration looks exactly like an id that does not exist."""
    unknown = str(uuid.uuid4())
    put_body = saa_feature()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("GET", {}),
        ("PUT", {"json": put_body, "headers": {"If-Match": '"1"'}}),
        ("PUT", {"json": put_body, "headers": {"If-Match": '"9"'}}),
        ("DELETE", {}),
    ]
    for method, kw in cases:
        hidden = sc.call(who, method, f"/v1/declarations/{sc.sdf_id}", **kw)
        missing = sc.call(who, method, f"/v1/declarations/{unknown}", **kw)
        assert hidden.status_code == 404, (who, method, hidden.status_code, hidden.text)
        assert missing.status_code == 404, (who, method, missing.status_code, missing.text)
        assert hidden.headers["content-type"].startswith("application/problem+json")
        assert hidden.headers["content-type"] == missing.headers["content-type"]
        assert "etag" not in {k.lower() for k in hidden.headers}
        same_hidden = hidden.text.replace(sc.sdf_id, "<ID>")
        same_missing = missing.text.replace(unknown, "<ID>")
        assert same_hidden == same_missing, f"{who} {method}: hidden {same_hidden} vs unknown {same_missing}"


def check_saa_conflict(sc: Scenario, conflict: dict[str, Any]) -> None:
    assert conflict["other_party"] == "sdf"
    assert conflict["other_declaration"] is None
    assert conflict["declaration"] == sc.saa["id"]
    assert conflict["kind"] == "proximity"
    assert conflict["required_m"] == pytest.approx(2000)
    geod = Geodesic.WGS84
    corner_to_corner = geod.Inverse(SAA_N, SAA_E, SDF_S, SDF_W)["s12"]
    # sdf's area is hidden from saa: measured to its covering, floored to its 1 km precision — never more
    assert conflict["distance_m"] % 1000 == 0 and conflict["distance_m"] <= corner_to_corner
    assert conflict["location_uncertainty_m"] > 1000
    assert conflict["time"] == {"start": "2017-09-09T05:00:00Z", "end": "2017-09-20T00:00:00Z"}
    loc = conflict["location"]
    assert loc["type"] == "Point"
    lon, lat = loc["coordinates"]
    here = Point(lon, lat)
    assert Polygon(SAA_RING).distance(here) < 1e-6, f"location {loc} is not on saa's own shape"
    assert Polygon(SDF_RING).distance(here) > 1e-3, f"location {loc} lies on sdf's shape"
    # ... and it holds none of sdf's coordinates: tests/e2e/test_red_team.py shows it moves not at all while sdf's
    # area moves within its cells


def prove(sc: Scenario) -> str:
    """The whole proof on an already set-up channel; returns saa's conflict id."""
    saa_conflicts = sc.saa["conflicts"]
    assert len(saa_conflicts) == 1, sc.saa
    assert_no_leak("saa's POST /v1/declarations response", json.dumps(sc.saa), sc.sdf_id)
    check_saa_conflict(sc, saa_conflicts[0])
    conflict_id = saa_conflicts[0]["id"]

    # sdf, for its part, sees the conflict with saa (whose geometry is hidden from it: audience
    # ["russia"])
    sdf_conflicts = sc.call("sdf", "GET", "/v1/conflicts").json()
    assert [c["other_party"] for c in sdf_conflicts] == ["saa"]
    assert sdf_conflicts[0]["other_declaration"] is None
    assert sdf_conflicts[0]["id"] == conflict_id

    for who, cid in (("saa", conflict_id), ("russia", None)):
        for label, response, names_id in read_paths(sc, who, cid):
            assert response.status_code < 500, (who, label, response.text)
            assert_no_leak(
                f"{who}: {label} ({response.status_code})",
                response.text,
                None if names_id else sc.sdf_id,
            )
            for name, value in response.headers.items():
                assert_no_leak(f"{who}: {label} header {name}", value, None if names_id else sc.sdf_id)
        check_hidden_404s(sc, who)

    # saa's own view: its declaration only; the conflict is there with the other's id withheld
    saa_list = sc.call("saa", "GET", "/v1/declarations", params={"status": "all"}).json()
    assert [f["id"] for f in saa_list["features"]] == [sc.saa["id"]]
    one = sc.call("saa", "GET", f"/v1/conflicts/{conflict_id}").json()
    assert one["other_declaration"] is None and one["other_party"] == "sdf"
    check_saa_conflict(sc, one)

    # russia: saa's area (shared with it), nothing of sdf's, no conflicts
    russia_list = sc.call("russia", "GET", "/v1/declarations", params={"status": "all"}).json()
    assert [f["id"] for f in russia_list["features"]] == [sc.saa["id"]]
    assert sc.call("russia", "GET", "/v1/conflicts").json() == []
    for path in (f"/v1/conflicts/{conflict_id}", f"/v1/conflicts/{conflict_id}/ack"):
        method = "POST" if path.endswith("/ack") else "GET"
        r = sc.call("russia", method, path)
        assert r.status_code == 404, (path, r.status_code, r.text)
    return str(conflict_id)


def share_with_saa(sc: Scenario) -> None:
    """sdf opens its area to saa; saa sees it from then on; russia still does not."""
    r = sc.call(
        "sdf",
        "PUT",
        f"/v1/declarations/{sc.sdf_id}",
        json=sdf_feature(["saa"]),
        headers={"If-Match": f'"{sc.sdf["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == sc.sdf["version"] + 1

    got = sc.call("saa", "GET", f"/v1/declarations/{sc.sdf_id}")
    assert got.status_code == 200, got.text
    assert got.json()["geometry"]["coordinates"] == [SDF_RING]
    listed = sc.call("saa", "GET", "/v1/declarations").json()
    assert {f["id"] for f in listed["features"]} == {sc.sdf_id, sc.saa["id"]}
    open_now = sc.call("saa", "GET", "/v1/conflicts", params={"status": "open"}).json()
    assert len(open_now) == 1, open_now
    assert open_now[0]["other_declaration"] == sc.sdf_id
    assert open_now[0]["other_party"] == "sdf"
    for c in sc.call("saa", "GET", "/v1/conflicts").json():
        assert c["other_declaration"] == sc.sdf_id  # the old conflict too: visibility is judged now

    for label, response, names_id in read_paths(sc, "russia", None):
        assert response.status_code < 500, (label, response.text)
        assert_no_leak(
            f"russia after sharing with saa: {label}",
            response.text,
            None if names_id else sc.sdf_id,
        )
    check_hidden_404s(sc, "russia")


def test_need_to_know_in_process(api: Api) -> None:
    for party in ("sdf", "saa", "russia"):
        api.add_party(party)
    sc = Scenario(api.call, api.declare)
    sc.run()
    conflict_id = prove(sc)

    # saa acknowledged the conflict while probing (POST ack is a read path too); sdf is told,
    # nothing more
    sdf_view = api.call("sdf", "GET", f"/v1/conflicts/{conflict_id}").json()
    assert sdf_view["other_acknowledged"] is True
    assert sdf_view["status"] == "open"
    saa_view = api.call("saa", "GET", f"/v1/conflicts/{conflict_id}").json()
    assert saa_view["status"] == "acknowledged"

    share_with_saa(sc)


# --------------------------------------------------------------------------------------------------
# The same proof over a real server, with the event streams of all three parties
# --------------------------------------------------------------------------------------------------


class HttpApi:
    """The same interface as tests.conftest.Api, over real HTTP."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10.0)
        self.tokens: dict[str, str] = {"admin": E2E_ADMIN}

    def close(self) -> None:
        self.http.close()

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def add_party(self, party_id: str) -> str:
        r = self.call("admin", "POST", "/v1/parties", json={"id": party_id, "name": party_id.upper()})
        assert r.status_code == 201, r.text
        self.tokens[party_id] = r.json()["token"]
        return self.tokens[party_id]

    def declare(self, who: str, feat: dict[str, Any]) -> dict[str, Any]:
        r = self.call(who, "POST", "/v1/declarations", json=feat)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.mark.slow
def test_need_to_know_event_streams(server: Server) -> None:
    api = HttpApi(server)
    streams: dict[str, SseStream] = {}
    try:
        for party in ("sdf", "saa", "russia"):
            api.add_party(party)
        for party in ("sdf", "saa", "russia"):
            streams[party] = SseStream(server.url, api.tokens[party])
        sc = Scenario(api.call, api.declare)
        sc.run()
        conflict_id = prove(sc)

        saa_events = streams["saa"].drain()
        russia_events = streams["russia"].drain()
        sdf_events = streams["sdf"].drain()
        assert streams["saa"].error is None and streams["russia"].error is None
        opened = [e for e in saa_events if e.event == "conflict.opened"]
        assert len(opened) == 1, [e.event for e in saa_events]
        data = opened[0].json()["data"]
        assert data["id"] == conflict_id and data["other_party"] == "sdf" and data["other_declaration"] is None
        assert_no_leak("saa's event stream", streams["saa"].text(), sc.sdf_id)
        assert_no_leak("russia's event stream", streams["russia"].text(), sc.sdf_id)
        # russia hears only that saa shared its area with it
        assert [(e.event, e.json()["data"]["declaration"]["id"]) for e in russia_events] == [
            ("declaration.shared", sc.saa["id"])
        ]
        # sdf hears of the conflict and of saa's acknowledgement, and nothing of saa's geometry
        assert {"conflict.opened", "conflict.acknowledged"} <= {e.event for e in sdf_events}
        sdf_text = _TIMESTAMP.sub("<time>", streams["sdf"].text())
        assert "40.115" not in sdf_text and "35.339" not in sdf_text, "sdf's stream shows saa's geometry"

        share_with_saa(sc)
        shared, _ = streams["saa"].wait_for(lambda e: e.event == "declaration.shared", timeout_s=3)
        assert shared is not None, "saa was not told that sdf shared its declaration"
        assert shared.json()["data"]["declaration"]["geometry"]["coordinates"] == [SDF_RING]
        streams["russia"].drain(timeout_s=2)
        assert_no_leak("russia's event stream after sharing", streams["russia"].text(), sc.sdf_id)
        assert streams["russia"].error is None
    finally:
        for stream in streams.values():
            stream.close()
        api.close()
