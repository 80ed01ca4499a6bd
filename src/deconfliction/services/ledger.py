"""Reading the record: its entries, its head and the server's public key."""

from __future__ import annotations

from typing import Any

from deconfliction.domain.errors import NotFound
from deconfliction.services.chain import parse_entry
from deconfliction.services.context import Context


def entries_after(ctx: Context, after_seq: int, limit: int) -> list[dict[str, Any]]:
    with ctx.store.read() as tx:
        return [parse_entry(text) for text in tx.ledger_after(after_seq, limit)]


def entries_text_after(ctx: Context, after_seq: int, limit: int) -> list[str]:
    """The entries' canonical JSON as stored: served as is, byte for byte."""
    with ctx.store.read() as tx:
        return tx.ledger_after(after_seq, limit)


def entry(ctx: Context, seq: int) -> dict[str, Any]:
    if seq < 1:  # entries count from 1; and seq - 1 below must stay a 64-bit integer
        raise NotFound(f"no ledger entry {seq}")
    found = entries_after(ctx, seq - 1, 1)
    if not found or found[0]["seq"] != seq:
        raise NotFound(f"no ledger entry {seq}")
    return found[0]


def head(ctx: Context) -> dict[str, Any]:
    with ctx.store.read() as tx:
        found = tx.ledger_head()
    seq, hash_ = found if found is not None else (0, "0" * 64)
    return {"seq": seq, "hash": hash_, "public_key": ctx.chain.public_key}
