"""Delivering each party's events to its webhooks from the transactional outbox, one webhook never waiting on another.

Each webhook with events waiting gets a task of its own on the deliverer's event loop, which POSTs its events in
order and stops at the first failure; webhooks are independent, so a receiver that answers slowly, trickles its
answer or never answers holds up its own webhook and no other. Every delivery — resolving the host, checking every
address, connecting to the checked one, the answer — has one deadline in all (`webhook_timeout_s`). A failure
backs that webhook off (1 s, 2 s, … 300 s); after `webhook_pause_failures` in a row it is paused and its party
told (`webhook.paused`). The cursor (the last event delivered) is saved by a short job after each batch, so a crash
loses nothing: delivery resumes from it, at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.timewindow import format_time
from deconfliction.domain.webhook_targets import IpAddress, Target, parse_target
from deconfliction.domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, signature
from deconfliction.services.context import Context
from deconfliction.services.events import events_after
from deconfliction.services.views import deliverable, record_job
from deconfliction.services.webhooks import UNREACHABLE, WebhookTargets
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import StoredEvent

log = logging.getLogger("deconfliction.webhooks")
BATCH = 100
DNS_THREADS = 32  # resolutions in flight; a slow name holds one until the resolver gives up, not the deadline
T = TypeVar("T")


class Post(Protocol):
    """POSTs one delivery to a checked address: the receiver's status; OSError when there is no answer, TimeoutError
    when a step takes too long."""

    async def __call__(
        self, hook_id: str, target: Target, address: IpAddress, body: bytes, headers: dict[str, str]
    ) -> int: ...

    async def forget(self, hook_id: str) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class DeliveryRules:
    deadline_s: float  # one delivery, all of it
    pause_after: int  # failures in a row


class Deliverer:
    """A thread running an event loop with one delivery task per webhook that has events waiting."""

    def __init__(
        self, ctx: Context, post: Post, targets: WebhookTargets, rules: DeliveryRules, idle_s: float = 1.0
    ) -> None:
        self.ctx = ctx
        self.post = post
        self.targets = targets
        self.rules = rules
        self.idle_s = idle_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._store = ThreadPoolExecutor(4, thread_name_prefix="deconf-webhook-store")
        self._dns = ThreadPoolExecutor(DNS_THREADS, thread_name_prefix="deconf-webhook-dns")
        self._posted: set[str] = set()  # webhooks the poster may hold connections for

    def start(self) -> None:
        self._stop.clear()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="deconf-webhooks", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)

    def wake(self, parties: set[str] | None = None) -> None:
        """New events were committed (called from the writer's thread: quick)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        ready.set()
        running: dict[str, asyncio.Task[None]] = {}
        try:
            while not self._stop.is_set():
                wake.clear()
                await self._round(running)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.idle_s)
        finally:
            self._loop = None
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)
            await self.post.aclose()

    async def _round(self, running: dict[str, asyncio.Task[None]]) -> None:
        """Start a task for each webhook that is due and has none running."""
        try:
            hooks = await self._in_store(_live_webhooks, self.ctx)
        except Exception:  # never let one bad round stop delivery
            log.exception("could not list the webhooks")
            return
        now_s = time.time()
        for hook in hooks:
            if hook.id not in running and hook.due(now_s):
                task = asyncio.create_task(self._deliver(hook), name=f"webhook-{hook.id}")
                running[hook.id] = task
                task.add_done_callback(functools.partial(_forget_task, running, hook.id))
        for gone in self._posted - {h.id for h in hooks} - set(running):  # removed: close its connections
            self._posted.discard(gone)
            await self.post.forget(gone)

    async def _in_store(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._store, fn, *args)

    async def _deliver(self, hook: Webhook) -> None:
        try:
            more = await self._deliver_batch(hook)
        except Exception:
            log.exception("webhook %s: delivery round failed", hook.id)
            return
        if more and self._wake is not None:
            self._wake.set()  # a full batch: the next one right away

    async def _deliver_batch(self, hook: Webhook) -> bool:
        """POST the hook's waiting events in order until one fails; True when more wait right away."""
        batch: list[StoredEvent] = await self._in_store(events_after, self.ctx, hook.party, hook.cursor, BATCH)
        if not batch:
            return False
        events, _ = await self._in_store(deliverable, self.ctx, hook.party, batch)
        kept = {e.id for e in events}
        cursor, error, shown = hook.cursor, None, []
        for event in batch:
            if event.id in kept:
                error = await self._attempt(hook, event)
                if error is not None:
                    break
                if event.type == "declaration.shared":
                    shown.append(event.data["declaration"]["id"])  # seen only once the receiver took it
            cursor = event.id
        paused = await self._in_store(self.ctx.write, self._progress(hook, cursor, error))
        if paused:
            await self.post.forget(hook.id)
        if shown:
            await self._in_store(self.ctx.write, record_job(self.ctx, hook.party, shown, "webhook"))
        return error is None and len(batch) == BATCH

    async def _attempt(self, hook: Webhook, event: StoredEvent) -> str | None:
        """One delivery within its deadline: None when the receiver took it, else what failed (no remote text)."""
        body = _body(event)
        try:
            async with asyncio.timeout(self.rules.deadline_s):
                return await self._post_checked(hook, body, event.id)
        except TimeoutError:
            return "timed out"
        except OSError as exc:  # no answer: nothing of the cause is shown but that
            log.debug("webhook %s: %s", hook.id, exc)
            return UNREACHABLE
        except Exception:  # not the receiver's doing: the operator should see it, the party learns no more
            log.exception("webhook %s: delivery failed", hook.id)
            return UNREACHABLE

    async def _post_checked(self, hook: Webhook, body: bytes, event_id: int) -> str | None:
        try:
            target: Target | None = parse_target(hook.url)
        except InvalidInput:  # stored under older rules: at_delivery refuses it, without resolving anything
            target = None
        if target is not None and target.address is None:
            # resolving may block (a slow name server): on a thread, under the delivery's deadline
            found = await asyncio.get_running_loop().run_in_executor(self._dns, self.targets.at_delivery, hook.url)
        else:
            found = self.targets.at_delivery(hook.url)
        if isinstance(found, str) or target is None:
            return found if isinstance(found, str) else "refused: the URL is not accepted any more"
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(hook.secret, stamp, body),
            TIMESTAMP_HEADER: stamp,
            EVENT_ID_HEADER: str(event_id),
        }
        self._posted.add(hook.id)
        status = await self.post(hook.id, target, found[0], body, headers)
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _progress(self, hook: Webhook, cursor: int, error: str | None) -> Callable[[Outbox], bool]:
        """The job saving a batch's outcome; it returns True when it paused the webhook."""

        def job(out: Outbox) -> bool:
            current = out.tx.get_webhook(hook.id)
            if current is None or current.removed_at is not None:
                return False
            at = self.ctx.clock()
            if error is None:
                done = replace(current, cursor=cursor, failures=0, next_attempt_s=0.0, last_error=None)
                out.tx.save_webhook(replace(done, last_delivered_at=at))
                return False
            delivered_at = at if cursor != current.cursor else current.last_delivered_at
            moved = replace(current, cursor=cursor, last_delivered_at=delivered_at)
            failed = moved.failed(error, time.time(), self.rules.pause_after)
            out.tx.save_webhook(failed)
            if failed.paused:
                out.emit(hook.party, "webhook.paused", failed.view(), at)
            return failed.paused

        return job


def _forget_task(running: dict[str, asyncio.Task[None]], hook_id: str, _: asyncio.Task[None]) -> None:
    running.pop(hook_id, None)


def _live_webhooks(ctx: Context) -> list[Webhook]:
    with ctx.store.read() as tx:
        return tx.list_webhooks(None)


def _body(event: StoredEvent) -> bytes:
    view = {"id": event.id, "type": event.type, "at": format_time(event.at), "data": event.data}
    return json.dumps(view, separators=(",", ":")).encode()
