"""TAK clients against a real `deconf serve`: certificates from `deconf cert issue`, `pytak` as the client over
mutual TLS (and plain TCP on loopback for one configured party), pings answered, positions becoming the party's
track, and the picture exported with `deconf cot export`."""

from __future__ import annotations

import asyncio
import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from configparser import ConfigParser, SectionProxy
from pathlib import Path

import pytak
import pytest

from deconfliction.adapters.cot import parse_event
from tests.e2e.channel import Channel, area
from tests.e2e.conftest import Server, clean_env, free_port, run_cli

pytestmark = [
    pytest.mark.slow,
    # pytak sets ssl.OP_NO_TLSv1 and OP_NO_TLSv1_1 on its client context, which Python deprecates
    pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning"),
]


def cot_server(server_factory: Callable[..., Server], tcp_party: str = "saa") -> tuple[Server, int, int]:
    tls_port, tcp_port = free_port(), free_port()
    env = {"DECONF_COT_TLS_PORT": str(tls_port), "DECONF_COT_PORT": str(tcp_port), "DECONF_COT_TCP_PARTY": tcp_party}
    return server_factory(extra_env=env), tls_port, tcp_port


def issue(server: Server, party: str, out: Path) -> None:
    result = run_cli("cert", "issue", party, "-o", str(out), "--db", str(server.db), "--p12-password", "pw-e2e")
    assert result.code == 0, result.output
    assert (out / f"{party}.p12").exists() and (out / "truststore.p12").exists()


def tls_config(port: int, folder: Path, party: str) -> SectionProxy:
    parser = ConfigParser()
    parser["DEFAULT"] = {
        "COT_URL": f"tls://127.0.0.1:{port}",
        "PYTAK_TLS_CLIENT_CERT": str(folder / f"{party}.cert.pem"),
        "PYTAK_TLS_CLIENT_KEY": str(folder / f"{party}.key.pem"),
        "PYTAK_TLS_CLIENT_CAFILE": str(folder / "ca.cert.pem"),  # the server is verified, host name included
    }
    return parser["DEFAULT"]


def tcp_config(port: int) -> SectionProxy:
    parser = ConfigParser()
    parser["DEFAULT"] = {"COT_URL": f"tcp://127.0.0.1:{port}"}
    return parser["DEFAULT"]


def position(uid: str, lat: float, lon: float) -> bytes:
    track = ET.Element("track", {"course": "45.0", "speed": "6.0"})
    event = pytak.cot_event(lat=lat, lon=lon, hae=120, uid=uid, stale=120, cot_type="a-f-G-U-C", callsign=uid)
    detail = event.find("detail")
    assert detail is not None
    detail.append(track)
    return pytak.serialize_cot(event)


PING = pytak.serialize_cot(pytak.cot_event(uid="e2e-ping", cot_type="t-x-c-t", stale=20))


async def send(config: SectionProxy, *events: bytes, expect_reply: bool = False, timeout_s: float = 10.0) -> bytes:
    """Connect as pytak does, send `events` with its TX worker, and read one event back if asked to."""
    reader, writer = await asyncio.wait_for(pytak.protocol_factory(config), timeout_s)
    try:
        tx = pytak.TXWorker(asyncio.Queue(), config, writer)
        for data in events:
            await tx.send_data(data)
        if not expect_reply:
            return b""
        rx = pytak.RXWorker(asyncio.Queue(), config, reader)
        reply: bytes | None = await asyncio.wait_for(rx.readcot(), timeout_s)
        return reply or b""
    except ConnectionError:  # the server closed the connection: no answer
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            await asyncio.wait_for(writer.wait_closed(), 5.0)


def parties(server: Server) -> Channel:
    ch = Channel(server)
    for pid in ("sdf", "saa", "russia"):
        ch.party(pid)
    ch.ok("admin", "PATCH", "/v1/parties/russia", json={"status": "suspended"})
    return ch


def test_pytak_with_an_issued_certificate_gets_pong_and_a_suspended_party_is_refused(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server, tls_port, _ = cot_server(server_factory)
    ch = parties(server)
    try:
        issue(server, "sdf", tmp_path / "sdf")
        issue(server, "russia", tmp_path / "russia")
        reply = asyncio.run(send(tls_config(tls_port, tmp_path / "sdf", "sdf"), PING, expect_reply=True))
        assert parse_event(reply).type == "t-x-c-t-r"
        refused = asyncio.run(send(tls_config(tls_port, tmp_path / "russia", "russia"), PING, expect_reply=True))
        assert refused == b""  # closed without an answer
        assert "(party 'russia') is not an active party" in server.output()
    finally:
        ch.close()


def tracks_text(ch: Channel, who: str, needle: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        r = ch.call(who, "GET", "/v1/tracks")
        assert r.status_code == 200, r.text
        if needle in r.text or time.monotonic() > deadline:
            return r.text
        time.sleep(0.1)


def test_positions_from_pytak_become_the_partys_own_track(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server, tls_port, tcp_port = cot_server(server_factory, tcp_party="saa")
    ch = parties(server)
    try:
        issue(server, "sdf", tmp_path / "sdf")
        asyncio.run(send(tls_config(tls_port, tmp_path / "sdf", "sdf"), position("ANDROID-sdf-1", 35.33, 40.14)))
        asyncio.run(send(tcp_config(tcp_port), position("WINTAK-saa-1", 35.30, 40.10)))
        assert "ANDROID-sdf-1" in tracks_text(ch, "sdf", "ANDROID-sdf-1")
        track = ch.ok("sdf", "GET", "/v1/tracks/ANDROID-sdf-1")
        assert track["source"] == "cot" and track["position"]["coordinates"] == [40.14, 35.33, 120.0]
        assert (track["course_deg"], track["speed_mps"], track["motion"]) == (45.0, 6.0, "reported")
        assert "WINTAK-saa-1" in tracks_text(ch, "saa", "WINTAK-saa-1")
        assert "ANDROID-sdf-1" not in tracks_text(ch, "saa", "ANDROID-sdf-1", timeout_s=0.5)
    finally:
        ch.close()


def test_cot_export_writes_what_the_caller_may_see(server: Server, tmp_path: Path) -> None:
    ch = Channel(server)
    try:
        for pid in ("sdf", "saa"):
            ch.party(pid)
        ch.declare("sdf", area(40.20, 35.40, name="Own area"))
        ch.declare("saa", area(40.20, 35.41, name="Hidden area"))
        ch.declare("saa", area(41.50, 35.40, name="Shared area", audience="all"))
        out = tmp_path / "picture.xml"
        env = clean_env(DECONF_TOKEN=ch.tokens["sdf"])
        result = run_cli("cot", "export", "--url", server.url, "-o", str(out), env=env)
        assert result.code == 0, result.output
        root = ET.fromstring(out.read_bytes())
        names = [e.find("detail/contact").get("callsign", "") for e in root]  # type: ignore[union-attr]
        assert any("Own area" in n for n in names) and any("Shared area" in n for n in names)
        assert not any("Hidden area" in n for n in names)
        assert sorted(e.get("type") or "" for e in root) == ["b-m-p-s-m", "u-d-f", "u-d-f"]
        streamed = run_cli("cot", "export", "--url", server.url, "--stream", env=env)
        assert streamed.code == 0 and streamed.stdout.count("</event>") == 3
        refused = run_cli("cot", "export", "--url", server.url, "--token", "dcf_not-a-real-token-0123456789")
        assert refused.code == 1 and "401" in refused.output
    finally:
        ch.close()
