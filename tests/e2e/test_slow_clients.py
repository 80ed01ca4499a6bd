"""Slow and stuck clients, over real sockets against `deconf serve` (api/slow_clients.py, docs/operations.md): a
slowloris is answered 408 and dropped, a body trickled in likewise, oversized headers 431, idle keep-alive
connections closed, an event stream whose reader stopped is dropped once its buffers are full (and resumes with
Last-Event-ID, losing nothing), a token holds a bounded number of streams, and a new stream starts from now.

Every wait is bounded; no assertion is about how fast anything is.
"""

from __future__ import annotations

import contextlib
import math
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.channel import END, START, Channel, area
from tests.e2e.conftest import AS_ADMIN, HOST, Server, SseStream, start_server

pytestmark = pytest.mark.slow
SLOWLORIS = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "DECONF_HTTP_HEADER_TIMEOUT_S": "1",
        "DECONF_HTTP_BODY_TIMEOUT_S": "1",
        "DECONF_HTTP_KEEP_ALIVE_S": "1",
        "DECONF_HTTP_SEND_STALL_S": "1",
        "DECONF_HTTP_MAX_HEADER_BYTES": "4096",
        "DECONF_SSE_STREAMS_PER_TOKEN": "2",
    }
    started = start_server(tmp_path_factory.mktemp("slow"), extra_env=env)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ch(server: Server) -> Iterator[Channel]:
    channel = Channel(server)
    channel.party("sdf")
    channel.party("saa")
    yield channel
    channel.close()


def connect(server: Server, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((HOST, server.port))
    return s


def read_until_closed(s: socket.socket, within_s: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes (True), or until `within_s` passes with it still open (False)."""
    got = b""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return got, True
        if not chunk:
            return got, True
        got += chunk
    return got, False


def test_slowloris_connections_are_answered_408_and_dropped(server: Server) -> None:
    sockets = [connect(server) for _ in range(SLOWLORIS)]
    try:
        for s in sockets:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed: set[int] = set()
        answers: dict[int, bytes] = {}
        deadline = time.monotonic() + 30
        while len(closed) < SLOWLORIS and time.monotonic() < deadline:
            for i, s in enumerate(sockets):  # a header byte per connection per round, as a slowloris sends them
                if i in closed:
                    continue
                with contextlib.suppress(OSError):
                    s.sendall(b"X")
                s.settimeout(0.001)
                try:
                    chunk = s.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    chunk = b""
                answers[i] = answers.get(i, b"") + chunk
                if not chunk or b"request-timeout" in answers[i]:
                    closed.add(i)
            # meanwhile, a client that sends its request whole is served
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
            time.sleep(0.2)
        assert len(closed) == SLOWLORIS, f"{SLOWLORIS - len(closed)} slow connections still open after 30 s"
        timed_out = [a for a in answers.values() if a.startswith(b"HTTP/1.1 408")]
        assert timed_out and all(b"application/problem+json" in a for a in timed_out)
    finally:
        for s in sockets:
            s.close()


def test_a_silent_connection_and_an_idle_keep_alive_one_are_closed(server: Server) -> None:
    silent = connect(server)
    idle = connect(server)
    try:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answered, _ = read_until_closed(idle, 0.5)
        assert answered.startswith(b"HTTP/1.1 200")
        assert read_until_closed(silent, 15) == (b"", True)
        assert read_until_closed(idle, 15)[1], "an idle keep-alive connection was held open"
    finally:
        silent.close()
        idle.close()


def test_a_trickled_body_is_408_and_huge_headers_431(server: Server) -> None:
    slow = connect(server)
    big: socket.socket | None = None
    try:
        slow.sendall(b"POST /v1/declarations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        slow.sendall(b"Content-Length: 100\r\n\r\n{")
        answer = b""
        for _ in range(40):  # a byte every 0.1 s: never the whole body within the second allowed
            with contextlib.suppress(OSError):
                slow.sendall(b" ")
            more, closed = read_until_closed(slow, 0.1)
            answer += more
            if closed or b"request-timeout" in answer:
                break
        assert answer.startswith(b"HTTP/1.1 408") and b"request-timeout" in answer, answer
        big = connect(server)  # now: a connection that says nothing for a second is closed unanswered
        big.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
        answer, closed = read_until_closed(big, 10)
        assert answer.startswith(b"HTTP/1.1 431") and closed, answer
    finally:
        slow.close()
        if big is not None:
            big.close()


def event_streams(server: Server) -> float:
    metrics = httpx.get(f"{server.url}/metrics", headers=AS_ADMIN, timeout=10).text
    found = re.search(r"^deconf_event_streams (\S+)$", metrics, re.MULTILINE)
    assert found is not None, metrics[:2000]
    return float(found.group(1))


def wait_until(predicate: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def big_area(i: int, vertices: int = 4_000) -> dict[str, object]:
    """A many-sided area shared with all: each `declaration.shared` event carries its whole geometry (~150 kB)."""
    lon0, lat0 = 20.0 + (i % 20) * 0.3, 10.0 + (i // 20) * 0.3
    ring = [
        [lon0 + 0.1 * math.cos(2 * math.pi * k / vertices), lat0 + 0.1 * math.sin(2 * math.pi * k / vertices)]
        for k in range(vertices)
    ]
    ring.append(ring[0])
    properties = {"kind": "area", "name": f"big {i}", "start": START, "end": END, "audience": "all"}
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": properties}


def test_a_stream_that_stopped_reading_is_dropped_and_resumes_losing_nothing(server: Server, ch: Channel) -> None:
    stuck = connect(server, rcvbuf=4096)
    try:
        request = f"GET /v1/events?after=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ch.tokens['saa']}\r\n\r\n"
        stuck.sendall(request.encode())
        assert wait_until(lambda: event_streams(server) >= 1, 10), "the stream did not open"
        ids = [ch.declare("sdf", big_area(i))["id"] for i in range(60)]  # ~9 MB for saa, who never reads
        assert wait_until(lambda: event_streams(server) == 0, 60), "the stuck stream was never dropped"
        received, closed = read_until_closed(stuck, 30)
        assert closed
    finally:
        stuck.close()
    seen = [int(n) for n in re.findall(rb"^id: (\d+)$", received, re.MULTILINE)]
    assert len(seen) < len(ids) + 1, "the whole backlog fit in the buffers: the test proves nothing"
    with SseStream(server.url, ch.tokens["saa"], last_event_id=str(seen[-1])) as resumed:
        shared = [e.json()["data"]["declaration"]["id"] for e in resumed.drain(timeout_s=30) if e.event]
    got = re.findall(rb'"declaration": ?\{[^{]*?"id": ?"([0-9a-f-]{36})"', received)
    complete = [g.decode() for g in got][: len(seen) - 1]  # the events whose frames arrived whole
    assert set(complete) | set(shared) >= set(ids), "an event was lost across the drop"


def test_a_new_stream_starts_from_now_and_history_is_asked_for(ch: Channel) -> None:
    before = ch.declare("saa", area(30.0, 20.0, audience="all"))
    with ch.stream("sdf") as now:
        assert not [e for e in now.drain(timeout_s=2) if e.event == "declaration.shared"]
        after = ch.declare("saa", area(30.5, 20.0, audience="all"))
        event, _ = now.wait_for(lambda e: e.event == "declaration.shared", timeout_s=10)
        assert event is not None and event.json()["data"]["declaration"]["id"] == after["id"]
        start = next(line for line in now.raw if line.startswith("id:"))
        assert int(start.split(":")[1]) < int(event.id or 0)
    with ch.stream("sdf", last_event_id="0") as everything:
        shared = [e.json()["data"]["declaration"]["id"] for e in everything.drain(timeout_s=10)]
    assert before["id"] in shared and after["id"] in shared


def test_a_token_holds_a_bounded_number_of_streams(server: Server, ch: Channel) -> None:
    first, second = ch.stream("saa"), ch.stream("saa")
    try:
        r = httpx.get(f"{server.url}/v1/events", headers={"Authorization": f"Bearer {ch.tokens['saa']}"}, timeout=10)
        assert r.status_code == 429 and "2 event streams" in r.json()["detail"], r.text
        with ch.stream("sdf") as other:  # another token's streams are its own
            assert other.status == 200
        first.close()
        assert wait_until(lambda: _opens(server, ch.tokens["saa"]), 15), "the slot of a closed stream stayed taken"
    finally:
        first.close()
        second.close()


def _opens(server: Server, token: str) -> bool:
    with httpx.stream("GET", f"{server.url}/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=10) as r:
        return r.status_code == 200


def test_the_server_logged_no_error(server: Server, tmp_path: Path) -> None:
    log = server.output()
    for needle in ("Traceback", "unexpected error", "Exception in ASGI", "without completing"):
        assert needle not in log, log[max(0, log.find(needle) - 500) : log.find(needle) + 3000]
