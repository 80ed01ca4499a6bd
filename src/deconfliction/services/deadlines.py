"""Missed deadlines escalate: overdue messages to their sender and the intermediaries on the route, overdue
notifications to the declaring party (and a reminder to the party that owes the acknowledgement).

Nothing is blocked: the channel notifies, it does not permit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox

BATCH = 500
log = logging.getLogger("deconfliction.deadlines")


def flag_overdue(ctx: Context) -> int:
    """Flag what is past its deadline now; returns how many items were flagged."""

    def job(out: Outbox) -> int:
        at = ctx.clock()
        flagged = 0
        for message in out.tx.due_messages(at, BATCH):
            late = replace(message, overdue_at=at)
            out.tx.save_message(late)
            out.record("message.overdue", "server", (late.id,), late.digest, at, {"status": late.status.value})
            view = late.view()
            for party in (late.content.sender, *late.intermediaries):
                if late.reached(party) or party == late.content.sender:
                    out.emit(party, "message.overdue", view, at)
            flagged += 1
        for notification in out.tx.due_notifications(at, BATCH):
            late_n = replace(notification, overdue_at=at)
            out.tx.save_notification(late_n)
            subject = (late_n.id, late_n.declaration)
            out.record("notification.overdue", "server", subject, late_n.digest, at, {"party": late_n.party})
            for party in (late_n.owner, late_n.party):
                out.emit(party, "notification.overdue", late_n.view(), at)
            flagged += 1
        return flagged

    return ctx.write(job)


class DeadlineWatch:
    """Checks deadlines every `interval_s` on its own thread."""

    def __init__(self, ctx: Context, interval_s: float) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="deconf-deadlines", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                flag_overdue(self.ctx)
            except Exception:  # the next round tries again
                log.exception("checking deadlines failed")
