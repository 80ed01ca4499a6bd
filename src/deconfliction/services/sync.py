"""Several worker processes, one channel: how each keeps its memory whole while the others write.

Every write runs in a transaction that the store runs one at a time across processes (SQLite's write lock;
PostgreSQL's advisory transaction lock). Each write job notes on the change feed which objects it changed that
workers hold in memory: a declaration (the active picture), a track and its warnings, the accepted lines, a party.
A worker's writer, once it holds that lock and before running its jobs, applies every change committed since it
last looked — so a job always sees every declaration committed before it, whichever worker took it, and two
conflicting declarations can never miss each other. Applying a change re-reads the object as stored, so applying
one twice is harmless.

Between writes, a worker learns of the others' commits from the store's announcements (PostgreSQL NOTIFY; SQLite
polls) and applies them on its writer thread, so that reads served from memory stay fresh too.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from deconfliction.services import tracks
from deconfliction.services.chore import Chore
from deconfliction.services.dss_intents import stored_volumes
from deconfliction.services.dss_picture import DssPicture
from deconfliction.services.events import EventHub
from deconfliction.storage.base import Tx
from deconfliction.storage.sync import ChangeRow

if TYPE_CHECKING:
    from deconfliction.services.context import Context

log = logging.getLogger("deconfliction.sync")
_BATCH = 10_000


class Sync:
    """The writer's group hook (see writer.GroupHook). Only the writer thread calls `before` and `after`."""

    def __init__(self, ctx: Context, seen: int) -> None:
        self.ctx = ctx
        self.seen = seen  # the newest change-feed row applied (or written) by this process
        self.applied = 0  # figures: changes applied from other processes
        self.reloads = 0  # times this process was so far behind that it reloaded everything

    def before(self, tx: Tx) -> None:
        rows = tx.changes_after(self.seen, _BATCH)
        if not rows:
            return
        first = tx.first_change_seq()
        if first > self.seen + 1:
            # the rows between were pruned while this process was not looking: the feed cannot say what changed
            log.warning("change feed pruned past this worker (at %d, oldest kept %d): reloading", self.seen, first)
            self._reload_all(tx)
            self.seen = tx.last_change_seq()
            return
        while rows:
            self._apply(tx, rows)
            self.seen = rows[-1].seq
            rows = tx.changes_after(self.seen, _BATCH) if len(rows) == _BATCH else []

    def after(self, last_change: int) -> None:
        # The group's own changes are already in memory, and no other process wrote while it held the lock.
        self.seen = max(self.seen, last_change)

    def _apply(self, tx: Tx, rows: list[ChangeRow]) -> None:
        declarations: set[str] = set()
        moved: set[tuple[str, str]] = set()
        lines = parties = False
        dss: set[tuple[str, str]] = set()
        for row in rows:
            if row.kind.startswith("dss:"):
                dss.add((row.kind[4:], row.ref))
            elif row.kind == "declaration":
                declarations.add(row.ref)
            elif row.kind == "track":
                party, track_id = json.loads(row.ref)
                moved.add((party, track_id))
            elif row.kind == "lines":
                lines = True
            elif row.kind == "party":
                parties = True
        picture = self.ctx.picture
        for declaration in tx.get_declarations(sorted(declarations)):
            picture.put(declaration)  # an inactive one leaves the picture
        if lines:
            self.ctx.bound_lines.clear()
        if parties:
            self.ctx.tokens.clear()
        if moved and self.ctx.tracks is not None:
            for party, track_id in sorted(moved):
                tracks.reload_track(self.ctx, tx, party, track_id)
        for kind, entity_id in sorted(dss):
            self.ctx.dss.reload(tx, kind, entity_id, stored_volumes)
        self.applied += len(rows)

    def _reload_all(self, tx: Tx) -> None:
        picture = self.ctx.picture
        active = {d.key: d for d in tx.active_declarations()}
        for key in [k for k in picture.declarations if k not in active]:
            picture.remove(key)
        for declaration in active.values():
            if picture.declarations.get(declaration.key) != declaration:
                picture.put(declaration)
        self.ctx.bound_lines.clear()
        self.ctx.tokens.clear()
        if self.ctx.tracks is not None:
            tracks.reload_all(self.ctx, tx)
        fresh = DssPicture(self.ctx.dss.index_name)
        fresh.load(tx, stored_volumes)
        self.ctx.dss.sets = fresh.sets
        self.reloads += 1


class FeedPruner(Chore):
    """The leader's chore: drop change-feed rows and idempotency keys past their keeping time."""

    name = "deconf-prune"

    def __init__(
        self, ctx: Context, keep_changes_s: float = 3_600.0, keep_keys_s: float = 86_400.0, interval_s: float = 60.0
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.keep_changes = timedelta(seconds=keep_changes_s)
        self.keep_keys = timedelta(seconds=keep_keys_s)
        self.interval_s = interval_s

    def prune(self, now: datetime) -> tuple[int, int]:
        with self.ctx.store.write() as tx:
            return tx.prune_changes(now - self.keep_changes), tx.prune_idempotency(now - self.keep_keys)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.prune(self.ctx.clock())
            except Exception:
                log.exception("pruning the change feed failed; trying again in %s s", self.interval_s)


class Announcements(Chore):
    """Listens for the other workers' commits (store.watch): wakes this worker's streams and webhook deliverer, and
    has its writer apply the change feed. Runs in every worker, on its own thread."""

    name = "deconf-announcements"

    def __init__(self, ctx: Context, hub: EventHub) -> None:
        super().__init__()
        self.ctx = ctx
        self.hub = hub

    def heard(self, parties: frozenset[str] | None) -> None:
        self.ctx.writer.refresh()
        if parties is None:
            self.hub.notify_all()
        elif parties:
            self.hub.notify(set(parties))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.ctx.store.watch(self.heard, self._stop)
            except Exception:
                log.exception("listening for other workers' writes failed; again in 1 s")
                self.heard(None)
                self._stop.wait(1.0)
