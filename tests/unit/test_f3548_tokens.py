"""F3548 access tokens: real RSA keys, real RS256 JWTs, and every way a token or a keys file can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from deconfliction.adapters.f3548_tokens import (
    Claims,
    KeyFileError,
    TokenVerifier,
    load_keys,
    make_verifier,
    party_id_for,
    require_scope,
)
from deconfliction.config import SettingsError, load_settings
from deconfliction.domain.errors import Forbidden, Unauthorized
from deconfliction.domain.parties import check_party_id
from tests.f3548_tokens import TokenMint, public_jwk, public_pem, rsa_key

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
T = NOW.timestamp()
SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"


@pytest.fixture
def mint(tmp_path: Path) -> TokenMint:
    return TokenMint(tmp_path)


def verifier_for(path: Path, audiences: tuple[str, ...] = ("dss.example.org",)) -> TokenVerifier:
    return TokenVerifier(load_keys(path), audiences, clock=lambda: NOW, leeway_s=30)


@pytest.fixture
def pem_verifier(mint: TokenMint) -> TokenVerifier:
    return verifier_for(mint.pem_path)


@pytest.fixture
def jwks_verifier(mint: TokenMint) -> TokenVerifier:
    return verifier_for(mint.jwks_path)


def refused(verifier: TokenVerifier, token: str, words: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        verifier.verify(token)
    assert words in caught.value.detail, caught.value.detail
    assert token not in caught.value.detail and token not in str(caught.value)
    assert caught.value.status == 401


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: Any, sign: Any = None) -> str:
    """A JWT assembled by hand: the attacks PyJWT refuses to produce."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64(signature)}"


def rs256_by_hand(mint: TokenMint, claims: Any) -> str:
    """A validly RS256-signed token whose payload PyJWT would not encode."""
    return hand_made(
        {"alg": "RS256", "kid": mint.kid},
        claims,
        lambda data: mint.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )


def payload(**claims: Any) -> dict[str, Any]:
    return {"sub": "uss1", "aud": "dss.example.org", "exp": int(T) + 600, "scope": SC, **claims}


# --- a good token ---


def test_a_good_token_gives_its_claims(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    claims = pem_verifier.verify(mint.mint("uss1", [SC, CMSA], now=T, exp_s=600))
    assert claims == Claims(
        sub="uss1",
        scopes=frozenset({SC, CMSA}),
        issuer="https://auth.example.org/",
        expires_at=NOW + timedelta(seconds=600),
    )


def test_jwks_picks_the_key_by_kid_and_pem_ignores_kid(
    mint: TokenMint, pem_verifier: TokenVerifier, jwks_verifier: TokenVerifier
) -> None:
    token = mint.mint("uss1", [SC], now=T)
    assert jwks_verifier.verify(token).sub == pem_verifier.verify(token).sub == "uss1"


def test_a_token_without_kid_is_tried_against_every_key(tmp_path: Path, mint: TokenMint) -> None:
    other = rsa_key(2048, fresh=True)
    path = tmp_path / "two.jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(other, "k0"), public_jwk(mint.private_key, "k1")]}))
    token = mint.mint("uss1", [SC], now=T, headers={"kid": None})
    assert "kid" not in jwt.get_unverified_header(token)
    assert verifier_for(path).verify(token).sub == "uss1"


def test_scp_list_is_read_as_scopes(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    claims = pem_verifier.verify(mint.mint("uss1", (), now=T, scope=None, scp=[CMSA, SC]))
    assert claims.scopes == {CMSA, SC}


def test_no_scope_at_all_is_an_empty_set(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    assert pem_verifier.verify(mint.mint("uss1", (), now=T, scope=None)).scopes == frozenset()


# --- time ---


def test_expired(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", [SC], now=T - 3600, exp_s=3600 - 31), "expired")


def test_expired_within_the_leeway_is_accepted(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    assert pem_verifier.verify(mint.mint("uss1", [SC], now=T - 3600, exp_s=3600 - 29)).sub == "uss1"


def test_exp_is_required(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, exp=None), "no expiry")


def test_exp_must_be_a_number(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, exp="tomorrow"), "exp must be a number")
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, exp=10**20), "exp must be a number")  # not a 500
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, exp=float("inf")), "exp must be a number")
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, nbf=float("nan")), "nbf must be a number")


def test_not_yet_valid(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, nbf=int(T) + 60), "not yet valid")
    assert pem_verifier.verify(mint.mint("uss1", [SC], now=T, nbf=int(T) + 20)).sub == "uss1"


def test_issued_in_the_future(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", [SC], now=T + 120), "issued in the future")


# --- audience ---


def test_wrong_audience(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, aud="other-dss.example.org"), "wrong audience")


def test_missing_audience(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    token = mint.mint("uss1", [SC], now=T)
    unsigned = jwt.decode(token, options={"verify_signature": False})
    del unsigned["aud"]
    refused(pem_verifier, jwt.encode(unsigned, mint.private_key, algorithm="RS256"), "no audience")


def test_list_audience(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    token = mint.mint("uss1", [SC], now=T, aud=["a.example.org", "dss.example.org"])
    assert pem_verifier.verify(token).sub == "uss1"
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, aud=["a.example.org", "b.example.org"]), "wrong audience")
    refused(pem_verifier, mint.mint("uss1", [SC], now=T, aud=cast(Any, [1, 2])), "aud must be")


def test_any_of_several_configured_audiences(mint: TokenMint) -> None:
    verifier = verifier_for(mint.pem_path, ("dss.example.org", "dss.internal"))
    assert verifier.verify(mint.mint("uss1", [SC], now=T, aud="dss.internal")).sub == "uss1"


# --- signature and algorithm ---


def test_wrong_key(tmp_path: Path, pem_verifier: TokenVerifier, jwks_verifier: TokenVerifier) -> None:
    stranger = TokenMint(tmp_path / "stranger", fresh=True)
    token = stranger.mint("uss1", [SC], now=T)  # same kid as the configured key, other key
    refused(pem_verifier, token, "bad signature")
    refused(jwks_verifier, token, "bad signature")


def test_unknown_kid(mint: TokenMint, jwks_verifier: TokenVerifier) -> None:
    refused(jwks_verifier, mint.mint("uss1", [SC], now=T, headers={"kid": "rotated-away"}), "key id")


def test_tampered_payload(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    header, _, signature = mint.mint("uss1", [SC], now=T).split(".")
    forged = f"{header}.{b64(json.dumps(payload(sub='uss2')).encode())}.{signature}"
    refused(pem_verifier, forged, "bad signature")


def test_alg_none(pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, hand_made({"alg": "none", "typ": "JWT"}, payload()), "only RS256")
    refused(pem_verifier, jwt.encode(payload(), cast(Any, None), algorithm="none"), "only RS256")


def test_hs256_signed_with_the_public_key_as_secret(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    """The key-confusion attack: a verifier that lets the token choose HMAC would check it with the public PEM."""
    secret = mint.public_pem

    def sign(data: bytes) -> bytes:
        return hmac.new(secret, data, hashlib.sha256).digest()

    refused(pem_verifier, hand_made({"alg": "HS256", "typ": "JWT"}, payload(), sign), "only RS256")
    refused(pem_verifier, hand_made({"alg": "HS256", "kid": mint.kid}, payload(), sign), "only RS256")


def test_ps256_and_es256_are_refused(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, jwt.encode(payload(), mint.private_key, algorithm="PS256"), "only RS256")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    refused(pem_verifier, jwt.encode(payload(), ec_key, algorithm="ES256"), "only RS256")


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", "a.b", "a.b.c.d", "bad header.e30.c2ln", "e30.e30.c2ln", "x" * 20_000, "a.b.c"],
)
def test_malformed(pem_verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        pem_verifier.verify(token)
    assert "malformed" in caught.value.detail or "only RS256" in caught.value.detail
    assert not token or token not in caught.value.detail


def test_payload_not_an_object(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, rs256_by_hand(mint, [1, 2]), "malformed")


# --- subject and scopes ---


@pytest.mark.parametrize(
    ("sub", "words"),
    [(None, "no subject"), ("", "no subject"), ("x" * 256, "sub must be"), ("uss\n1", "sub must be"),
     (" uss1", "sub must be"), (42, "sub must be")],
)  # fmt: skip
def test_bad_subject(mint: TokenMint, pem_verifier: TokenVerifier, sub: Any, words: str) -> None:
    refused(pem_verifier, mint.mint(sub, [SC], now=T), words)  # None: no sub claim at all


def test_a_255_character_subject_is_accepted(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    assert pem_verifier.verify(mint.mint("u" * 255, [SC], now=T)).sub == "u" * 255


def test_bad_scope_claims(mint: TokenMint, pem_verifier: TokenVerifier) -> None:
    refused(pem_verifier, mint.mint("uss1", (), now=T, scope=[SC]), "scope must be")
    refused(pem_verifier, mint.mint("uss1", (), now=T, scp={"a": 1}), "scp must be")
    refused(pem_verifier, rs256_by_hand(mint, payload(iss=7)), "iss must be")  # PyJWT will not encode it


def test_require_scope_wants_any_one_of_the_scopes() -> None:
    claims = Claims("uss1", frozenset({CMSA}), None, NOW)
    require_scope(claims, {SC, CMSA})
    require_scope(claims, {CMSA})
    with pytest.raises(Forbidden) as caught:
        require_scope(claims, {SC})
    assert caught.value.status == 403 and "the scope utm.strategic_coordination" in caught.value.detail
    with pytest.raises(Forbidden) as caught:
        require_scope(claims, {SC, "utm.constraint_processing"})
    assert "one of the scopes utm.constraint_processing, utm.strategic_coordination" in caught.value.detail


# --- keys files ---


def _certificate(bits: int = 2048) -> tuple[rsa.RSAPrivateKey, bytes]:
    """A self-signed certificate of a fresh key: (the key, the certificate's PEM)."""
    key = rsa_key(bits, fresh=True)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth.example.org")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def test_pem_with_two_keys_and_a_certificate(tmp_path: Path) -> None:
    first, second = TokenMint(tmp_path / "a", fresh=True), TokenMint(tmp_path / "b", fresh=True)
    third, cert_pem = _certificate()
    pkcs1 = second.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )  # "BEGIN RSA PUBLIC KEY"
    path = tmp_path / "keys.pem"
    path.write_bytes(b"# the auth server's keys\n" + first.public_pem + pkcs1 + cert_pem)
    keys = load_keys(path)
    assert len(keys) == 3 and all(k.kid is None for k in keys)
    verifier = verifier_for(path)
    assert verifier.verify(first.mint("a", [SC], now=T)).sub == "a"
    assert verifier.verify(second.mint("b", [SC], now=T)).sub == "b"
    by_cert = jwt.encode(payload(sub="c"), third, algorithm="RS256")
    assert verifier.verify(by_cert).sub == "c"


def test_jwks_file(mint: TokenMint) -> None:
    keys = load_keys(mint.jwks_path)
    assert [k.kid for k in keys] == ["test-key-1"]
    assert keys[0].public_key.public_numbers() == mint.private_key.public_key().public_numbers()


def test_a_1024_bit_key_is_refused_at_load(tmp_path: Path) -> None:
    weak = rsa_key(1024)
    (tmp_path / "weak.pem").write_bytes(public_pem(weak))
    with pytest.raises(KeyFileError, match=r"weak\.pem.*1024-bit RSA key: at least 2048"):
        load_keys(tmp_path / "weak.pem")
    (tmp_path / "weak.json").write_text(json.dumps({"keys": [public_jwk(weak, "w")]}))
    with pytest.raises(KeyFileError, match=r"weak\.json: key 'w' is a 1024-bit"):
        load_keys(tmp_path / "weak.json")
    (tmp_path / "weak-cert.pem").write_bytes(_certificate(1024)[1])
    with pytest.raises(KeyFileError, match="1024-bit"):
        load_keys(tmp_path / "weak-cert.pem")


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_bad_keys_files(tmp_path: Path, mint: TokenMint) -> None:
    private_pem = mint.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    jwk = public_jwk(mint.private_key, "k")
    private_jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(mint.private_key, as_dict=True), "kid": "k"}
    cases: list[tuple[str | bytes, str]] = [
        ("hello", "neither PEM"),
        (private_pem, "private key"),
        (ec_pem, "not an RSA public key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "cannot be parsed"),
        ("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "expected PUBLIC KEY"),
        ("{not json", "not valid JSON"),
        ('{"kty": "RSA"}', '"keys" list'),
        (json.dumps({"keys": []}), "holds no public key"),
        (json.dumps({"keys": [{**jwk, "kid": None}]}), "has no kid"),
        (json.dumps({"keys": [jwk, jwk]}), "appears twice"),
        (json.dumps({"keys": [private_jwk]}), "private key"),
        (json.dumps({"keys": [{"kty": "EC", "kid": "e"}]}), "not an RSA key"),
        (json.dumps({"keys": [{**jwk, "alg": "RS512"}]}), "not for RS256"),
        (json.dumps({"keys": [{**jwk, "use": "enc"}]}), "not for RS256"),
        (json.dumps({"keys": [{**jwk, "n": "!!"}]}), "cannot be parsed"),
    ]
    for number, (content, words) in enumerate(cases):
        path = _write(tmp_path, f"keys-{number}", content)
        with pytest.raises(KeyFileError) as caught:
            load_keys(path)
        assert str(path) in str(caught.value) and words in str(caught.value), (words, str(caught.value))
    with pytest.raises(KeyFileError, match="no such file"):
        load_keys(tmp_path / "missing.pem")


# --- settings and the verifier bootstrap builds ---


def test_settings_want_an_audience_with_keys(tmp_path: Path, mint: TokenMint) -> None:
    with pytest.raises(SettingsError, match="f3548_audience must be set"):
        load_settings(env={"DECONF_F3548_PUBLIC_KEYS": str(mint.pem_path)})
    with pytest.raises(SettingsError, match="f3548_public_keys: no file at"):
        load_settings(env={"DECONF_F3548_PUBLIC_KEYS": str(tmp_path / "nope.pem"), "DECONF_F3548_AUDIENCE": "d"})
    with pytest.raises(SettingsError, match="without spaces"):
        load_settings(env={"DECONF_F3548_AUDIENCE": "dss.example.org, dss example"})


def test_make_verifier(tmp_path: Path, mint: TokenMint) -> None:
    assert make_verifier(load_settings(env={})) is None
    env = {"DECONF_F3548_PUBLIC_KEYS": str(mint.jwks_path), "DECONF_F3548_AUDIENCE": " dss.example.org, dss.alt ,"}
    settings = load_settings(env=env)
    assert settings.f3548_audiences() == ("dss.example.org", "dss.alt")
    verifier = make_verifier(settings)
    assert verifier is not None and verifier.audiences == {"dss.example.org", "dss.alt"}
    assert verifier.verify(mint.mint("uss1", [SC])).sub == "uss1"  # the real clock
    bad = _write(tmp_path, "bad.pem", "nothing here")
    with pytest.raises(SettingsError, match=r"f3548_public_keys: .*bad\.pem: neither PEM"):
        make_verifier(load_settings(env={**env, "DECONF_F3548_PUBLIC_KEYS": str(bad)}))


# --- sub → party ---


@pytest.mark.parametrize(
    ("sub", "party"),
    [("uss1", "uss-uss1"), ("wing_aviation-2", "uss-wing_aviation-2"), ("-x", "uss--x")],
)
def test_plain_subjects_keep_their_name(sub: str, party: str) -> None:
    assert party_id_for(sub) == party


def test_changed_subjects_get_a_hash() -> None:
    subs = ["Wing.com", "wing.com", "wing-com", "wing com", "Ünïcödé USS", "***", "a" * 255, "a" * 254 + "b",
            "client-1@clients", "https://uss.example.org/", "x" * 59, "x" * 60]  # fmt: skip
    parties = [party_id_for(s) for s in subs]
    assert len(set(parties)) == len(subs)
    for sub, party in zip(subs, parties, strict=True):
        assert check_party_id(party) == party and party.startswith("uss-")
        assert party_id_for(sub) == party  # deterministic
    assert parties[0].startswith("uss-wing-com-") and len(parties[0]) == len("uss-wing-com-") + 10
    assert parties[4].startswith("uss-unicode-uss-")
    assert parties[5] == "uss-" + hashlib.sha256(b"***").hexdigest()[:10]
    assert parties[10] == "uss-" + "x" * 59 and len(parties[11]) == 63
