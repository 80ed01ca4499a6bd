"""Seeing probing (domain/probing.py): telling a declaration's owner, and slowing the prober."""

from __future__ import annotations

import math
from datetime import datetime

from deconfliction.domain.conflicts import Conflict
from deconfliction.domain.errors import RateLimited
from deconfliction.domain.probing import is_flagged, probing_of, tells_owner
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import format_time
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Tx

ADMIN_STREAM = "admin"  # the admin's event stream (a reserved id: no party may take it)


def note_ended(ctx: Context, out: Outbox, ended: Conflict, at: datetime) -> None:
    """`ended` was just resolved by its opener (side a) changing or cancelling its declaration. If it was a probe of
    a declaration hidden from the opener and completes a count, tell the owner, the admin, and the record."""
    a, b = ended.a, ended.b
    if ended.resolved_by != a.party or a.uncertainty_m <= 0:
        return
    rule = ctx.probing
    count, since = probing_of(rule, out.tx.ended_probes(a.party, rule.since(at)), b.declaration)
    if since is None or not tells_owner(rule, count):
        return
    data = {"party": a.party, "declaration": b.declaration, "count": count, "since": format_time(since)}
    out.emit(b.party, "disclosure.probing", data, at)
    out.emit(ADMIN_STREAM, "disclosure.probing", {**data, "owner": b.party}, at)
    # the record names no declaration: only the digest, which the owner (who knows the id) can check
    detail: dict[str, str | int | bool | None] = {"owner": b.party, "count": count}
    out.record("disclosure.probing", "server", (a.party,), digest_of({**data, "owner": b.party}), at, detail)


def check_pace(ctx: Context, tx: Tx, party: str, at: datetime) -> None:
    """A party flagged as probing writes declarations at most once in `delay_s` (RateLimited between). The rule
    looks only at what the party did — never at what its write would disclose — so the refusal tells it nothing."""
    rule = ctx.probing
    if not is_flagged(rule, tx.ended_probes(party, rule.since(at))):
        return
    last = tx.last_declaration_write(party)
    if last is None:
        return
    wait_s = rule.delay_s - (at - last).total_seconds()
    if wait_s > 0:
        raise RateLimited(
            f"{party!r} is flagged for probing declarations hidden from it (brief declarations opening conflicts "
            f"with the same one, see docs/concepts.md): it may write a declaration once in {rule.delay_s:g} s; "
            f"retry in {math.ceil(wait_s)} s",
            retry_after_s=math.ceil(wait_s),
        )
