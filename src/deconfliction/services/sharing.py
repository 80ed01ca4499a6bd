"""Sharing a declaration with its audience: each party it is shared with is notified, and must acknowledge."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from deconfliction.domain.declarations import AUDIENCE_CONFLICTS, Declaration, DeclarationStatus
from deconfliction.domain.disclosure import shared_with
from deconfliction.domain.notifications import Notification
from deconfliction.services.writer import Outbox


def _supersede(out: Outbox, declaration_id: str, parties: set[str] | None, at: datetime) -> None:
    """Older notifications of the declaration no longer need an acknowledgement (of these parties, or all)."""
    for n in out.tx.notifications_of_declaration(declaration_id):
        if n.acked_at is None and n.superseded_at is None and (parties is None or n.party in parties):
            out.tx.save_notification(replace(n, superseded_at=at))


def share(
    out: Outbox, before: Declaration | None, after: Declaration, salt: str, digest: str, ack_s: float, at: datetime
) -> None:
    """Tell the audience: shared (new or changed, with a notification to acknowledge), cancelled, or unshared."""
    if after.spec.audience == AUDIENCE_CONFLICTS and (before is None or before.spec.audience == AUDIENCE_CONFLICTS):
        return  # shared with nobody, before or after: skip the party lookup on the hot path
    parties = [p.id for p in out.tx.list_parties()]
    now = set(shared_with(after.spec.audience, parties, after.party))
    was = set() if before is None else set(shared_with(before.spec.audience, parties, before.party))
    if before is not None:
        _supersede(out, after.id, None, at)
    if after.status is DeclarationStatus.CANCELLED:
        for party in sorted(now):
            out.emit(party, "declaration.cancelled", {"id": after.id, "version": after.version}, at)
        return
    feature = after.to_feature()
    deadline = at + timedelta(seconds=ack_s)
    for party in sorted(now):
        notification = Notification(
            str(uuid.uuid4()), party, after.party, after.id, after.version, digest, salt, at, deadline
        )
        out.tx.save_notification(notification)
        out.record(
            "declaration.notified",
            "server",
            (notification.id, after.id),
            digest,
            at,
            {"party": party, "version": after.version},
        )
        out.emit(party, "declaration.shared", {"declaration": feature, "notification": notification.view()}, at)
    for party in sorted(was - now):
        # consent withdrawn: the party no longer sees it, anywhere, from now on (reads check the audience)
        out.record("declaration.unshared", after.party, (after.id,), digest, at, {"party": party})
        out.emit(party, "declaration.unshared", {"id": after.id}, at)
