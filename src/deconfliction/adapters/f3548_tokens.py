"""ASTM F3548-21 access tokens: the auth server's keys read from a file, RS256 JWTs verified against them.

The standard's auth server issues JWTs signed RS256 with `iss`, `exp`, `sub`, `scope` (space-separated) and `aud`
(the DSS host name). PyJWT checks the signature; the claims are checked here, against an injected clock.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import RSAAlgorithm

from deconfliction.config import Settings, SettingsError
from deconfliction.domain.errors import Forbidden, Unauthorized

ALGORITHM = "RS256"  # the standard's only algorithm; anything else (none, HS*, ES*, PS*) is refused
MIN_KEY_BITS = 2048
MAX_TOKEN_CHARS = 16_384  # real tokens are ~1 KB; a bigger Authorization header is not worth decoding
MAX_SUB_CHARS = 255
_LAST_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")  # unsigned (alg none): refused later
_PLAIN_SUB = re.compile(r"^[a-z0-9_-]+$")


class KeyFileError(ValueError):
    """A keys file cannot be used: missing, unreadable, or holding something other than RSA public keys."""


@dataclass(frozen=True, slots=True)
class Key:
    """One of the auth server's public keys; `kid` is the JWKS key id (None for keys from PEM)."""

    public_key: RSAPublicKey
    kid: str | None = None


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified access token says about its holder."""

    sub: str
    scopes: frozenset[str]
    issuer: str | None
    expires_at: datetime


def load_keys(path: str | Path) -> list[Key]:
    """Read the RSA public keys in a PEM file (keys and/or certificates) or a JWKS JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot be read ({type(exc).__name__})") from None
    keys = _load_jwks(path, text) if text.lstrip().startswith("{") else _load_pem(path, text)
    if not keys:
        raise KeyFileError(f"{path}: holds no public key")
    return keys


def _load_pem(path: Path, text: str) -> list[Key]:
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        raise KeyFileError(f"{path}: neither PEM (-----BEGIN PUBLIC KEY-----, CERTIFICATE) nor JWKS JSON")
    keys = []
    for number, block in enumerate(blocks, start=1):
        label, data = block.group(1), block.group(0).encode("ascii", "replace")
        where = f"{path}: PEM block {number} ({label})"
        if "PRIVATE" in label:
            raise KeyFileError(f"{where} is a private key: give the channel only the auth server's public keys")
        try:
            if label == "CERTIFICATE":
                public: object = x509.load_pem_x509_certificate(data).public_key()
            elif label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
                public = load_pem_public_key(data)
            else:
                raise KeyFileError(f"{where}: expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE")
        except ValueError as exc:
            if isinstance(exc, KeyFileError):
                raise
            raise KeyFileError(f"{where} cannot be parsed") from None
        keys.append(Key(_rsa(public, where)))
    return keys


def _load_jwks(path: Path, text: str) -> list[Key]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f'{path}: not valid JSON (line {exc.lineno}): expected a JWKS {{"keys": [...]}}') from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyFileError(f'{path}: a JWKS must be an object with a "keys" list')
    keys: list[Key] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: key {number}"
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            raise KeyFileError(f'{where} is not an RSA key (kty "RSA"): only RS256 tokens are accepted')
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyFileError(f"{where} has no kid: every key of a JWKS needs one")
        where = f"{path}: key {kid!r}"
        if any(k.kid == kid for k in keys):
            raise KeyFileError(f"{where} appears twice")
        if "d" in entry:
            raise KeyFileError(f"{where} is a private key: give the channel only the auth server's public keys")
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            raise KeyFileError(f'{where} is not for RS256 signatures (use "sig", alg "RS256")')
        try:
            public = RSAAlgorithm.from_jwk(entry)
        except (jwt.InvalidKeyError, ValueError, KeyError):
            raise KeyFileError(f"{where} cannot be parsed (n and e must be base64url)") from None
        keys.append(Key(_rsa(public, where), kid))
    return keys


def _rsa(public: object, where: str) -> RSAPublicKey:
    if not isinstance(public, RSAPublicKey):
        raise KeyFileError(f"{where} is not an RSA public key: only RS256 tokens are accepted")
    if public.key_size < MIN_KEY_BITS:
        raise KeyFileError(f"{where} is a {public.key_size}-bit RSA key: at least {MIN_KEY_BITS} bits are required")
    return public


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenVerifier:
    """Verifies DSS access tokens: RS256 signature by one of `keys`, time claims, audience, subject, scopes."""

    def __init__(
        self,
        keys: Sequence[Key],
        audiences: Iterable[str],
        *,
        clock: Callable[[], datetime] = _utc_now,
        leeway_s: float = 30.0,
    ) -> None:
        self._keys = tuple(keys)
        self._audiences = frozenset(audiences)
        if not self._keys:
            raise ValueError("a TokenVerifier needs at least one key")
        if not self._audiences:
            raise ValueError("a TokenVerifier needs at least one accepted audience")
        self._clock = clock
        self._leeway_s = leeway_s
        self._jwt = jwt.PyJWT(
            # Signature only: time and audience are checked below against our clock; PyJWT reads the system's.
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            }
        )

    @property
    def audiences(self) -> frozenset[str]:
        return self._audiences

    def verify(self, token: str) -> Claims:
        """The token's claims, or Unauthorized saying what is wrong (never repeating the token).

        `clock` must return an aware datetime.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _JWT_SHAPE.match(token):
            raise Unauthorized("malformed access token: expected a JWT (three base64url parts separated by dots)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed access token: its header is not valid JSON") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("access token refused: only RS256-signed tokens are accepted")
        payload = self._verified_payload(token, header.get("kid"))
        self._check_times(payload)
        self._check_audience(payload)
        return Claims(
            sub=_subject(payload),
            scopes=_scopes(payload),
            issuer=_issuer(payload),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )

    def _candidates(self, kid: object) -> tuple[Key, ...]:
        if kid is None or all(k.kid is None for k in self._keys):
            return self._keys  # PEM keys have no kid: try each
        matching = tuple(k for k in self._keys if k.kid == kid)
        if not matching:
            raise Unauthorized("access token refused: its key id (kid) is not among the auth server keys configured")
        return matching

    def _verified_payload(self, token: str, kid: object) -> dict[str, Any]:
        for key in self._candidates(kid):
            try:
                payload = self._jwt.decode(token, key=key.public_key, algorithms=[ALGORITHM])
            except jwt.InvalidSignatureError:
                continue
            except jwt.DecodeError:
                raise Unauthorized("malformed access token: its payload is not a JSON object") from None
            except jwt.PyJWTError:
                raise Unauthorized("access token refused: it cannot be verified") from None
            return payload
        raise Unauthorized("access token refused: bad signature (not signed by a configured auth server key)")

    def _check_times(self, payload: dict[str, Any]) -> None:
        now = self._clock().timestamp()
        exp, nbf, iat = (_numeric_date(payload, name) for name in ("exp", "nbf", "iat"))
        if exp is None:
            raise Unauthorized("access token refused: it has no expiry (exp)")
        if now > exp + self._leeway_s:
            raise Unauthorized("access token expired: ask the auth server for a new one")
        if nbf is not None and now < nbf - self._leeway_s:
            raise Unauthorized("access token not yet valid (nbf is in the future): check the clocks")
        if iat is not None and now < iat - self._leeway_s:
            raise Unauthorized("access token issued in the future (iat): check the clocks")

    def _check_audience(self, payload: dict[str, Any]) -> None:
        aud = payload.get("aud")
        if aud is None:
            raise Unauthorized("access token refused: it has no audience (aud); ask for this DSS's host name")
        values = [aud] if isinstance(aud, str) else aud
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Unauthorized("malformed access token: aud must be a string or a list of strings")
        if not self._audiences.intersection(values):
            expected = ", ".join(sorted(self._audiences))
            raise Unauthorized(f"access token refused: wrong audience (aud); this DSS accepts {expected}")


def _numeric_date(payload: dict[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    # JSON as Python reads it allows NaN and Infinity; a date past 9999 would overflow datetime (a 500)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= _LAST_NUMERIC_DATE:
        raise Unauthorized(f"malformed access token: {name} must be a number of seconds since 1970")
    return float(value)


def _subject(payload: dict[str, Any]) -> str:
    sub = payload.get("sub")
    if sub is None or sub == "":
        raise Unauthorized("access token refused: it names no subject (sub)")
    if not isinstance(sub, str) or len(sub) > MAX_SUB_CHARS or not sub.isprintable() or sub.strip() != sub:
        raise Unauthorized(
            f"malformed access token: sub must be 1-{MAX_SUB_CHARS} printable characters without surrounding spaces"
        )
    return sub


def _scopes(payload: dict[str, Any]) -> frozenset[str]:
    scopes: set[str] = set()
    scope = payload.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            raise Unauthorized("malformed access token: scope must be a space-separated string")
        scopes.update(scope.split())
    scp = payload.get("scp")
    if scp is not None:
        values = scp.split() if isinstance(scp, str) else scp
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Unauthorized("malformed access token: scp must be a list of strings")
        scopes.update(values)
    return frozenset(scopes)


def _issuer(payload: dict[str, Any]) -> str | None:
    iss = payload.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise Unauthorized("malformed access token: iss must be a string")
    return iss


def require_scope(claims: Claims, scopes: Iterable[str]) -> None:
    """Forbidden unless the token holds at least one of `scopes` (F3548: any one of an endpoint's scopes will do)."""
    wanted = frozenset(scopes)
    if wanted and not claims.scopes & wanted:
        names = sorted(wanted)
        needed = f"the scope {names[0]}" if len(names) == 1 else "one of the scopes " + ", ".join(names)
        raise Forbidden(f"this operation needs {needed}; the access token holds none of them")


PARTY_PREFIX = "uss-"
_HASH_HEX = 10  # 40 bits: a collision needs ~10^6 subjects that all slug alike
_PARTY_MAX = 63


def party_id_for(sub: str) -> str:
    """The channel party a USS with this token subject acts as: 'uss-' + a slug of sub, + a hash if it was changed.

    A sub of lowercase letters, digits, '-' and '_' of at most 59 characters maps to 'uss-<sub>'; any other is
    folded to ASCII, lowercased, its other characters turned to '-', cut to fit, and suffixed '-<10 hex of
    SHA-256(sub)>', so two subjects that slug alike still get two parties. The prefix keeps USSs apart from the
    parties an admin registers (a sub 'sdf' must not act as the party 'sdf').
    """
    if _PLAIN_SUB.match(sub) and len(PARTY_PREFIX) + len(sub) <= _PARTY_MAX:
        return PARTY_PREFIX + sub
    ascii_sub = unicodedata.normalize("NFKD", sub).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_sub.lower()).strip("-_")
    digest = hashlib.sha256(sub.encode("utf-8")).hexdigest()[:_HASH_HEX]
    room = _PARTY_MAX - len(PARTY_PREFIX) - 1 - _HASH_HEX
    slug = slug[:room].rstrip("-_")
    return f"{PARTY_PREFIX}{slug}-{digest}" if slug else f"{PARTY_PREFIX}{digest}"


def make_verifier(settings: Settings) -> TokenVerifier | None:
    """The DSS's token verifier from the settings; None when f3548_public_keys is empty (the DSS API is off)."""
    if not settings.f3548_public_keys:
        return None
    try:
        keys = load_keys(settings.f3548_public_keys)
    except KeyFileError as exc:
        raise SettingsError(f"f3548_public_keys: {exc}") from None
    audiences = settings.f3548_audiences()
    if not audiences:
        raise SettingsError("f3548_audience must be set when f3548_public_keys is (e.g. dss.example.org)")
    return TokenVerifier(keys, audiences)
