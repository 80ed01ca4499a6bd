"""The ASTM F3548-21 DSS (/dss/v1) over real HTTP against real `deconf serve` processes: configured from the auth
server's keys as a PEM or a JWKS file, two USSs strategically deconflicting through it the way InterUSS's
uss_qualifier DSS scenarios drive a DSS (query, the key rule on creation and on mutation, subscribers to notify,
activation, deletion by OVN), USS availability and reports, and durability across a SIGKILL.

Access tokens come from tests/f3548_tokens.TokenMint, a stand-in auth server with a real RSA key pair.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import AS_ADMIN, Server
from tests.f3548_tokens import TokenMint

pytestmark = pytest.mark.slow

SC = "utm.strategic_coordination"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"
USS1_URL = "https://uss1.example"
USS2_URL = "https://uss2.example"
OIR = "/operational_intent_references"


# --------------------------------------------------------------------------------------------------
# helpers (also used by test_dss_concurrency.py)
# --------------------------------------------------------------------------------------------------


def f3548_env(mint: TokenMint, keys: str = "pem") -> dict[str, str]:
    """The settings that turn the DSS on, its keys read from the PEM or the JWKS file the mint wrote."""
    path = mint.pem_path if keys == "pem" else mint.jwks_path
    return {"DECONF_F3548_PUBLIC_KEYS": str(path), "DECONF_F3548_AUDIENCE": mint.audience}


def on_backend(backend: str, request: pytest.FixtureRequest) -> tuple[dict[str, str], Callable[..., Server]]:
    """As test_workers.py: PostgreSQL in a fresh schema (pg_url), or the server's own SQLite file; and the
    server_factory, asked for after pg_url so that its servers stop before the schema is dropped."""
    env = {"DECONF_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgresql" else {}
    factory: Callable[..., Server] = request.getfixturevalue("server_factory")
    return env, factory


def t(at: datetime) -> dict[str, str]:
    return {"value": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "format": "RFC3339"}


def volume(lat: float, lng: float, radius_m: float = 300, start_min: float = 5, end_min: float = 65) -> dict[str, Any]:
    """A Volume4D: a circle 0–120 m above the WGS84 ellipsoid, from now + start_min to now + end_min."""
    now = datetime.now(UTC)
    return {
        "volume": {
            "outline_circle": {"center": {"lat": lat, "lng": lng}, "radius": {"value": radius_m, "units": "M"}},
            "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 120, "reference": "W84", "units": "M"},
        },
        "time_start": t(now + timedelta(minutes=start_min)),
        "time_end": t(now + timedelta(minutes=end_min)),
    }


def oi_body(
    extents: dict[str, Any],
    *,
    key: Iterable[str] = (),
    state: str = "Accepted",
    base_url: str = USS1_URL,
    new_subscription: bool = True,
    **more: Any,
) -> dict[str, Any]:
    """PutOperationalIntentReferenceParameters; with an implicit subscription unless told otherwise."""
    body: dict[str, Any] = {"extents": [extents], "key": list(key), "state": state, "uss_base_url": base_url}
    if new_subscription:
        body["new_subscription"] = {"uss_base_url": base_url}
    body.update(more)
    return body


def new_id() -> str:
    return str(uuid.uuid4())


def ids(references: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in references]


def notified(answer: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """subscription id → (the USS base URL it is grouped under, its notification index), from `subscribers`."""
    return {
        s["subscription_id"]: (group["uss_base_url"], s["notification_index"])
        for group in answer["subscribers"]
        for s in group["subscriptions"]
    }


class Uss:
    """A USS calling the DSS with its own HTTP client and an access token for `scopes`."""

    def __init__(self, server: Server, mint: TokenMint, sub: str, scopes: Iterable[str] = (SC,)) -> None:
        self.sub = sub
        token = mint.mint(sub, scopes)
        self.http = httpx.Client(base_url=f"{server.url}/dss/v1", headers={"Authorization": f"Bearer {token}"},
                                 timeout=30)  # fmt: skip

    def __enter__(self) -> Uss:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, expect: int | None = None, **kw: Any) -> httpx.Response:
        r = self.http.request(method, path, **kw)
        if expect is not None:
            assert r.status_code == expect, f"{self.sub} {method} {path}: {r.status_code} {r.text}"
        return r

    def query(self, area: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.call("POST", f"{OIR}/query", 200, json={"area_of_interest": area})
        found: list[dict[str, Any]] = r.json()["operational_intent_references"]
        return found

    def get_oi(self, oi_id: str) -> dict[str, Any]:
        reference: dict[str, Any] = self.call("GET", f"{OIR}/{oi_id}", 200).json()["operational_intent_reference"]
        return reference

    def get_sub(self, sub_id: str) -> dict[str, Any]:
        subscription: dict[str, Any] = self.call("GET", f"/subscriptions/{sub_id}", 200).json()["subscription"]
        return subscription


def dss_server(
    server_factory: Callable[..., Server], tmp_path: Path, *, keys: str = "pem", workers: int = 1,
    env: dict[str, str] | None = None,
) -> tuple[Server, TokenMint]:  # fmt: skip
    mint = TokenMint(tmp_path / "auth")
    server = server_factory(workers=workers, extra_env={**f3548_env(mint, keys), **(env or {})}, wait_s=90)
    return server, mint


# --------------------------------------------------------------------------------------------------
# configuration and access tokens
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", ["pem", "jwks"])
def test_the_dss_checks_access_tokens_against_the_keys_file(
    keys: str, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server, mint = dss_server(server_factory, tmp_path, keys=keys)
    area = {"area_of_interest": volume(1.0, 1.0)}
    query = f"{server.url}/dss/v1{OIR}/query"
    with httpx.Client(timeout=10) as http:
        r = http.post(query, json=area, headers=mint.bearer("uss1", [SC]))
        assert r.status_code == 200, r.text
        assert r.json() == {"operational_intent_references": []}
        refused: dict[str, dict[str, str]] = {
            "no token": {},
            "another audience": mint.bearer("uss1", [SC], aud="other-dss.example.org"),
            "expired": mint.bearer("uss1", [SC], exp_s=-120),
            "signed by another key": TokenMint(tmp_path / "impostor", fresh=True).bearer("uss1", [SC]),
            "not a JWT": {"Authorization": "Bearer dcf_channel_token_is_not_a_dss_token_000"},
        }
        for why, headers in refused.items():
            r = http.post(query, json=area, headers=headers)
            assert r.status_code == 401, f"{why}: {r.status_code} {r.text}"
            assert set(r.json()) == {"message"} and r.json()["message"], why  # F3548 ErrorResponse
        # a valid token without the scope the operation needs: 403
        r = http.post(query, json=area, headers=mint.bearer("uss1", [CP]))
        assert r.status_code == 403, r.text
        assert "message" in r.json()
        r = http.put(f"{server.url}/dss/v1/uss_availability/uss2", json={"old_version": "", "availability": "Down"},
                     headers=mint.bearer("uss1", [SC]))  # fmt: skip
        assert r.status_code == 403, r.text


def test_a_dss_not_configured_answers_401_saying_how_to_configure_it(server_factory: Callable[..., Server],
                                                                       tmp_path: Path) -> None:  # fmt: skip
    server = server_factory()
    mint = TokenMint(tmp_path / "auth")
    with httpx.Client(timeout=10) as http:
        for headers in ({}, mint.bearer("uss1", [SC])):
            r = http.post(f"{server.url}/dss/v1{OIR}/query", json={"area_of_interest": volume(1.0, 1.0)},
                          headers=headers)  # fmt: skip
            assert r.status_code == 401, r.text
            message = r.json()["message"]
            assert "DECONF_F3548_PUBLIC_KEYS" in message and "DECONF_F3548_AUDIENCE" in message, message


# --------------------------------------------------------------------------------------------------
# two USSs, the full flow
# --------------------------------------------------------------------------------------------------


def test_two_usss_deconflict_through_the_dss(server_factory: Callable[..., Server], tmp_path: Path) -> None:
    # One worker: with several, a read may be answered by a worker that has not yet applied the write just answered
    # (test_a_write_answered_is_seen_at_once_by_every_worker); the flow is what this test is about.
    server, mint = dss_server(server_factory, tmp_path, workers=1)
    lat, lng = 46.5, 6.6
    area = volume(lat, lng, radius_m=3000, start_min=0, end_min=120)
    with (
        Uss(server, mint, "uss1") as uss1,
        Uss(server, mint, "uss2") as uss2,
        Uss(server, mint, "arbiter", [AA]) as arbiter,
    ):
        # USS1 subscribes to the area, then plans an operational intent there (Accepted, implicit subscription)
        s1 = new_id()
        sub_body = {"extents": volume(lat, lng, radius_m=3000, start_min=0, end_min=180),
                    "uss_base_url": USS1_URL, "notify_for_operational_intents": True}  # fmt: skip
        made = uss1.call("PUT", f"/subscriptions/{s1}", 200, json=sub_body).json()
        assert made["subscription"]["id"] == s1 and made["subscription"]["notification_index"] == 0
        assert made["operational_intent_references"] == []
        a_id = new_id()
        r = uss1.call("PUT", f"{OIR}/{a_id}", 201, json=oi_body(volume(lat, lng), base_url=USS1_URL))
        a = r.json()["operational_intent_reference"]
        assert (a["id"], a["manager"], a["version"], a["state"]) == (a_id, "uss1", 1, "Accepted")
        assert a["ovn"] and a["subscription_id"] not in (None, s1)
        a_sub = a["subscription_id"]
        assert notified(r.json())[s1] == (USS1_URL, 1)  # its own subscription covers it

        # USS2 looks at the area: USS1's intent, without its OVN (only its manager sees that)
        seen = uss2.query(area)
        assert ids(seen) == [a_id] and seen[0]["ovn"] == "Available from USS"
        assert seen[0]["manager"] == "uss1" and seen[0]["uss_base_url"] == USS1_URL
        assert uss2.get_oi(a_id)["ovn"] == "Available from USS"

        # USS2 plans an intersecting intent with an empty key: 409, naming USS1's intent (still without its OVN)
        b_id = new_id()
        b_volume = volume(lat + 0.001, lng + 0.001)
        r = uss2.call("PUT", f"{OIR}/{b_id}", 409, json=oi_body(b_volume, base_url=USS2_URL))
        conflict = r.json()
        assert conflict["message"]
        assert ids(conflict["missing_operational_intents"]) == [a_id]
        assert conflict["missing_operational_intents"][0]["ovn"] == "Available from USS"
        assert conflict.get("missing_constraints", []) == []
        uss2.call("GET", f"{OIR}/{b_id}", 404)  # nothing was written
        # …with an OVN that is not A's: still 409
        uss2.call("PUT", f"{OIR}/{b_id}", 409, json=oi_body(b_volume, key=["x" * 43], base_url=USS2_URL))

        # USS2 gets A's OVN from USS1 (its details endpoint; here: USS1's own answer) and retries: 201
        before = {s1: uss1.get_sub(s1)["notification_index"], a_sub: uss1.get_sub(a_sub)["notification_index"]}
        r = uss2.call("PUT", f"{OIR}/{b_id}", 201, json=oi_body(b_volume, key=[a["ovn"]], base_url=USS2_URL))
        b = r.json()["operational_intent_reference"]
        assert (b["id"], b["manager"], b["version"], b["state"]) == (b_id, "uss2", 1, "Accepted") and b["ovn"]
        told = notified(r.json())
        # USS2 must notify USS1's subscriptions, each at its next notification index
        assert told[s1] == (USS1_URL, before[s1] + 1)
        assert told[a_sub] == (USS1_URL, before[a_sub] + 1)
        assert uss1.get_sub(s1)["notification_index"] == before[s1] + 1
        assert uss1.get_sub(a_sub)["notification_index"] == before[a_sub] + 1
        assert {x["id"]: x["ovn"] != "Available from USS" for x in uss2.query(area)} == {a_id: False, b_id: True}

        # USS1 activates A (update by its OVN): its key must now hold B's OVN
        activate = oi_body(
            volume(lat, lng), state="Activated", base_url=USS1_URL, new_subscription=False, subscription_id=a_sub
        )  # as the reference DSS: an update names the subscription it keeps
        r = uss1.call("PUT", f"{OIR}/{a_id}/{a['ovn']}", 409, json=activate)
        assert ids(r.json()["missing_operational_intents"]) == [b_id]
        assert r.json()["missing_operational_intents"][0]["ovn"] == "Available from USS"
        assert uss1.get_oi(a_id) == a  # unchanged
        r = uss1.call("PUT", f"{OIR}/{a_id}/{a['ovn']}", 200, json={**activate, "key": [b["ovn"]]})
        activated = r.json()["operational_intent_reference"]
        assert (activated["version"], activated["state"]) == (2, "Activated")
        assert activated["ovn"] != a["ovn"] and activated["subscription_id"] == a_sub
        b_sub = b["subscription_id"]
        assert notified(r.json())[b_sub][0] == USS2_URL  # USS1 must notify USS2 in turn
        # the old OVN no longer works
        uss1.call("PUT", f"{OIR}/{a_id}/{a['ovn']}", 409, json={**activate, "key": [b["ovn"]]})
        # another USS may not change USS1's intent
        uss2.call("PUT", f"{OIR}/{a_id}/{activated['ovn']}", 403, json={**activate, "key": [b["ovn"]]})

        # USS availability: Unknown until an arbiter says otherwise; read-modify-write by version
        r = uss2.call("GET", "/uss_availability/uss1", 200).json()
        assert r == {"version": "", "status": {"uss": "uss1", "availability": "Unknown"}}
        uss1.call("PUT", "/uss_availability/uss1", 403, json={"old_version": "", "availability": "Normal"})
        set_ = arbiter.call("PUT", "/uss_availability/uss1", 200, json={"old_version": "", "availability": "Normal"})
        v1 = set_.json()["version"]
        assert v1 and set_.json()["status"] == {"uss": "uss1", "availability": "Normal"}
        arbiter.call("PUT", "/uss_availability/uss1", 409, json={"old_version": "", "availability": "Down"})
        assert uss2.call("GET", "/uss_availability/uss1", 200).json() == set_.json()
        assert uss2.get_oi(a_id)["uss_availability"] == "Normal"
        assert {x["id"]: x["uss_availability"] for x in uss2.query(area)} == {a_id: "Normal", b_id: "Unknown"}
        down = arbiter.call("PUT", "/uss_availability/uss1", 200, json={"old_version": v1, "availability": "Down"})
        assert down.json()["version"] not in ("", v1)
        assert uss1.call("GET", "/uss_availability/uss1", 200).json()["status"]["availability"] == "Down"
        assert uss2.get_oi(a_id)["uss_availability"] == "Down"
        # (a Down USS may not delete its intents: the arbiter finds it Normal again first)
        arbiter.call("PUT", "/uss_availability/uss1", 200,
                     json={"old_version": down.json()["version"], "availability": "Normal"})  # fmt: skip

        # deletions, by current OVN only
        uss2.call("DELETE", f"{OIR}/{b_id}/{'y' * 43}", 409)
        uss1.call("DELETE", f"{OIR}/{b_id}/{b['ovn']}", 403)
        r = uss2.call("DELETE", f"{OIR}/{b_id}/{b['ovn']}", 200)
        assert r.json()["operational_intent_reference"]["id"] == b_id
        assert notified(r.json())[s1][0] == USS1_URL
        uss1.call("DELETE", f"{OIR}/{a_id}/{a['ovn']}", 409)
        uss1.call("DELETE", f"{OIR}/{a_id}/{activated['ovn']}", 200)
        uss2.call("GET", f"{OIR}/{a_id}", 404)
        assert uss2.query(area) == [] and uss1.query(area) == []
        uss1.call("GET", f"/subscriptions/{a_sub}", 404)  # implicit subscriptions go with their intents
        uss2.call("GET", f"/subscriptions/{b_sub}", 404)
        s1_now = uss1.get_sub(s1)
        uss1.call("DELETE", f"/subscriptions/{s1}/{s1_now['version']}", 200)
        uss1.call("GET", f"/subscriptions/{s1}", 404)

        # a report of a communication problem: kept, with the id the DSS gave it
        report = {
            "exchange": {
                "url": f"{USS1_URL}/uss/v1/operational_intents/{a_id}",
                "method": "GET",
                "headers": ["Authorization: Bearer <redacted>"],
                "recorder_role": "Client",
                "request_time": t(datetime.now(UTC)),
                "response_time": t(datetime.now(UTC)),
                "response_code": 500,
                "problem": "the managing USS answered 500 to a details request",
            }
        }
        r = uss2.call("POST", "/reports", 201, json=report)
        made_report = r.json()
        assert uuid.UUID(made_report["report_id"]) and made_report["exchange"] == report["exchange"]
        uss2.call("POST", "/reports", 400, json={"no": "exchange"})


# --------------------------------------------------------------------------------------------------
# durability across a crash
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_dss_entities_survive_a_sigkill_with_their_versions_and_ovns(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    mint = TokenMint(tmp_path / "auth")
    backend_env, server_factory = on_backend(backend, request)
    env = {**f3548_env(mint), **backend_env}
    server = server_factory(workers=2, extra_env=env, wait_s=90)
    lat, lng = -33.9, 151.2
    area = volume(lat, lng, radius_m=3000, start_min=0, end_min=120)
    a_id, b_id, s1 = new_id(), new_id(), new_id()
    with Uss(server, mint, "uss1") as uss1, Uss(server, mint, "uss2") as uss2:
        sub_body = {"extents": volume(lat, lng, radius_m=3000, start_min=0, end_min=180),
                    "uss_base_url": USS1_URL, "notify_for_operational_intents": True}  # fmt: skip
        uss1.call("PUT", f"/subscriptions/{s1}", 200, json=sub_body)
        a = uss1.call("PUT", f"{OIR}/{a_id}", 201, json=oi_body(volume(lat, lng))).json()[
            "operational_intent_reference"
        ]
        b = uss2.call("PUT", f"{OIR}/{b_id}", 201,
                      json=oi_body(volume(lat, lng), key=[a["ovn"]], base_url=USS2_URL)).json()  # fmt: skip
        b = b["operational_intent_reference"]
        activate = oi_body(
            volume(lat, lng),
            key=[b["ovn"]],
            state="Activated",
            new_subscription=False,
            subscription_id=a["subscription_id"],
        )
        r = uss1.call("PUT", f"{OIR}/{a_id}/{a['ovn']}", 200, json=activate)
        server.kill_all()  # right after the 2xx: no chance to finish anything
    activated = r.json()["operational_intent_reference"]

    again = server_factory(db=server.db, workers=2, extra_env=env, wait_s=90)
    with Uss(again, mint, "uss1") as uss1, Uss(again, mint, "uss2") as uss2, Uss(again, mint, "uss3") as uss3:
        assert uss1.get_oi(a_id) == activated  # same version, state and OVN
        assert uss2.get_oi(b_id) == b
        s1_after = uss1.get_sub(s1)
        assert s1_after["notification_index"] == 3  # A created, B created, A activated
        assert uss1.get_sub(activated["subscription_id"])["dependent_operational_intents"] == [a_id]
        assert sorted(ids(uss3.query(area))) == sorted([a_id, b_id])
        # the spatial picture was rebuilt: the key rule still holds, against the OVNs of before the crash
        c_id = new_id()
        r = uss3.call("PUT", f"{OIR}/{c_id}", 409, json=oi_body(volume(lat, lng)))
        assert sorted(ids(r.json()["missing_operational_intents"])) == sorted([a_id, b_id])
        r = uss3.call("PUT", f"{OIR}/{c_id}", 409, json=oi_body(volume(lat, lng), key=[a["ovn"], b["ovn"]]))
        assert ids(r.json()["missing_operational_intents"]) == [a_id]  # A's OVN of version 1 is stale
        uss3.call("PUT", f"{OIR}/{c_id}", 201, json=oi_body(volume(lat, lng), key=[activated["ovn"], b["ovn"]]))
        # and the versions go on from where they were
        uss1.call("DELETE", f"{OIR}/{a_id}/{a['ovn']}", 409)
        uss1.call("DELETE", f"{OIR}/{a_id}/{activated['ovn']}", 200)
        uss1.call("PUT", f"/subscriptions/{s1}/{s1_after['version']}", 200, json=sub_body)


# --------------------------------------------------------------------------------------------------
# several workers: read after write
# --------------------------------------------------------------------------------------------------


def worker_clients(server: Server, want: int, tries: int = 80) -> dict[int, httpx.Client]:
    """One open connection per worker (as many of `want` as `tries` new connections reach), keyed by worker pid."""
    clients: dict[int, httpx.Client] = {}
    for _ in range(tries):
        c = server.client(timeout_s=30)
        worker = c.get("/healthz", headers=AS_ADMIN).json()["worker"]
        if worker in clients:
            c.close()
        else:
            clients[worker] = c
        if len(clients) == want:
            break
    return clients


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_write_answered_is_seen_at_once_by_every_worker(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """F3548 (DSS0005, the uss_qualifier "create then query/read" checks): once the DSS has answered 201, the
    intent is in every answer to a GET or a query, whichever worker takes it."""
    mint = TokenMint(tmp_path / "auth")
    backend_env, server_factory = on_backend(backend, request)
    server = server_factory(workers=4, extra_env={**f3548_env(mint), **backend_env}, wait_s=90)
    clients = worker_clients(server, 4)
    try:
        assert len(clients) >= 2, "the connections did not spread over several workers"
        writer_token, reader_token = mint.bearer("uss1", [SC]), mint.bearer("uss2", [SC])
        workers = sorted(clients)
        stale: list[str] = []
        probes = 0
        for i in range(30):
            writer = workers[i % len(workers)]
            oi_id, lat = new_id(), -40.0 + i * 0.1
            r = clients[writer].put(f"/dss/v1{OIR}/{oi_id}", json=oi_body(volume(lat, 20.0)), headers=writer_token)
            assert r.status_code == 201, r.text
            for reader in workers:
                if reader == writer:
                    continue
                probes += 1
                got = clients[reader].get(f"/dss/v1{OIR}/{oi_id}", headers=reader_token)
                found = clients[reader].post(f"/dss/v1{OIR}/query", headers=reader_token,
                                             json={"area_of_interest": volume(lat, 20.0, 1000, 0, 120)})  # fmt: skip
                if got.status_code != 200 or oi_id not in ids(found.json()["operational_intent_references"]):
                    stale.append(f"round {i}: written on worker {writer}, read on {reader}: GET {got.status_code}")
        print(f"[{backend}] stale reads right after a 201: {len(stale)} of {probes}")
        assert stale == [], f"{len(stale)} of {probes} reads missed the write just answered: {stale[:5]}"
    finally:
        for c in clients.values():
            c.close()
