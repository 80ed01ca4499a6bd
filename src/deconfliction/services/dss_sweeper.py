"""Expiry of the F3548 DSS's entities: what ended long enough ago leaves the DSS, as the reference DSS's garbage
collection does, so that the picture in memory does not grow without bound.

Operational intent and constraint references go `retention_s` after their end (their flights' declarations are
cancelled with them, their implicit subscriptions deleted); explicit subscriptions go at their end. Each removal is a
ledger entry (`dss.oir_expired`, …). Runs on the leading worker only (background.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from deconfliction.domain.signing import digest_of
from deconfliction.services import dss_intents
from deconfliction.services.chore import Chore
from deconfliction.services.context import Context
from deconfliction.services.dss_common import drop_entity
from deconfliction.services.dss_picture import Entity, VolumeSet
from deconfliction.services.writer import Outbox

log = logging.getLogger("deconfliction.dss")
_BATCH = 500  # removals per write job: a backlog never holds the writer long


def _ended_before(volume_set: VolumeSet, cutoff: datetime, keep_implicit: bool = False) -> list[Entity]:
    found = []
    for entity in volume_set.entities.values():
        ends = [v.window.end for v in entity.volumes]
        if any(e is None for e in ends):
            continue
        if keep_implicit and entity.doc.get("implicit_subscription"):
            continue
        if max(e for e in ends if e is not None) < cutoff:
            found.append(entity)
    return sorted(found, key=lambda e: e.id)[:_BATCH]


def sweep(ctx: Context, retention_s: float) -> int:
    """Remove one batch of expired entities; how many went."""
    now = ctx.clock()
    cutoff = now - timedelta(seconds=retention_s)

    def job(out: Outbox) -> int:
        dss = ctx.dss
        gone = 0
        for intent in _ended_before(dss.oirs, cutoff):
            dss_intents.remove(ctx, out, intent, str(intent.doc["party"]), now)
            out.record("dss.oir_expired", "server", (intent.id,), digest_of(intent.doc), now, {})
            gone += 1
        for kind, volume_set, before in (
            ("constraint", dss.constraints, cutoff),
            ("subscription", dss.subscriptions, now),
        ):
            for entity in _ended_before(volume_set, before, keep_implicit=kind == "subscription"):
                drop_entity(out, volume_set, kind, entity.id, now)
                out.record(f"dss.{kind}_expired", "server", (entity.id,), digest_of(entity.doc), now, {})
                gone += 1
        return gone

    return ctx.write(job)


class DssSweeper(Chore):
    """Runs `sweep` every `interval_s` (the leading worker's)."""

    name = "deconf-dss-sweeper"

    def __init__(self, ctx: Context, interval_s: float = 60.0, retention_s: float = 86_400.0) -> None:
        super().__init__()
        self.ctx = ctx
        self.interval_s = interval_s
        self.retention_s = retention_s

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                while sweep(self.ctx, self.retention_s) == _BATCH and not self._stop.is_set():
                    pass
            except Exception:  # the next round tries again
                log.exception("expiring DSS entities failed")
