"""Operating the server as a user starts it: HTTPS directly, JSON logs with request ids."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import HOST, Server, free_port, run_cli

pytestmark = pytest.mark.slow


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deconf test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_https_directly_with_the_given_certificate(tmp_path: Path, server_factory: Callable[..., Server]) -> None:
    cert, key = _self_signed(tmp_path)
    env = {"DECONF_TLS_CERTFILE": str(cert), "DECONF_TLS_KEYFILE": str(key)}
    server = server_factory(extra_env=env, tls_ca=cert)
    assert server.url.startswith("https://")
    with server.client(server.admin) as admin:
        assert admin.post("/v1/parties", json={"id": "sdf", "name": "SDF"}).status_code == 201
    with pytest.raises(httpx.ConnectError):  # an unknown certificate is refused by a careful client
        httpx.get(f"{server.url}/healthz", timeout=10)
    with pytest.raises(httpx.TransportError):  # and nothing is served in clear text
        httpx.get(f"http://{HOST}:{server.port}/healthz", timeout=10)
    assert "serving" in server.output() and f"https://{HOST}:{server.port}" in server.output()


def test_a_certificate_without_its_key_is_refused_before_serving(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    result = run_cli("serve", "--port", str(free_port()), env=_env(DECONF_TLS_CERTFILE=str(cert)))
    assert result.code == 2
    assert "tls_certfile and tls_keyfile go together" in result.output


def test_json_logs_carry_the_request_id_given_or_made(server_factory: Callable[..., Server]) -> None:
    server = server_factory(extra_env={"DECONF_LOG_FORMAT": "json", "DECONF_LOG_LEVEL": "info"})
    with server.client(server.admin) as admin:
        given = admin.post("/v1/parties", json={"id": "sdf", "name": "SDF"}, headers={"X-Request-Id": "trace-42"})
        made = admin.get("/v1/parties")
        bad = admin.get("/v1/parties", headers={"X-Request-Id": "no spaces allowed"})
    assert given.headers["x-request-id"] == "trace-42"
    assert len(made.headers["x-request-id"]) == 32
    assert bad.headers["x-request-id"] != "no spaces allowed"
    server.stop()
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    access = {line["request_id"]: line for line in lines if line["logger"] == "deconfliction.access"}
    assert access["trace-42"]["status"] == 201 and access["trace-42"]["route"] == "/v1/parties"
    assert access[made.headers["x-request-id"]]["method"] == "GET"
    assert isinstance(access["trace-42"]["duration_ms"], float)
    assert all(server.admin not in json.dumps(line) for line in lines)  # no token in the log


def _env(**extra: str) -> dict[str, str]:
    from tests.e2e.conftest import clean_env

    return clean_env(**extra)
