"""Checking a party's signature against the key it registered, before anything it signed is recorded."""

from __future__ import annotations

from deconfliction.domain.errors import InvalidInput, NotFound
from deconfliction.domain.signing import Purpose, verify
from deconfliction.storage.base import Tx

SignedBy = tuple[str, str, Purpose, str]  # party, public key, purpose, signature


def check_signature(
    tx: Tx, party: str, purpose: Purpose, digest: str, signature: object, *, required_when_keyed: bool
) -> SignedBy | None:
    """The party's signature of `digest` for `purpose`, verified with its registered key; None when unsigned.

    A bad signature, a signature from a party with no key, or (when `required_when_keyed`) a missing one from a
    party that has a key is refused: nothing is recorded.
    """
    if signature is not None and not isinstance(signature, str):
        raise InvalidInput("signature must be a base64 string", field="signature")
    found = tx.get_party(party)
    if found is None:
        raise NotFound(f"no party {party!r}")
    key = found.public_key
    if signature is None or signature == "":
        if key is not None and required_when_keyed:
            raise InvalidInput(
                f"party {party!r} has a registered public key, so its acknowledgement must be signed: send "
                f"'signature', Ed25519 over b\"deconf/{purpose.value}/v1\\n\" + the digest's 32 bytes "
                "(`deconf ack` does it with --key)",
                field="signature",
            )
        return None
    if key is None:
        raise InvalidInput(
            f"party {party!r} has no registered public key to check this signature against; ask the admin to "
            "register one (PATCH /v1/parties/{id} with public_key), or send it unsigned",
            field="signature",
        )
    if not verify(key, purpose, digest, signature):
        raise InvalidInput(
            f"signature does not verify: it must be Ed25519 by {party!r}'s registered key over "
            f'b"deconf/{purpose.value}/v1\\n" + the 32 bytes of digest {digest}',
            field="signature",
        )
    return (party, key, purpose, signature)
