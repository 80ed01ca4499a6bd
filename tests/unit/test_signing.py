"""Digests and signatures as the contract defines them: RFC 8785 JSON, SHA-256, Ed25519 over a purpose prefix."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.domain.messages import MessageContent
from deconfliction.domain.signing import (
    ZERO_HASH,
    Purpose,
    SigningKey,
    canonical,
    digest_of,
    sha256_hex,
    signed_bytes,
    verify,
)

# RFC 8785, section 3.2.2 (the input as its JSON text, so that the numbers are parsed as a verifier parses them)
RFC_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)
# RFC 8785, section 3.2.3: members sorted by their UTF-16 code units
RFC_SORTING = r"""{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"}"""
RFC_SORTED_VALUES = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]

MESSAGE = {"from": "sdf", "to": "saa", "subject": "hello", "body": "", "refs": []}
MESSAGE_DIGEST = "ea26e64fa89a2f235c6b2feb4a559588c6af2f35552ba185d23aba05b7f4f134"


def plain(obj: Any) -> bytes:
    """An independent serialiser that agrees with JCS for ASCII text, integers, booleans and null."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_rfc_8785_example_canonicalises_exactly() -> None:
    assert canonical(json.loads(RFC_INPUT)) == RFC_OUTPUT.encode("utf-8")


def test_members_sort_by_utf16_code_units_as_in_rfc_8785() -> None:
    out = json.loads(canonical(json.loads(RFC_SORTING)))
    assert list(out.values()) == RFC_SORTED_VALUES


ascii_text = st.text(st.characters(max_codepoint=127), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | ascii_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_text, inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_canonical_agrees_with_a_plain_sorted_compact_dump(value: Any) -> None:
    assert canonical(value) == plain(value)


def test_a_message_digest_is_stable_and_independent_of_this_code() -> None:
    independent = hashlib.sha256(plain(MESSAGE)).hexdigest()
    assert digest_of(MESSAGE) == independent == MESSAGE_DIGEST
    assert MessageContent.parse("sdf", {"to": "saa", "subject": "hello"}).digest == MESSAGE_DIGEST
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()
    with_ack_by = MessageContent.parse("sdf", {**MESSAGE, "ack_by": "2030-01-07T13:00:00.9+01:00"})
    assert with_ack_by.digest == hashlib.sha256(plain({**MESSAGE, "ack_by": "2030-01-07T12:00:00Z"})).hexdigest()


def test_signatures_are_ed25519_over_the_purpose_prefix_and_the_raw_digest() -> None:
    key = SigningKey.generate()
    digest = digest_of(MESSAGE)
    signature = key.sign(Purpose.ACK, digest)
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key_b64))
    public.verify(base64.b64decode(signature), b"deconf/ack/v1\n" + bytes.fromhex(digest))  # raises if not
    assert signed_bytes(Purpose.LEDGER, ZERO_HASH) == b"deconf/ledger/v1\n" + bytes(32)
    assert [p.prefix for p in Purpose] == [
        b"deconf/message/v1\n",
        b"deconf/ack/v1\n",
        b"deconf/agree/v1\n",
        b"deconf/ledger/v1\n",
    ]


def test_a_signature_for_one_purpose_never_verifies_for_another() -> None:
    key = SigningKey.generate()
    digest = digest_of(MESSAGE)
    for made in Purpose:
        signature = key.sign(made, digest)
        for checked in Purpose:
            assert verify(key.public_key_b64, checked, digest, signature) is (made is checked)
    assert not verify(key.public_key_b64, Purpose.MESSAGE, digest_of({}), key.sign(Purpose.MESSAGE, digest))
    assert not verify(SigningKey.generate().public_key_b64, Purpose.MESSAGE, digest, key.sign(Purpose.MESSAGE, digest))


def _non_canonical(b64: str) -> str:
    """The same bytes spelled differently: a padding bit set in the last character before '='."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stem = b64.rstrip("=")
    last = alphabet[alphabet.index(stem[-1]) ^ 1]
    return stem[:-1] + last + "=" * (len(b64) - len(stem))


@pytest.mark.parametrize(
    ("mangle_key", "mangle_signature", "mangle_digest"),
    [
        (lambda k: "not base64!", None, None),
        (lambda k: base64.b64encode(base64.b64decode(k)[:31]).decode(), None, None),  # a short key
        (lambda k: k.rstrip("="), None, None),  # padding missing
        (lambda k: "é" + k[1:], None, None),  # not ASCII
        (_non_canonical, None, None),  # the same key bytes, another spelling
        (None, lambda s: base64.b64encode(base64.b64decode(s)[:63]).decode(), None),  # a short signature
        (None, _non_canonical, None),  # the same signature bytes, another spelling
        (None, lambda s: "", None),
        (None, None, lambda d: d[:-2]),  # a 31-byte digest
        (None, None, lambda d: "zz" + d[2:]),  # not hex
    ],
)
def test_malformed_keys_signatures_and_digests_do_not_verify(
    mangle_key: Any, mangle_signature: Any, mangle_digest: Any
) -> None:
    key = SigningKey.generate()
    digest = digest_of(MESSAGE)
    signature = key.sign(Purpose.MESSAGE, digest)
    public = key.public_key_b64
    assert verify(public, Purpose.MESSAGE, digest, signature)
    public = mangle_key(public) if mangle_key else public
    signature = mangle_signature(signature) if mangle_signature else signature
    digest = mangle_digest(digest) if mangle_digest else digest
    assert verify(public, Purpose.MESSAGE, digest, signature) is False


def test_a_key_survives_pem() -> None:
    key = SigningKey.generate()
    again = SigningKey.from_pem(key.to_pem())
    assert again.public_key_b64 == key.public_key_b64
    digest = digest_of(MESSAGE)
    assert verify(key.public_key_b64, Purpose.ACK, digest, again.sign(Purpose.ACK, digest))
