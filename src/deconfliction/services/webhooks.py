"""Webhooks: registering them, and delivering each party's events from the transactional outbox.

The events table is the outbox: an event is committed in the same transaction as the change it tells of, and each
webhook keeps the id of the last event it delivered. A crash between the commit and the POST loses nothing: after a
restart, delivery resumes from that cursor. Delivery is at least once; receivers drop repeats by event id.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from deconfliction.domain.errors import InvalidInput, NotFound
from deconfliction.domain.timewindow import format_time
from deconfliction.domain.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Webhook,
    backoff_s,
    check_url,
    new_secret,
    signature,
)
from deconfliction.services.context import Context
from deconfliction.services.events import events_after
from deconfliction.services.views import deliverable, record_job
from deconfliction.services.writer import Outbox

log = logging.getLogger("deconfliction.webhooks")
Post = Callable[[str, bytes, dict[str, str]], int]  # url, body, headers → HTTP status (raises on no answer)
BATCH = 100


def create(ctx: Context, party: str, url: object, secret: object) -> Webhook:
    """Register a webhook; it receives the party's events from now on. The secret is generated when not given."""
    checked = check_url(url)
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise InvalidInput("secret must be a string of at least 16 characters (or omitted)", field="secret")
    key = secret if isinstance(secret, str) else new_secret()

    def job(out: Outbox) -> Webhook:
        hook = Webhook(str(uuid.uuid4()), party, checked, key, ctx.clock(), out.tx.last_event_id(party))
        out.tx.save_webhook(hook)
        return hook

    created = ctx.write(job)
    ctx.sink.notify({party})
    return created


def list_for(ctx: Context, party: str) -> list[Webhook]:
    with ctx.store.read() as tx:
        return tx.list_webhooks(party)


def remove(ctx: Context, party: str, webhook_id: str) -> None:
    def job(out: Outbox) -> None:
        hook = out.tx.get_webhook(webhook_id)
        if hook is None or hook.party != party or hook.removed_at is not None:
            raise NotFound(f"no webhook {webhook_id!r} of party {party!r}")
        out.tx.save_webhook(replace(hook, removed_at=ctx.clock()))

    ctx.write(job)


class Deliverer:
    """A thread that POSTs each webhook's pending events in order, retrying with backoff after a failure."""

    def __init__(self, ctx: Context, post: Post, idle_s: float = 1.0) -> None:
        self.ctx = ctx
        self.post = post
        self.idle_s = idle_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="deconf-webhooks", daemon=True)
        self._thread.start()

    def wake(self, parties: set[str] | None = None) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.deliver_once()
            except Exception:  # never let one bad round stop delivery
                log.exception("webhook delivery round failed")
                busy = False
            if not busy:
                self._wake.wait(self.idle_s)

    def deliver_once(self) -> bool:
        """One round over every webhook; True when more events wait right away."""
        with self.ctx.store.read() as tx:
            hooks = tx.list_webhooks(None)
        now_s = time.time()
        more = False
        for hook in hooks:
            if hook.next_attempt_s <= now_s and not self._stop.is_set():
                more |= self._deliver(hook)
        return more

    def _deliver(self, hook: Webhook) -> bool:
        batch = events_after(self.ctx, hook.party, hook.cursor, BATCH)
        if not batch:
            return False
        events, _ = deliverable(self.ctx, hook.party, batch)
        kept = {e.id for e in events}
        cursor, error, shown = hook.cursor, None, []
        for event in batch:
            if event.id in kept:
                error = self._post(hook, event.id, event.type, format_time(event.at), event.data)
                if error is not None:
                    break
                if event.type == "declaration.shared":
                    shown.append(event.data["declaration"]["id"])  # seen only once the receiver took it
            cursor = event.id
        self.ctx.write(self._progress(hook, cursor, error))
        if shown:
            self.ctx.write(record_job(self.ctx, hook.party, shown, "webhook"))
        return error is None and len(batch) == BATCH

    def _post(self, hook: Webhook, event_id: int, type_: str, at: str, data: dict[str, Any]) -> str | None:
        body = json.dumps({"id": event_id, "type": type_, "at": at, "data": data}, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(hook.secret, stamp, body),
            TIMESTAMP_HEADER: stamp,
            EVENT_ID_HEADER: str(event_id),
        }
        try:
            status = self.post(hook.url, body, headers)
        except Exception as exc:  # the receiver is down or unreachable: retry later
            return f"{type(exc).__name__}: {exc}"[:500]
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _progress(self, hook: Webhook, cursor: int, error: str | None) -> Callable[[Outbox], None]:
        def job(out: Outbox) -> None:
            current = out.tx.get_webhook(hook.id)
            if current is None:
                return
            at = self.ctx.clock()
            if error is None:
                out.tx.save_webhook(
                    replace(
                        current, cursor=cursor, failures=0, next_attempt_s=0.0, last_error=None, last_delivered_at=at
                    )
                )
            else:
                failures = current.failures + 1
                out.tx.save_webhook(
                    replace(
                        current,
                        cursor=cursor,
                        failures=failures,
                        next_attempt_s=time.time() + backoff_s(failures),
                        last_error=error,
                        last_delivered_at=current.last_delivered_at if cursor == current.cursor else at,
                    )
                )

        return job
