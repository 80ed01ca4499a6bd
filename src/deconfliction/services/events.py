"""Live delivery: the store keeps every party's events; the hub wakes waiting streams when new ones commit."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable

from deconfliction.services.context import Context
from deconfliction.storage.base import StoredEvent


class EventHub:
    """Wakes asyncio waiters of a party from any thread. Events themselves are read from the store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)
        self._listeners: list[Callable[[set[str]], None]] = []
        self.closing = False

    def add_listener(self, listener: Callable[[set[str]], None]) -> None:
        """Also call `listener` (from the writer thread; it must be quick) when parties have new events."""
        self._listeners.append(listener)

    def subscribe(self, party: str) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._waiters[party].add((asyncio.get_running_loop(), event))
        return event

    def unsubscribe(self, party: str, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters[party] = {(lp, ev) for lp, ev in self._waiters[party] if ev is not event}
            if not self._waiters[party]:
                del self._waiters[party]

    def notify(self, parties: set[str]) -> None:
        for listener in self._listeners:
            listener(parties)
        with self._lock:
            targets = [w for p in parties for w in self._waiters.get(p, ())]
        for loop, event in targets:
            if loop.is_closed():
                continue
            loop.call_soon_threadsafe(event.set)

    def notify_all(self) -> None:
        """Wake every stream (another worker wrote, and cannot say for whom)."""
        with self._lock:
            parties = set(self._waiters)
        self.notify(parties)

    def close(self) -> None:
        """The server is stopping: wake every stream so that it ends instead of holding the shutdown."""
        self.closing = True
        with self._lock:
            parties = set(self._waiters)
        self.notify(parties)

    def subscribers(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiters.values())


def latest_event_id(ctx: Context, party: str) -> int:
    """The id of the party's newest event (0 if none): where a stream that asks for no history starts."""
    with ctx.store.read() as tx:
        return tx.last_event_id(party)


def events_after(ctx: Context, party: str, after_id: int, limit: int = 500) -> list[StoredEvent]:
    with ctx.store.read() as tx:
        return tx.events_after(party, after_id, limit)
