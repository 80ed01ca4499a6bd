"""A stand-in UTM auth server for tests: a real RSA key pair, its public keys as PEM and JWKS, real RS256 tokens.

mint = TokenMint(tmp_path)                       # writes auth-keys.pem and auth-keys.jwks.json there
token = mint.mint("uss1", {"utm.strategic_coordination"})
settings = Settings(f3548_public_keys=str(mint.pem_path), f3548_audience=mint.audience)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DEFAULT_AUDIENCE = "dss.example.org"
DEFAULT_ISSUER = "https://auth.example.org/"
_KEY_CACHE: dict[int, rsa.RSAPrivateKey] = {}  # RSA generation costs ~0.1 s; one key per size is enough for tests


def rsa_key(bits: int = 2048, *, fresh: bool = False) -> rsa.RSAPrivateKey:
    """An RSA private key, shared between tests unless `fresh`."""
    if fresh:
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if bits not in _KEY_CACHE:
        _KEY_CACHE[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _KEY_CACHE[bits]


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


class TokenMint:
    """An auth server's key pair with its public keys written to `directory`; mints RS256 access tokens."""

    def __init__(
        self,
        directory: Path,
        *,
        audience: str = DEFAULT_AUDIENCE,
        issuer: str = DEFAULT_ISSUER,
        kid: str = "test-key-1",
        bits: int = 2048,
        fresh: bool = False,
    ) -> None:
        self.private_key = rsa_key(bits, fresh=fresh)
        self.audience = audience
        self.issuer = issuer
        self.kid = kid
        directory.mkdir(parents=True, exist_ok=True)
        self.pem_path = directory / "auth-keys.pem"
        self.pem_path.write_bytes(public_pem(self.private_key))
        self.jwks_path = directory / "auth-keys.jwks.json"
        self.jwks_path.write_text(json.dumps({"keys": [public_jwk(self.private_key, kid)]}), encoding="utf-8")

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.private_key)

    def mint(
        self,
        sub: str,
        scopes: Iterable[str] = (),
        *,
        aud: str | list[str] | None = None,
        exp_s: float = 3600,
        now: float | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed token for `sub` with `scopes` (space-separated `scope`), valid `exp_s` seconds from `now`.

        A claim given as None is left out (e.g. `exp=None`, `aud=None` keeps the default, `sub=""` is kept).
        """
        issued = time.time() if now is None else now
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience if aud is None else aud,
            "scope": " ".join(scopes),
            "iat": int(issued),
            "exp": int(issued + exp_s),
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {k: v for k, v in {"kid": self.kid, **(headers or {})}.items() if v is not None}  # kid=None: none
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers=header)

    def bearer(self, sub: str, scopes: Iterable[str] = (), **kwargs: Any) -> dict[str, str]:
        """The Authorization header of a minted token."""
        return {"Authorization": f"Bearer {self.mint(sub, scopes, **kwargs)}"}
