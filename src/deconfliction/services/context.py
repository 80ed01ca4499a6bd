"""What every use case needs: the store, the active picture, the event hub, limits and the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from deconfliction.domain.declarations import DeclarationLimits
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.timewindow import utcnow
from deconfliction.services.picture import Picture
from deconfliction.storage.base import Store, Tx


class EventSink(Protocol):
    def notify(self, parties: set[str]) -> None:
        """Wake the streams of these parties: new events are in the store."""


class NullSink:
    def notify(self, parties: set[str]) -> None:
        return None


@dataclass
class Context:
    store: Store
    picture: Picture
    limits: DeclarationLimits
    policy: SeparationPolicy
    sink: EventSink = field(default_factory=NullSink)
    clock: Callable[[], datetime] = utcnow
    # One writer at a time in this process: the conflict check and the write it guards are one atomic step.
    write_lock: threading.RLock = field(default_factory=threading.RLock)

    @contextmanager
    def writing(self) -> Iterator[Outbox]:
        """A durable write transaction; events it records wake their streams only once committed."""
        outbox = Outbox()
        with self.write_lock:
            with self.store.write() as tx:
                outbox.tx = tx
                yield outbox
            if outbox.after_commit is not None:
                outbox.after_commit()
        if outbox.parties:
            self.sink.notify(outbox.parties)


class Outbox:
    """Events appended in the current transaction, and what to do in memory once it commits."""

    def __init__(self) -> None:
        self.tx: Tx = None  # type: ignore[assignment]  # set by Context.writing before use
        self.parties: set[str] = set()
        self.after_commit: Callable[[], None] | None = None

    def emit(self, party: str, type_: str, data: dict[str, Any], at: datetime) -> None:
        self.tx.append_event(party, type_, data, at)
        self.parties.add(party)
