"""Tokens: random, shown once, stored as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from deconfliction.domain.errors import Forbidden, Unauthorized
from deconfliction.domain.parties import PartyStatus
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox

TOKEN_PREFIX = "dcf_"
ADMIN_HASH_KEY = "admin_token_sha256"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the admin, or a party (with its current status)."""

    party: str | None
    status: PartyStatus | None = None

    @property
    def is_admin(self) -> bool:
        return self.party is None

    def require_party(self) -> str:
        if self.party is None:
            raise Forbidden("this endpoint is for parties; the admin token cannot act as a party")
        return self.party

    def require_writer(self) -> str:
        party = self.require_party()
        if self.status is not PartyStatus.ACTIVE:
            raise Forbidden(f"party {party!r} is {self.status}: it may read but not write")
        return party

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this endpoint needs the admin token")


def ensure_admin_token(ctx: Context, configured: str) -> str | None:
    """Set up the admin token. Returns a newly generated token (to print once), or None."""

    def job(out: Outbox) -> str | None:
        if configured:
            out.tx.set_meta(ADMIN_HASH_KEY, hash_token(configured))
            return None
        if out.tx.get_meta(ADMIN_HASH_KEY) is not None:
            return None
        token = new_token()
        out.tx.set_meta(ADMIN_HASH_KEY, hash_token(token))
        return token

    return ctx.write(job)


def authenticate(ctx: Context, authorization: str | None) -> Principal:
    """Resolve an `Authorization: Bearer` header to a Principal, or raise Unauthorized/Forbidden."""
    if not authorization:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    digest = hash_token(token)
    cached = ctx.tokens.get(digest)
    if isinstance(cached, Principal):
        principal = cached
    else:
        principal = _lookup(ctx, digest)
        ctx.tokens.put(digest, principal)
    if principal.status is PartyStatus.WITHDRAWN:
        raise Forbidden(f"party {principal.party!r} has withdrawn from the channel; its token no longer works")
    return principal


def _lookup(ctx: Context, digest: str) -> Principal:
    with ctx.store.read() as tx:
        admin = tx.get_meta(ADMIN_HASH_KEY)
        # Lookup by digest, then a constant-time comparison: the digest of a 256-bit secret leaks nothing.
        if admin is not None and hmac.compare_digest(admin, digest):
            return Principal(None)
        party_id = tx.party_for_token(digest)
        party = None if party_id is None else tx.get_party(party_id)
    if party is None:
        raise Unauthorized("unknown token")
    return Principal(party.id, party.status)
