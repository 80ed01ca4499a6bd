"""A small certificate authority for the Cursor-on-Target listener's mutual TLS.

The channel's CA is created on first use in its folder (`tak_dir`, by default `<db>.tak/`); it issues one client
certificate per party (the party id is the certificate's common name: that is how the listener knows who sends)
and the server's certificate. The CA and server keys are ECDSA P-256 (created when the server starts, so they must
be quick to make); client keys are RSA 2048, which every TAK client's key store accepts.

Revocation is by party status: a suspended or withdrawn party's certificate still verifies, but the listener
refuses it. There is no CRL.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_KEY = "ca.key.pem"
CA_CERT = "ca.cert.pem"
SERVER_KEY = "server.key.pem"
SERVER_CERT = "server.cert.pem"
CA_DAYS = 3650
SERVER_DAYS = 825
CLIENT_DAYS = 730
RENEW_BEFORE = dt.timedelta(days=30)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Authority:
    """The channel's CA: its key and self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Issued:
    """A key and the certificate the CA issued for it."""

    key: PrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write a file atomically (temp file, fsync, rename); private keys owner-only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise CA changes between processes (a server starting while `deconf cert issue` runs)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "deconfliction"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _load_authority(folder: Path) -> Authority:
    key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / CA_KEY} is not an EC private key")
    return Authority(key, x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes()))


def ensure_authority(folder: Path) -> Authority:
    """The channel's CA in `folder`, created there on first use."""
    with _locked(folder):
        if (folder / CA_KEY).exists() and (folder / CA_CERT).exists():
            return _load_authority(folder)
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name("deconfliction channel CA")
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        authority = Authority(key, cert)
        _write(folder / CA_KEY, Issued(key, cert).key_pem, secret=True)
        _write(folder / CA_CERT, authority.cert_pem)
        return authority


def _usage(*, cert_sign: bool = False, key_agreement: bool = False, encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=encipherment,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    ca: Authority, key: PrivateKey, common_name: str, days: int, usage: x509.ExtendedKeyUsage, sans: Sequence[str] = ()
) -> Issued:
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(encipherment=isinstance(key, rsa.RSAPrivateKey)), critical=True)
        .add_extension(usage, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(s) for s in sans]), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_client(ca: Authority, party: str, days: int = CLIENT_DAYS) -> Issued:
    """A client certificate for `party` (its id as the common name), with a new RSA 2048 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _issue(ca, key, party, days, x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]))


def server_hosts(host: str) -> list[str]:
    """The names the server certificate is valid for: loopback, plus the configured interface if it is one."""
    hosts = ["127.0.0.1", "::1", "localhost"]
    if host and host not in ("0.0.0.0", "::") and host not in hosts:  # a wildcard names no host
        hosts.append(host)
    return hosts


def ensure_server_cert(folder: Path, ca: Authority, hosts: Sequence[str]) -> tuple[Path, Path]:
    """The server's certificate and key files in `folder`, (re)issued when missing, expiring, or not for `hosts`."""
    cert_path, key_path = folder / SERVER_CERT, folder / SERVER_KEY
    with _locked(folder):
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            try:
                names = {
                    str(n.value) for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                }
            except x509.ExtensionNotFound:
                names = set()
            fresh = cert.not_valid_after_utc - RENEW_BEFORE > _now()
            same_ca = cert.issuer == ca.cert.subject and _signed_by(cert, ca)
            if fresh and same_ca and {str(_general_name(h).value) for h in hosts} <= names:
                return cert_path, key_path
        issued = _issue(
            ca,
            ec.generate_private_key(ec.SECP256R1()),
            hosts[0] if hosts else "localhost",
            SERVER_DAYS,
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            hosts,
        )
        _write(key_path, issued.key_pem, secret=True)
        _write(cert_path, issued.cert_pem)
        return cert_path, key_path


def _signed_by(cert: x509.Certificate, ca: Authority) -> bool:
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def server_ssl_context(folder: Path, host: str) -> ssl.SSLContext:
    """A TLS server context that requires a client certificate issued by the channel's CA."""
    ca = ensure_authority(folder)
    cert_path, key_path = ensure_server_cert(folder, ca, server_hosts(host))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    context.load_verify_locations(cafile=folder / CA_CERT)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def common_name(peercert: object) -> str | None:
    """The common name in a verified peer certificate as `SSLSocket.getpeercert()` gives it, or None."""
    if not isinstance(peercert, dict):
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and isinstance(value, str):
                return value
    return None


@dataclass(frozen=True)
class Bundle:
    """The files written for one party's TAK clients."""

    key: Path
    cert: Path
    ca_cert: Path
    p12: Path
    truststore: Path


def write_bundle(folder: Path, party: str, issued: Issued, ca: Authority, p12_password: str) -> Bundle:
    """Write the party's key and certificate (PEM and PKCS#12) and the CA certificate (PEM and a PKCS#12 trust
    store, as TAK clients import it) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    # The legacy PKCS#12 encryption (3DES, SHA-1 MAC), as TAK Server's own tooling makes: iTAK and older Android and
    # Windows key stores refuse AES-encrypted files. The PEM key beside it is unencrypted anyway.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(p12_password.encode("utf-8"))
    )
    bundle = Bundle(
        key=folder / f"{party}.key.pem",
        cert=folder / f"{party}.cert.pem",
        ca_cert=folder / "ca.cert.pem",
        p12=folder / f"{party}.p12",
        truststore=folder / "truststore.p12",
    )
    _write(bundle.key, issued.key_pem, secret=True)
    _write(bundle.cert, issued.cert_pem)
    _write(bundle.ca_cert, ca.cert_pem)
    p12 = pkcs12.serialize_key_and_certificates(party.encode(), issued.key, issued.cert, [ca.cert], encryption)
    _write(bundle.p12, p12, secret=True)
    trust = pkcs12.serialize_key_and_certificates(b"deconfliction-ca", None, None, [ca.cert], encryption)
    _write(bundle.truststore, trust)
    return bundle
