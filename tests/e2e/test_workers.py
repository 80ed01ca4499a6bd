"""Several workers, one channel, over real HTTP: no lost conflict under concurrency, no lost write under SIGKILL.

The server is started the way a user starts it (`deconf serve --workers 4`), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconfliction.domain.signing import canonical_plain
from deconfliction.ledger.verify import verify_lines
from tests.e2e.conftest import AS_ADMIN, Server, SseStream

pytestmark = pytest.mark.slow

PAIRS = 1_000
SIDES = 8  # parties on each side: pair i is parties a{i % SIDES} and b{i % SIDES}


def _square(lon: float, lat: float) -> dict[str, Any]:
    d = 0.01
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def _area(i: int, name: str) -> dict[str, Any]:
    # pair i has its own place, 1° (> 50 km) from every other pair's: it can conflict only with itself, even as
    # coverings (each reaches a few km beyond its square)
    lon, lat = -170.0 + (i % 340) * 1.0, -60.0 + (i // 340 % 120) * 1.0
    return {
        "type": "Feature",
        "geometry": _square(lon, lat),
        "properties": {"kind": "area", "name": name, "start": "2027-01-01T00:00:00Z", "end": "2027-01-02T00:00:00Z",
                       "audience": "conflicts"},
    }  # fmt: skip


def _backend_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    if backend == "postgresql":
        return {"DECONF_DATABASE_URL": request.getfixturevalue("pg_url")}
    return {}


def _parties(server: Server, names: list[str]) -> dict[str, str]:
    tokens = {}
    with server.client(server.admin) as admin:
        for name in names:
            r = admin.post("/v1/parties", json={"id": name, "name": name.upper()})
            assert r.status_code == 201, r.text
            tokens[name] = r.json()["token"]
    return tokens


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_conflict_is_lost_when_pairs_write_at_once_through_different_workers(
    backend: str, request: pytest.FixtureRequest, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(workers=4, extra_env=_backend_env(backend, request), wait_s=90)
    names = [f"a{k}" for k in range(SIDES)] + [f"b{k}" for k in range(SIDES)]
    tokens = _parties(server, names)
    # one connection per party and thread: the kernel spreads connections over the four workers
    local = threading.local()
    workers_seen: set[int] = set()
    opened: list[httpx.Client] = []

    def client(party: str) -> httpx.Client:
        clients: dict[str, httpx.Client] = local.__dict__.setdefault("clients", {})
        if party not in clients:
            clients[party] = server.client(tokens[party], timeout_s=60)
            opened.append(clients[party])
            workers_seen.add(clients[party].get("/healthz", headers=AS_ADMIN).json()["worker"])
        return clients[party]

    def declare(i: int, side: str, start: threading.Barrier) -> tuple[int, str, dict[str, Any]]:
        party = f"{side}{i % SIDES}"
        c = client(party)
        start.wait(timeout=60)  # both sides of the pair send at the same moment
        r = c.post("/v1/declarations", json=_area(i, f"{side} {i}"))
        assert r.status_code == 201, r.text
        return i, side, r.json()

    def pair(i: int) -> list[tuple[int, str, dict[str, Any]]]:
        start = threading.Barrier(2)
        with ThreadPoolExecutor(2) as two:
            return list(two.map(lambda side: declare(i, side, start), ["a", "b"]))

    try:
        with ThreadPoolExecutor(16) as pool:
            results = [r for rs in pool.map(pair, range(PAIRS)) for r in rs]
    finally:
        for c in opened:
            c.close()
    assert len(workers_seen) >= 2, "the requests did not spread over several workers"
    ids = {(i, side): body["id"] for i, side, body in results}
    told = {(i, side): [c["id"] for c in body["conflicts"]] for i, side, body in results}
    # the later writer of each pair is told in its answer; exactly one of the two, whichever committed second
    for i in range(PAIRS):
        assert len(told[(i, "a")]) + len(told[(i, "b")]) == 1, f"pair {i}: {told[(i, 'a')]} {told[(i, 'b')]}"
    # and both parties find the conflict recorded on their side, exactly once, naming their own declaration
    recorded: dict[str, list[dict[str, Any]]] = {}
    for party in names:
        with server.client(tokens[party]) as c:
            page = c.get("/v1/conflicts", params={"limit": 1000})
            assert page.status_code == 200, page.text
            recorded[party] = page.json()
            assert len(recorded[party]) < 1000  # one page holds them all
            assert len({conflict["id"] for conflict in recorded[party]}) == len(recorded[party])
    for i in range(PAIRS):
        a_id, b_id = ids[(i, "a")], ids[(i, "b")]
        for side, own, other in (("a", a_id, b_id), ("b", b_id, a_id)):
            mine = [c for c in recorded[f"{side}{i % SIDES}"] if c["declaration"] == own]
            assert len(mine) == 1, f"pair {i}: {side} sees {len(mine)} conflicts on its declaration"
            assert mine[0]["other_declaration"] is None  # audience "conflicts": the conflict, not the geometry
            assert mine[0]["other_party"] == f"{'b' if side == 'a' else 'a'}{i % SIDES}"
            assert other not in str(mine[0])
    assert sum(len(v) for v in recorded.values()) == 2 * PAIRS


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_sigkill_under_write_load_loses_no_answered_write(
    backend: str, request: pytest.FixtureRequest, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    env = _backend_env(backend, request)
    server = server_factory(workers=4, extra_env=env, wait_s=90)
    tokens = _parties(server, ["sdf", "saa"])
    answered: list[tuple[str, str]] = []
    unanswered: list[tuple[str, str, dict[str, Any]]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(n: int) -> None:
        party = "sdf" if n % 2 else "saa"
        with server.client(tokens[party], timeout_s=30) as c:
            i = 0
            while not stop.is_set():
                i += 1
                body, key = _area(n * 5_000 + i, f"load {n}-{i}"), f"{n}-{i}"
                try:
                    r = c.post("/v1/declarations", json=body, headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    with lock:
                        unanswered.append((party, key, body))  # committed or not: the client cannot tell
                    return
                assert r.status_code == 201, r.text
                with lock:
                    answered.append((party, r.json()["id"]))

    with ThreadPoolExecutor(12) as pool:
        loads = [pool.submit(load, n) for n in range(12)]
        deadline = time.monotonic() + 60
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill_all()  # parent and workers, mid-write
        stop.set()
    for done in loads:
        done.result()  # no thread saw anything but 201 before the kill
    assert len(answered) >= 300
    restarted = server_factory(db=server.db, workers=1, extra_env=env, wait_s=90)
    missing = []
    clients = {party: restarted.client(token) for party, token in tokens.items()}
    try:
        for party, declaration_id in answered:
            r = clients[party].get(f"/v1/declarations/{declaration_id}")
            if r.status_code != 200:
                missing.append((declaration_id, r.status_code, r.text[:200]))
    finally:
        for client in clients.values():
            client.close()
    assert missing == [], f"{len(missing)} of {len(answered)} answered declarations lost: {missing[:3]}"
    # The clients whose requests were cut off retry them with the same keys: none is written twice.
    assert unanswered
    for party, key, body in unanswered:
        with restarted.client(tokens[party]) as c:
            retry = c.post("/v1/declarations", json=body, headers={"Idempotency-Key": key})
            again = c.post("/v1/declarations", json=body, headers={"Idempotency-Key": key})
        assert retry.status_code in (201, 409), retry.text  # written now, or written before the kill
        assert again.status_code == retry.status_code
        if retry.status_code == 201:
            assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == retry.json()["id"]
    for party, token in tokens.items():
        with restarted.client(token) as c:
            names = [f["properties"]["name"] for f in _all_declarations(c, party)]
        assert len(names) == len(set(names)), f"{party}: {len(names) - len(set(names))} declarations written twice"
    with restarted.client(tokens["sdf"]) as c:
        entries: list[bytes] = []
        while True:
            page = c.get("/v1/ledger", params={"after": len(entries), "limit": 1000})
            assert page.status_code == 200, page.text
            batch = page.json()
            if not batch:
                break
            entries.extend(canonical_plain(entry) + b"\n" for entry in batch)
        key = c.get("/v1/ledger/key").json()["public_key"]
    report = verify_lines(entries, key)
    assert report.ok, str(report.failure)
    assert report.entries == len(entries) >= len(answered)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_stream_on_every_worker_sees_a_change_made_through_any_worker(
    backend: str, request: pytest.FixtureRequest, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(workers=4, extra_env=_backend_env(backend, request), wait_s=90)
    tokens = _parties(server, ["sdf", "saa"])
    with server.client(tokens["saa"]) as saa:
        assert saa.post("/v1/declarations", json=_area(7, "saa area")).status_code == 201
    streams: list[SseStream] = []
    holders: set[str] = set()
    try:
        while len(streams) < 16 and (len(holders) < 3 or len(streams) < 8):
            stream = SseStream(server.url, tokens["saa"])
            streams.append(stream)
            holders.add(_holder(stream))
        assert len(holders) >= 2, "the streams did not spread over several workers"
        for _ in range(4):  # through whichever workers the connections reach
            with server.client(tokens["sdf"]) as sdf:
                r = sdf.post("/v1/declarations", json=_area(7, "sdf area"))
                assert r.status_code == 201 and len(r.json()["conflicts"]) == 1
        for stream in streams:
            for n in range(4):
                event, _ = stream.wait_for(lambda e: e.event == "conflict.opened", timeout_s=5)
                assert event is not None, f"the stream on {_holder(stream)} missed conflict {n + 1} of 4"
    finally:
        for stream in streams:
            stream.close()


def _all_declarations(c: httpx.Client, party: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"party": party, "limit": 1000, **({"after": after} if after else {})}
        page = c.get("/v1/declarations", params=params).json()
        out.extend(page["features"])
        after = page.get("next")
        if not after:
            return out


def _holder(stream: SseStream) -> str:
    """The worker holding a stream: it says so in a header."""
    assert stream.worker is not None and stream.worker.isdigit()
    return stream.worker


def test_when_the_leader_dies_another_worker_takes_over(server_factory: Callable[..., Server]) -> None:
    server = server_factory(workers=3, wait_s=90)

    def leader(within_s: float, besides: int | None = None) -> int:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with server.client() as c:  # a new connection each time: it may reach any worker
                health = c.get("/healthz", headers=AS_ADMIN).json()
            if health["leader"] and health["worker"] != besides:
                return int(health["worker"])
            time.sleep(0.05)
        raise AssertionError(f"no worker besides {besides} leads after {within_s} s")

    first = leader(30)
    os.kill(first, signal.SIGKILL)
    assert leader(30, besides=first) != first


def test_workers_stop_when_their_supervisor_is_killed(server_factory: Callable[..., Server]) -> None:
    server = server_factory(workers=2, wait_s=90)
    workers = set()
    deadline = time.monotonic() + 30
    while len(workers) < 2 and time.monotonic() < deadline:
        with server.client() as c:
            workers.add(c.get("/healthz", headers=AS_ADMIN).json()["worker"])
    os.kill(server.proc.pid, signal.SIGKILL)  # the supervisor only, as an OOM killer might
    server.proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "orphaned workers still serve"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split(")")[-1].split()[0] != "Z"
