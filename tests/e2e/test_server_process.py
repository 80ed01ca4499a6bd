"""The server as a user runs it: `deconf serve` in its own process, spoken to over real HTTP.

Live events to both parties, resuming with Last-Event-ID, a restart on the same database, and the
admin token
generated and printed once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.channel import END, START, Channel, area, deir_ez_zor
from tests.e2e.conftest import E2E_ADMIN, TOKEN_RE, Server, SseEvent, SseParser, SseStream

pytestmark = pytest.mark.slow


def is_opened(conflict_id: str) -> Callable[[SseEvent], bool]:
    return lambda e: e.event == "conflict.opened" and e.json()["data"]["id"] == conflict_id


def test_live_events_to_both_parties_and_resume(server: Server) -> None:
    ch = Channel(server)
    streams: list[SseStream] = []
    try:
        deir_ez_zor(ch)
        links = ch.ok("sdf", "GET", "/v1/links")
        assert len(links) == 3
        assert {p["id"] for p in ch.ok("saa", "GET", "/v1/parties")} == {
            "coalition",
            "sdf",
            "russia",
            "saa",
        }

        sdf_stream, saa_stream = ch.stream("sdf"), ch.stream("saa")
        streams += [sdf_stream, saa_stream]
        sdf_decl = ch.declare("sdf", area(40.20, 35.40, audience=["coalition"]))
        assert sdf_decl["conflicts"] == []
        saa_decl = ch.declare("saa", area(40.20, 35.37, audience=["russia"]))  # ~1.1 km south
        written_at = time.monotonic()
        assert len(saa_decl["conflicts"]) == 1, saa_decl
        conflict = saa_decl["conflicts"][0]
        cid = conflict["id"]

        for who, stream, own, other in (
            ("saa", saa_stream, saa_decl, "sdf"),
            ("sdf", sdf_stream, sdf_decl, "saa"),
        ):
            event, seen = stream.wait_for(is_opened(cid), timeout_s=3.0)
            assert event is not None, f"{who} got no conflict.opened: {[e.event for e in seen]}"
            assert time.monotonic() - written_at < 3.0
            assert event.id is not None and event.id.isdigit()
            payload = event.json()
            assert payload["type"] == "conflict.opened"
            data = payload["data"]
            assert data["declaration"] == own["id"]
            assert data["other_party"] == other
            assert data["other_declaration"] is None  # neither audience names the other
            assert data["status"] == "open"
            assert data["required_m"] == pytest.approx(2000)
            # each hidden from the other: measured between coverings, floored to the 1 km precision
            assert 0 <= data["distance_m"] < 2000 and data["distance_m"] % 1000 == 0
            assert data["time"] == {"start": START, "end": END}
            listed = ch.ok(who, "GET", "/v1/conflicts")
            assert [c["id"] for c in listed] == [cid]
            assert listed[0]["other_party"] == other

        # coalition and russia are in no conflict and see only what is shared with them
        assert ch.ok("coalition", "GET", "/v1/conflicts") == []
        coalition_sees = ch.ok("coalition", "GET", "/v1/declarations")["features"]
        assert [f["id"] for f in coalition_sees] == [sdf_decl["id"]]

        # saa disconnects; events keep coming; it resumes with Last-Event-ID and misses nothing
        saa_stream.drain(timeout_s=2.0)
        saa_stream.close()
        received = [e for e in seen_events(saa_stream) if e.id]
        assert [e.event for e in received] == ["conflict.opened"]
        last_id = max(int(e.id) for e in received if e.id)

        ch.ok("sdf", "POST", f"/v1/conflicts/{cid}/ack")  # saa: conflict.acknowledged
        second = ch.declare("sdf", area(40.23, 35.37, audience="all"))  # saa: shared + opened
        assert len(second["conflicts"]) == 1
        r = ch.call("sdf", "DELETE", f"/v1/declarations/{sdf_decl['id']}")  # saa: conflict.resolved
        assert r.status_code == 204, r.text

        resumed = ch.stream("saa", last_event_id=str(last_id))
        streams.append(resumed)
        after = resumed.drain(timeout_s=5.0)
        types = [e.event for e in after]
        assert "conflict.acknowledged" in types, types
        assert "conflict.opened" in types, types
        assert "conflict.resolved" in types, types
        assert "declaration.shared" in types, types
        after_ids = [int(e.id) for e in after if e.id]
        assert after_ids == sorted(set(after_ids)), "events repeated or out of order"
        assert all(i > last_id for i in after_ids), "an event before Last-Event-ID was sent again"

        resolved = next(e for e in after if e.event == "conflict.resolved").json()["data"]
        assert resolved["id"] == cid and resolved["resolved_reason"] == "cancelled"

        # a fresh stream from the start holds exactly what the two connections together received
        full = ch.stream("saa", last_event_id="0")
        streams.append(full)
        everything = [int(e.id) for e in full.drain(timeout_s=5.0) if e.id]
        got = sorted(int(e.id) for e in received if e.id) + after_ids
        assert got == everything, (got, everything)
        assert len(set(everything)) == len(everything)

        r = httpx.get(
            f"{server.url}/v1/conflicts/{cid}",
            headers={"Authorization": f"Bearer {ch.tokens['saa']}"},
        )
        assert r.json()["status"] == "resolved"
        assert r.json()["other_acknowledged"] is True
    finally:
        for s in streams:
            s.close()
        ch.close()


def seen_events(stream: SseStream) -> list[SseEvent]:
    """Events already consumed by wait_for are not kept by the stream; re-read them from its raw
    lines."""
    parser = SseParser()
    return [event for line in stream.raw if (event := parser.feed(line)) is not None]


def test_resume_with_after_query_and_bad_last_event_id(server: Server) -> None:
    ch = Channel(server)
    try:
        ch.party("sdf")
        ch.party("saa")
        ch.declare("sdf", area(40.20, 35.40))
        first = ch.declare("saa", area(40.20, 35.37))
        ch.declare("saa", area(40.17, 35.40))
        with ch.stream("saa", last_event_id="0") as s:  # from the start: without it, from now on
            events = s.drain()
        ids = [int(e.id) for e in events if e.id]
        assert len(ids) == 2 and [e.event for e in events] == ["conflict.opened"] * 2
        assert events[0].json()["data"]["declaration"] == first["id"]
        # the `after` query parameter resumes like Last-Event-ID
        with ch.http.stream(
            "GET",
            "/v1/events",
            params={"after": ids[0]},
            headers={"Authorization": f"Bearer {ch.tokens['saa']}"},
            timeout=httpx.Timeout(5.0),
        ) as response:
            assert response.status_code == 200
            got: list[str] = []
            for line in response.iter_lines():
                if line.startswith("id:"):
                    got.append(line.partition(":")[2].strip())
                if line.startswith(":"):
                    break
        assert got == [str(ids[0]), str(ids[1])]  # the first frame names where the stream starts, then the event

        for bad in ("abc", "-1", "1.5"):
            r = httpx.get(
                f"{server.url}/v1/events",
                timeout=3.0,
                headers={"Authorization": f"Bearer {ch.tokens['saa']}", "Last-Event-ID": bad},
            )
            assert r.status_code in (400, 422), (bad, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
        admin = {"Authorization": f"Bearer {E2E_ADMIN}"}
        with httpx.stream("GET", f"{server.url}/v1/events", timeout=3.0, headers=admin) as r:
            assert r.status_code == 200, "the admin's own stream: disclosure.probing of every party"
        r = httpx.get(f"{server.url}/v1/events", timeout=3.0, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
    finally:
        ch.close()


def _snapshot(ch: Channel, parties: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in parties:
        out[f"{p} declarations"] = ch.ok(p, "GET", "/v1/declarations", params={"status": "all"})
        out[f"{p} conflicts"] = ch.ok(p, "GET", "/v1/conflicts")
    out["parties"] = ch.ok("admin", "GET", "/v1/parties")
    out["links"] = ch.ok("admin", "GET", "/v1/links")
    out["healthz"] = {k: v for k, v in ch.ok("admin", "GET", "/healthz").items() if k != "worker"}  # a new process
    return out


def test_restart_on_the_same_db_keeps_everything(server_factory: Callable[..., Server]) -> None:
    first = server_factory()
    ch = Channel(first)
    parties = ["coalition", "sdf", "russia", "saa"]
    try:
        deir_ez_zor(ch)
        a = ch.declare("sdf", area(40.20, 35.40, audience=["coalition"]))
        b = ch.declare("saa", area(40.20, 35.37, audience=["russia"]))
        ch.declare(
            "coalition",
            area(40.30, 35.50, audience="all", altitude={"lower_m": 1500, "upper_m": 9000}),
        )
        cancelled = ch.declare("russia", area(41.0, 36.0))
        assert ch.call("russia", "DELETE", f"/v1/declarations/{cancelled['id']}").status_code == 204
        ch.ok("sdf", "POST", f"/v1/conflicts/{b['conflicts'][0]['id']}/ack")
        revised = ch.ok(
            "saa",
            "PUT",
            f"/v1/declarations/{b['id']}",
            json=area(40.20, 35.375, audience=["russia"], name="moved"),
            headers={"If-Match": '"1"'},
        )
        assert revised["version"] == 2
        before = _snapshot(ch, parties)
        assert before["healthz"]["declarations_active"] == 3
        assert len(before["saa conflicts"]) == 2  # the first resolved (updated), the second open
    finally:
        ch.close()

    code = first.stop(signal.SIGTERM, timeout_s=10.0)
    assert code is not None, "deconf serve did not stop within 10 s of SIGTERM"
    assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM), code
    assert "Traceback" not in first.output(), first.output()

    second = server_factory(db=first.db)
    ch2 = Channel(second)
    ch2.tokens.update({p: t for p, t in ch.tokens.items() if p != "admin"})
    try:
        after = _snapshot(ch2, parties)
        assert after == before
        # the admin token still works, for reading and for writing
        ch2.party("observer")
        assert {p["id"] for p in ch2.ok("admin", "GET", "/v1/parties")} >= {*parties, "observer"}
        # the active picture was rebuilt: a new declaration conflicts with one written before the
        # restart
        late = ch2.declare("russia", area(40.20, 35.425))
        assert "sdf" in {c["other_party"] for c in late["conflicts"]}, late["conflicts"]
        # ... and not with a cancelled one
        assert ch2.declare("saa", area(41.0, 36.0))["conflicts"] == []
        assert ch2.ok("sdf", "GET", f"/v1/declarations/{a['id']}")["properties"]["version"] == 1
    finally:
        ch2.close()


def test_generated_admin_token_is_printed_once(server_factory: Callable[..., Server]) -> None:
    first = server_factory(admin=None)
    out1 = first.output()
    tokens = TOKEN_RE.findall(out1)
    assert len(tokens) == 1, f"expected the generated admin token once in stdout:\n{out1}"
    token = tokens[0]
    r = httpx.post(
        f"{first.url}/v1/parties",
        json={"id": "sdf", "name": "SDF"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    assert r.status_code == 201, r.text
    party_token = r.json()["token"]
    assert first.stop() is not None

    second = server_factory(admin=None, db=first.db)
    out2 = second.output()
    assert TOKEN_RE.findall(out2) == [], f"a token was printed again:\n{out2}"
    assert token not in out2
    r = httpx.get(f"{second.url}/v1/parties", headers={"Authorization": f"Bearer {token}"}, timeout=5.0)
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{second.url}/v1/parties",
        json={"id": "saa", "name": "SAA"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    assert r.status_code == 201, r.text
    r = httpx.get(
        f"{second.url}/v1/conflicts",
        headers={"Authorization": f"Bearer {party_token}"},
        timeout=5.0,
    )
    assert r.status_code == 200
    # the printed token is a real admin token, and a wrong one is refused
    r = httpx.get(f"{second.url}/v1/parties", headers={"Authorization": f"Bearer {token}x"}, timeout=5.0)
    assert r.status_code == 401


def test_sigterm_stops_the_server_even_with_an_open_event_stream(server: Server) -> None:
    ch = Channel(server)
    try:
        ch.party("sdf")
        stream = ch.stream("sdf")
        try:
            started = time.monotonic()
            code = server.stop(signal.SIGTERM, timeout_s=10.0)
            assert code is not None, "the server hung on SIGTERM with an event stream open"
            assert time.monotonic() - started < 10.0
        finally:
            stream.close()
    finally:
        ch.close()


def test_healthz_docs_and_openapi(server: Server) -> None:
    r = httpx.get(f"{server.url}/healthz", timeout=5.0)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    spec = httpx.get(f"{server.url}/openapi.json", timeout=5.0).json()
    for path in (
        "/v1/parties",
        "/v1/parties/{party_id}",
        "/v1/links",
        "/v1/declarations",
        "/v1/declarations/{declaration_id}",
        "/v1/conflicts",
        "/v1/conflicts/{conflict_id}",
        "/v1/conflicts/{conflict_id}/ack",
        "/v1/events",
        "/healthz",
    ):
        assert path in spec["paths"], path
    docs = httpx.get(f"{server.url}/docs", timeout=5.0)
    assert docs.status_code == 200 and "html" in docs.headers["content-type"]
    # the server listens on 127.0.0.1 only, as asked
    assert f"127.0.0.1:{server.port}" in server.output()


def test_oversized_bodies_are_413_over_real_http(server: Server) -> None:
    """With and without Content-Length (chunked upload), over the default 1 MiB limit."""
    ch = Channel(server)
    try:
        ch.party("sdf")
        raw = b'{"type": "Feature", "pad": "' + b"p" * 1_200_000 + b'"}'
        headers = {"Content-Type": "application/json"}
        sized = ch.call("sdf", "POST", "/v1/declarations", content=raw, headers=headers)
        assert sized.status_code == 413, sized.text
        assert sized.headers["content-type"].startswith("application/problem+json")

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(raw), 65_536):
                yield raw[i : i + 65_536]

        chunked = ch.call("sdf", "POST", "/v1/declarations", content=chunks(), headers=headers)
        assert chunked.status_code == 413, (chunked.status_code, chunked.text)
        assert chunked.headers["content-type"].startswith("application/problem+json")
        assert ch.ok("admin", "GET", "/healthz")["declarations_active"] == 0
    finally:
        ch.close()
