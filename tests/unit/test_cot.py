"""Cursor-on-Target: framing a byte stream into events, reading them safely, the listeners (plain TCP and mutual
TLS, on real sockets), the channel's CA, and the picture exported as CoT."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.adapters.certs import (
    Bundle,
    ensure_authority,
    ensure_server_cert,
    issue_client,
    server_hosts,
    server_ssl_context,
    write_bundle,
)
from deconfliction.adapters.cot import (
    CotError,
    EventFramer,
    cot_time,
    parse_event,
    position_report,
    track_id,
)
from deconfliction.adapters.cot_export import document, picture_events, representative_point, stream
from deconfliction.adapters.cot_server import CotListeners, ListenerConfig, handle
from deconfliction.bootstrap import Wired
from deconfliction.domain.errors import InvalidInput
from deconfliction.services import tracks
from tests.conftest import Api, feature, square

DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def event(
    uid: str = "ANDROID-1",
    type_: str = "a-f-G-U-C",
    lat: float = 35.33,
    lon: float = 40.14,
    hae: str = "250.5",
    t: str = "2024-05-01T12:00:00.000Z",
    stale: str = "2024-05-01T12:05:00.000Z",
    detail: str = '<track course="90.0" speed="12.5"/><contact callsign="Alpha"/>',
) -> bytes:
    return (
        DECL
        + (
            f'<event version="2.0" uid="{uid}" type="{type_}" how="m-g" time="{t}" start="{t}" stale="{stale}">'
            f'<point lat="{lat}" lon="{lon}" hae="{hae}" ce="9999999.0" le="9999999.0"/>'
            f"<detail>{detail}</detail></event>"
        ).encode()
    )


PING = DECL + (
    b'<event version="2.0" uid="ANDROID-1-ping" type="t-x-c-t" how="h-g-i-g-o" time="2024-05-01T12:00:00Z" '
    b'start="2024-05-01T12:00:00Z" stale="2024-05-01T12:00:20Z"><point lat="0" lon="0" hae="0" ce="9999999" '
    b'le="9999999"/><detail/></event>'
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<event version="2.0" uid="x" type="a-f-G" time="2024-05-01T12:00:00Z"><point lat="1" lon="1"/>'
    b"<detail><remarks>&lol3;</remarks></detail></event>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<event version="2.0" uid="x" type="a-f-G" time="2024-05-01T12:00:00Z"><point lat="1" lon="1"/>'
    b"<detail><remarks>&xxe;</remarks></detail></event>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE event SYSTEM "http://127.0.0.1:9/evil.dtd">'
    b'<event version="2.0" uid="x" type="a-f-G" time="2024-05-01T12:00:00Z"><point lat="1" lon="1"/></event>'
)


# ------------------------------------------------------------------------------------------------ reading events


def test_an_event_becomes_a_position_report_of_its_uid() -> None:
    parsed = parse_event(event())
    assert parsed.is_own_position and not parsed.is_ping
    assert track_id(parsed.uid) == "ANDROID-1"
    assert position_report(parsed) == {
        "t": "2024-05-01T12:00:00.000Z",
        "lon": 40.14,
        "lat": 35.33,
        "alt_m": 250.5,
        "speed_mps": 12.5,
        "course_deg": 90.0,
        "stale": "2024-05-01T12:05:00.000Z",
    }


def test_unknown_height_and_speed_are_left_out_and_start_stands_in_for_time() -> None:
    frame = event(hae="9999999.0", detail='<track course="-90" speed="9999999.0"/>').replace(
        b' time="2024-05-01T12:00:00.000Z"', b""
    )
    report = position_report(parse_event(frame))
    assert "alt_m" not in report and "speed_mps" not in report
    assert report["course_deg"] == 270.0 and report["t"] == "2024-05-01T12:00:00.000Z"


def test_a_time_without_offset_is_read_as_utc() -> None:
    parsed = parse_event(event(t="2024-05-01T12:00:00.5"))
    assert parsed.time == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (BILLION_LAUGHS, "refused"),
        (XXE, "refused"),
        (EXTERNAL_DTD, "refused"),
        (b"<event uid='x' type='a-f-G'><point lat='1' lon='1'>", "not well-formed"),
        (b'<?xml version="1.0" encoding="no-such"?><event uid="x" type="a"/>', "not well-formed"),
        (b"\x00\xff\xfe garbage", "no <event>"),
        (b"<events><event uid='x' type='a-f'/></events>", "not well-formed"),
        (b"<event type='a-f-G'/>", "uid and a type"),
        (event(lat=91.0), "out of range"),
        (event(lon=float("nan")), "out of range"),
        (event(hae="high"), "not a number"),
        (event(t="yesterday"), "not a date-time"),
    ],
)
def test_unsafe_or_broken_events_are_refused(frame: bytes, needle: str) -> None:
    with pytest.raises(CotError) as caught:
        position_report(parse_event(frame))
    assert needle in str(caught.value)


def test_refused_events_reach_nobody_and_the_read_goes_on() -> None:
    replies, reports = handle([BILLION_LAUGHS, XXE, b"junk</event>", event(uid="B")], NOW)
    assert replies == [] and list(reports) == ["B"]


def test_only_the_senders_own_friendly_positions_become_tracks_and_pings_get_a_pong() -> None:
    frames = [event(type_="a-h-G"), event(type_="b-m-p-s-m"), event(uid="deconf.track.x"), PING, event(uid="A")]
    replies, reports = handle(frames, NOW)
    assert list(reports) == ["A"]
    assert len(replies) == 1
    pong = parse_event(replies[0])
    assert pong.type == "t-x-c-t-r" and pong.uid == "takPong"


@pytest.mark.parametrize(
    ("uid", "expected"),
    [("ANDROID-358240051111110", "ANDROID-358240051111110"), ("abc.DEF_1-2", "abc.DEF_1-2")],
)
def test_safe_uids_are_track_ids_as_they_are(uid: str, expected: str) -> None:
    assert track_id(uid) == expected


@pytest.mark.parametrize("uid", ["S-1-5-21-9 {abc}", "../../etc/passwd", "x" * 200, "ü@host:1", "..", "a/b"])
def test_other_uids_are_made_safe_and_stay_distinct(uid: str) -> None:
    made = track_id(uid)
    assert made.replace(".", "").replace("-", "").replace("_", "").isalnum() and len(made) <= 64
    assert made != track_id(uid + "x") and "/" not in made


# ------------------------------------------------------------------------------------------------------ framing


@settings(max_examples=200, deadline=None)
@given(
    uids=st.lists(st.text("abcXYZ019-_.", min_size=1, max_size=20), min_size=1, max_size=8),
    separators=st.lists(st.sampled_from([b"", b"\n", b"\r\n  ", b"\n\n"]), min_size=8, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=5_000), max_size=12),
)
def test_events_split_anywhere_across_reads_come_out_whole(
    uids: list[str], separators: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(sep + event(uid=uid) for uid, sep in zip(uids, separators, strict=False))
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    framer = EventFramer(4096)
    frames = [f for piece in pieces for f in framer.feed(piece)]
    assert [parse_event(f).uid for f in frames] == uids
    assert framer.oversized == 0 and framer.pending == 0


def test_several_events_in_one_read() -> None:
    framer = EventFramer(4096)
    frames = framer.feed(event(uid="a") + event(uid="b") + event(uid="c")[:50])
    assert [parse_event(f).uid for f in frames] == ["a", "b"]
    assert [parse_event(f).uid for f in framer.feed(event(uid="c")[50:])] == ["c"]


def test_an_oversized_event_still_growing_is_dropped_up_to_its_end() -> None:
    framer = EventFramer(1024)
    big = event(uid="big", detail="<remarks>" + "x" * 5000 + "</remarks>")
    out = []
    for i in range(0, len(big), 300):  # the end tag is split across two reads on the way
        out += framer.feed(big[i : i + 300])
    assert out == [] and framer.oversized == 1 and framer.pending < 1024
    assert [parse_event(f).uid for f in framer.feed(event(uid="next"))] == ["next"]


def test_an_oversized_event_arriving_whole_is_dropped_and_its_neighbours_kept() -> None:
    framer = EventFramer(1024)
    big = event(uid="big", detail="<remarks>" + "x" * 2000 + "</remarks>")
    frames = framer.feed(event(uid="a") + big + event(uid="b"))
    assert [parse_event(f).uid for f in frames] == ["a", "b"] and framer.oversized == 1


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=3000), cut=st.integers(min_value=0, max_value=3000))
def test_garbage_never_breaks_the_stream(garbage: bytes, cut: int) -> None:
    framer = EventFramer(1024)
    frames = framer.feed(garbage[:cut]) + framer.feed(garbage[cut:] + b"</event>")
    handle(frames, NOW)  # logged and skipped, never raised
    assert [parse_event(f).uid for f in framer.feed(event(uid="after"))] == ["after"]


# ----------------------------------------------------------------------------------------------------- the CA


@pytest.fixture
def tak(tmp_path: Path) -> Path:
    return tmp_path / "channel.db.tak"


def bundle_for(tak: Path, party: str, folder: Path) -> Bundle:
    ca = ensure_authority(tak)
    return write_bundle(folder, party, issue_client(ca, party), ca, "secret-pass")


def test_the_ca_is_made_once_and_issues_party_certificates(tak: Path, tmp_path: Path) -> None:
    ca = ensure_authority(tak)
    assert ensure_authority(tak).cert == ca.cert
    assert (tak / "ca.key.pem").stat().st_mode & 0o077 == 0
    bundle = bundle_for(tak, "sdf", tmp_path / "out")
    cert = x509.load_pem_x509_certificate(bundle.cert.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sdf"
    cert.verify_directly_issued_by(ca.cert)
    key, p12_cert, extra = pkcs12.load_key_and_certificates(bundle.p12.read_bytes(), b"secret-pass")
    assert key is not None and p12_cert == cert and extra == [ca.cert]
    trust = pkcs12.load_pkcs12(bundle.truststore.read_bytes(), b"secret-pass")
    assert [c.certificate for c in trust.additional_certs] == [ca.cert]
    assert bundle.key.stat().st_mode & 0o077 == 0


def test_the_server_certificate_names_loopback_and_is_reissued_for_a_new_host(tak: Path) -> None:
    ca = ensure_authority(tak)
    cert_path, _ = ensure_server_cert(tak, ca, server_hosts("127.0.0.1"))
    first = cert_path.read_bytes()
    assert ensure_server_cert(tak, ca, server_hosts("0.0.0.0"))[0].read_bytes() == first
    ensure_server_cert(tak, ca, server_hosts("10.1.2.3"))
    names = x509.load_pem_x509_certificate(cert_path.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert {str(n.value) for n in names.value} >= {"127.0.0.1", "localhost", "10.1.2.3"}


# ------------------------------------------------------------------------------------------------ the listeners


class Recorder:
    """The tracks service as the listener sees it: a callable; this one records what it is given."""

    def __init__(self, refuse_lat: float | None = None) -> None:
        self.calls: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.refuse_lat = refuse_lat
        self._cond = threading.Condition()

    def __call__(self, party: str, track: str, reports: list[dict[str, Any]]) -> None:
        if any(r["lat"] == self.refuse_lat for r in reports):
            raise InvalidInput("lat refused", field="[0].lat")
        with self._cond:
            self.calls.append((party, track, reports))
            self._cond.notify_all()

    def reports(self) -> list[tuple[str, str, float]]:
        with self._cond:
            return [(p, t, r["lat"]) for p, t, batch in self.calls for r in batch]

    def wait_for(self, n: int, timeout_s: float = 5.0) -> list[tuple[str, str, float]]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len([1 for _, _, b in self.calls for _ in b]) < n and time.monotonic() < deadline:
                self._cond.wait(0.05)
        return self.reports()


STATUSES = {"sdf": "active", "saa": "active", "russia": "suspended"}


@pytest.fixture
def plain() -> Iterator[tuple[CotListeners, Recorder]]:
    recorder = Recorder(refuse_lat=-1.0)
    listeners = CotListeners([ListenerConfig("tcp", "127.0.0.1", 0, 2048, party="sdf")], recorder, STATUSES.get)
    listeners.start()
    yield listeners, recorder
    listeners.stop()


def read_until_closed(sock: socket.socket, timeout_s: float = 5.0) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    return data


def test_plain_tcp_attributes_events_to_its_party_and_carries_split_events(
    plain: tuple[CotListeners, Recorder],
) -> None:
    listeners, recorder = plain
    with socket.create_connection(("127.0.0.1", listeners.ports["tcp"]), timeout=5) as sock:
        data = event(uid="A", lat=1.0) + b"\n" + event(uid="B", lat=2.0) + event(uid="A", lat=3.0)
        for cut in (0, 37, 200, 201, 550, len(data)):  # cuts fall inside tags and inside `</event>`
            sock.sendall(data[:cut])
            data = data[cut:]
            time.sleep(0.02)
        sock.sendall(data)
        assert sorted(recorder.wait_for(3)) == [("sdf", "A", 1.0), ("sdf", "A", 3.0), ("sdf", "B", 2.0)]


def test_a_ping_gets_a_pong_and_garbage_oversize_and_one_bad_report_cost_nothing_else(
    plain: tuple[CotListeners, Recorder],
) -> None:
    listeners, recorder = plain
    with socket.create_connection(("127.0.0.1", listeners.ports["tcp"]), timeout=5) as sock:
        sock.sendall(b"\x00\xffnot xml at all</event>" + BILLION_LAUGHS + XXE)
        sock.sendall(event(uid="big", detail="<remarks>" + "x" * 4000 + "</remarks>"))
        sock.sendall(event(uid="A", lat=-1.0) + event(uid="A", lat=5.0) + PING)
        sock.settimeout(5)
        reply = b""
        while b"</event>" not in reply:
            reply += sock.recv(4096)
        assert parse_event(reply).type == "t-x-c-t-r"
        assert recorder.wait_for(1) == [("sdf", "A", 5.0)]


def test_an_inactive_party_on_plain_tcp_is_closed_at_once() -> None:
    recorder = Recorder()
    listeners = CotListeners([ListenerConfig("tcp", "127.0.0.1", 0, 2048, party="russia")], recorder, STATUSES.get)
    listeners.start()
    try:
        with socket.create_connection(("127.0.0.1", listeners.ports["tcp"]), timeout=5) as sock:
            assert read_until_closed(sock) == b""
    finally:
        listeners.stop()
    assert recorder.reports() == []


def test_a_party_suspended_while_connected_is_cut_off_at_its_next_report() -> None:
    recorder, statuses = Recorder(), {"sdf": "active"}
    config = ListenerConfig("tcp", "127.0.0.1", 0, 2048, party="sdf")
    listeners = CotListeners([config], recorder, statuses.get, status_ttl_s=0.0)
    listeners.start()
    try:
        with socket.create_connection(("127.0.0.1", listeners.ports["tcp"]), timeout=5) as sock:
            sock.sendall(event(uid="A", lat=1.0))
            assert recorder.wait_for(1) == [("sdf", "A", 1.0)]
            statuses["sdf"] = "suspended"
            sock.sendall(event(uid="A", lat=2.0))
            assert read_until_closed(sock) == b""
    finally:
        listeners.stop()
    assert recorder.reports() == [("sdf", "A", 1.0)]


def test_a_port_in_use_is_logged_and_the_rest_runs(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listeners = CotListeners(
            [ListenerConfig("tls", "127.0.0.1", port, 2048), ListenerConfig("tcp", "127.0.0.1", 0, 2048, party="sdf")],
            Recorder(),
            STATUSES.get,
        )
        listeners.start()
        listeners.stop()
    assert "tls" not in listeners.ports and "tcp" in listeners.ports
    assert "cannot listen" in caplog.text


@pytest.fixture
def tls(tak: Path) -> Iterator[tuple[CotListeners, Recorder]]:
    recorder = Recorder()
    config = ListenerConfig("tls", "127.0.0.1", 0, 2048, tls=server_ssl_context(tak, "127.0.0.1"))
    listeners = CotListeners([config], recorder, STATUSES.get)
    listeners.start()
    yield listeners, recorder
    listeners.stop()


def tls_client(bundle: Bundle, ca_cert: Path, port: int) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=ca_cert)
    context.load_cert_chain(bundle.cert, bundle.key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_mutual_tls_knows_the_party_from_its_certificate(
    tls: tuple[CotListeners, Recorder], tak: Path, tmp_path: Path
) -> None:
    listeners, recorder = tls
    port = listeners.ports["tls"]
    for party, lat in (("sdf", 1.0), ("saa", 2.0)):
        bundle = bundle_for(tak, party, tmp_path / party)
        with tls_client(bundle, bundle.ca_cert, port) as sock:
            sock.sendall(event(uid=f"{party}-1", lat=lat) + PING)
            sock.settimeout(5)
            reply = b""
            while b"</event>" not in reply:
                reply += sock.recv(4096)
            assert parse_event(reply).type == "t-x-c-t-r"
    assert sorted(recorder.wait_for(2)) == [("saa", "saa-1", 2.0), ("sdf", "sdf-1", 1.0)]


@pytest.mark.parametrize("who", ["russia", "nobody", "foreign-ca"])
def test_mutual_tls_refuses_inactive_unknown_and_foreign_certificates(
    who: str, tls: tuple[CotListeners, Recorder], tak: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listeners, recorder = tls
    issuer = tmp_path / "other.tak" if who == "foreign-ca" else tak
    bundle = bundle_for(issuer, "sdf" if who == "foreign-ca" else who, tmp_path / who)
    try:
        with tls_client(bundle, tak / "ca.cert.pem", listeners.ports["tls"]) as sock:
            sock.sendall(event(uid="x", lat=9.0) + PING)
            assert b"</event>" not in read_until_closed(sock)
    except (ssl.SSLError, ConnectionError):
        pass  # refused in the handshake
    good = bundle_for(tak, "sdf", tmp_path / "good")
    with tls_client(good, good.ca_cert, listeners.ports["tls"]) as sock:
        sock.sendall(event(uid="ok", lat=1.0))
        assert recorder.wait_for(1) == [("sdf", "ok", 1.0)]
    expected = "TLS handshake" if who == "foreign-ca" else f"(party {who!r}) is not an active party"
    assert expected in caplog.text


def test_a_client_without_a_certificate_is_refused(
    tls: tuple[CotListeners, Recorder], tak: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listeners, recorder = tls
    context = ssl.create_default_context(cafile=tak / "ca.cert.pem")
    try:
        raw = socket.create_connection(("127.0.0.1", listeners.ports["tls"]), timeout=5)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(event(uid="x") + PING)
            assert b"</event>" not in read_until_closed(sock)
    except (ssl.SSLError, ConnectionError):
        pass
    deadline = time.monotonic() + 5
    while "did not return a certificate" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "TLS handshake" in caplog.text and recorder.reports() == []


# ---------------------------------------------------------------------------------------------------- the export

OWN = {
    "type": "Feature",
    "id": "d1",
    "geometry": square(40.1, 35.3),
    "properties": {"kind": "area", "name": "Khabur", "party": "sdf", "start": "2017-09-09T05:00:00Z", "end": None},
}
SITE = {
    "type": "Feature",
    "id": "d2",
    "geometry": {"type": "Point", "coordinates": [40.2, 35.4]},
    "properties": {"kind": "site", "name": "Base", "party": "saa", "radius_m": 500, "start": "2017-09-09T05:00:00Z"},
}
ROUTE = {
    "type": "Feature",
    "id": "d3",
    "geometry": {"type": "LineString", "coordinates": [[179.9, 1.0], [-179.9, 1.0]]},
    "properties": {"kind": "route", "name": "Convoy", "party": "sdf", "start": "2017-09-09T05:00:00Z"},
}
CONFLICT = {
    "id": "c1",
    "kind": "proximity",
    "other_party": "saa",
    "distance_m": 120.0,
    "required_m": 2000,
    "time": {"start": "2017-09-09T05:00:00Z", "end": None},
    "location": {"type": "Point", "coordinates": [40.11, 35.31]},
    "status": "open",
}
TRACK = {
    "id": "ANDROID-1",
    "t": "2024-05-01T11:59:00Z",
    "position": {"type": "Point", "coordinates": [40.0, 35.0, 120.0]},
    "course_deg": 45,
    "speed_mps": 3,
    "stale": None,
}


def test_the_picture_as_cot_shapes_markers_conflicts_and_tracks() -> None:
    resolved = {**CONFLICT, "id": "c2", "status": "resolved"}
    events = picture_events("sdf", [OWN, SITE, ROUTE], [CONFLICT, resolved], [TRACK], NOW)
    by_uid = {e.get("uid"): e for e in events}
    assert set(by_uid) == {
        "deconf.declaration.d1.shape",
        "deconf.declaration.d2.shape",
        "deconf.declaration.d2.marker",
        "deconf.declaration.d3.shape",
        "deconf.conflict.c1",
        "deconf.track.ANDROID-1",
    }
    area = by_uid["deconf.declaration.d1.shape"]
    links = [link.get("point") for link in area.iter("link")]
    assert area.get("type") == "u-d-f" and len(links) == 5 and links[0] == links[-1]
    assert links[0] == "35.2900000,40.0900000"
    assert by_uid["deconf.declaration.d2.marker"].get("type") == "a-n-G"  # another party's site: neutral
    assert by_uid["deconf.declaration.d2.shape"].find("detail/shape/ellipse").get("major") == "500.0"  # type: ignore[union-attr]
    assert by_uid["deconf.conflict.c1"].find("detail/color").get("argb") == "-65536"  # type: ignore[union-attr]
    track = parse_event(ET.tostring(by_uid["deconf.track.ANDROID-1"]))
    assert (track.type, track.lat, track.lon, track.hae) == ("a-f-G", 35.0, 40.0, 120.0)
    assert (track.course_deg, track.speed_mps, track.stale) == (45.0, 3.0, datetime(2024, 5, 1, 12, 1, tzinfo=UTC))
    assert not track.is_own_position  # echoed back by a client, it is never taken for a track


def test_the_document_is_one_xml_tree_and_the_stream_frames_back_into_the_same_events() -> None:
    events = picture_events("sdf", [OWN, SITE], [CONFLICT], [TRACK], NOW)
    root = ET.fromstring(document(events))
    assert root.tag == "events" and len(root) == len(events)
    framed = EventFramer(65536).feed(stream(events))
    assert [parse_event(f).uid for f in framed] == [e.get("uid") for e in events]


def test_a_representative_point_across_the_antimeridian_stays_there() -> None:
    lon, lat = representative_point(ROUTE["geometry"])
    assert abs(abs(lon) - 180.0) < 1e-9 and lat == 1.0


def test_get_cot_shows_only_what_the_caller_may_see(api: Api, wired: Wired) -> None:
    for party in ("sdf", "saa"):
        api.add_party(party)
    now = wired.ctx.clock()
    report = {"t": cot_time(now), "lon": 45.0, "lat": 33.0, "course_deg": 90.0, "speed_mps": 5.0}
    tracks.ingest(wired.ctx, "sdf", "ANDROID-1", [report], source="cot")
    tracks.ingest(wired.ctx, "saa", "ANDROID-2", [{**report, "lat": 33.5}], source="cot")
    api.declare("sdf", feature(square(40.1, 35.3), name="Own area"))
    api.declare("saa", feature(square(40.105, 35.3), name="Hidden area", audience="conflicts"))
    api.declare("saa", feature(square(41.5, 35.3), name="Shared area", audience="all"))
    r = api.call("sdf", "GET", "/v1/cot")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    text = r.text
    assert "Own area" in text and "Shared area" in text and "Hidden area" not in text
    kinds = sorted(e.get("type") or "" for e in root)
    # two areas it may see, its conflict with the hidden one, and its own track (never the other party's)
    assert kinds == ["a-f-G", "b-m-p-s-m", "u-d-f", "u-d-f"]
    assert "deconf.track.ANDROID-1" in text and "ANDROID-2" not in text
    streamed = api.call("sdf", "GET", "/v1/cot", params={"stream": "true"})
    assert [parse_event(f).uid for f in EventFramer(65536).feed(streamed.content)] == [e.get("uid") for e in root]
    assert api.call("admin", "GET", "/v1/cot").status_code == 403
