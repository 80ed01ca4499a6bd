"""Digests and Ed25519 signatures, exactly as the contract defines them (docs/api.md, "The record").

A digest is the lowercase hex SHA-256 of an object serialised by the JSON Canonicalization Scheme (RFC 8785). A
signature is Ed25519 over a purpose prefix followed by the 32 raw digest bytes, so that a signature made for one
purpose (sending a message) can never be replayed as another (acknowledging it). Keys and signatures travel as
standard base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from enum import StrEnum
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deconfliction.domain.errors import InvalidInput

ZERO_HASH = "0" * 64


class Purpose(StrEnum):
    """What a signature is for; its prefix is part of the signed bytes."""

    MESSAGE = "message"  # the originator signs a message's content
    ACK = "ack"  # a party acknowledges receipt of a message, declaration or conflict
    AGREE = "agree"  # a party agrees to something binding (accepting a deconfliction line)
    LEDGER = "ledger"  # the server signs a ledger entry's hash

    @property
    def prefix(self) -> bytes:
        return f"deconf/{self.value}/v1\n".encode()


def canonical(obj: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value."""
    return rfc8785.dumps(obj)


def canonical_plain(obj: Any) -> bytes:
    """RFC 8785 bytes of a JSON value holding no floating-point number and no non-ASCII object key, fast.

    For such values JCS is exactly sorted keys, no whitespace, UTF-8, and JSON's minimal escapes (\\", \\\\, \\b
    \\f \\n \\r \\t, \\u00xx for other control characters): what `json.dumps` writes with these options. Ledger
    entries are such values; tests check the two agree.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_of(obj: Any) -> str:
    """Lowercase hex SHA-256 of the canonical JSON of `obj`."""
    return hashlib.sha256(rfc8785.dumps(obj)).hexdigest()


def new_salt() -> str:
    """A random salt for digests of content others must not be able to guess (declarations)."""
    return secrets.token_hex(16)


def signed_bytes(purpose: Purpose, digest_hex: str) -> bytes:
    return purpose.prefix + bytes.fromhex(digest_hex)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: str, field: str, length: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not valid base64 (standard alphabet)", field=field) from None
    if length is not None and len(raw) != length:
        raise InvalidInput(f"{field} decodes to {len(raw)} bytes, not {length}", field=field)
    if b64(raw) != value:  # unused low bits set: another spelling of the same bytes would pass unnoticed
        raise InvalidInput(f"{field} is not canonical base64 (its padding bits are not zero)", field=field)
    return raw


def public_key_from_b64(value: str, field: str = "public_key") -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64(value, field, 32))


def verify(public_key_b64: str, purpose: Purpose, digest_hex: str, signature_b64: str) -> bool:
    """True when `signature_b64` is the key's Ed25519 signature of `purpose` over the digest."""
    try:
        key = public_key_from_b64(public_key_b64)
        signature = unb64(signature_b64, "signature", 64)
        key.verify(signature, signed_bytes(purpose, digest_hex))
    except (InvalidInput, InvalidSignature, ValueError):
        return False
    return True


class SigningKey:
    """An Ed25519 private key (the server's, or a party's in the CLI)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key_b64 = b64(
            key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the key file does not hold an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def sign(self, purpose: Purpose, digest_hex: str) -> str:
        return b64(self._key.sign(signed_bytes(purpose, digest_hex)))
