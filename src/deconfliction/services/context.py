"""What every use case needs: the store, the active picture, the live tracks, the writer, limits, the clock."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from deconfliction.domain.declarations import DeclarationLimits
from deconfliction.domain.probing import ProbeRule
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.signing import SigningKey
from deconfliction.domain.timewindow import utcnow
from deconfliction.services.chain import Chain
from deconfliction.services.dss_picture import DssPicture
from deconfliction.services.picture import Picture
from deconfliction.services.track_lines import BoundLines
from deconfliction.services.track_picture import TrackPicture
from deconfliction.services.writer import Outbox, Writer
from deconfliction.storage.base import Store

T = TypeVar("T")


class EventSink(Protocol):
    def notify(self, parties: set[str]) -> None:
        """Wake the streams of these parties: new events are in the store."""


class NullSink:
    def notify(self, parties: set[str]) -> None:
        return None


class TokenCache:
    """Token digest → (party, status), kept briefly so that each request need not read the store.

    Cleared on every change of a party; entries also expire after `ttl_s` as a bound on staleness.
    """

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[object, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> object | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, value: object) -> None:
        with self._lock:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[digest] = (value, time.monotonic() + self.ttl_s)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Context:
    store: Store
    picture: Picture
    limits: DeclarationLimits
    policy: SeparationPolicy
    sink: EventSink = field(default_factory=NullSink)
    clock: Callable[[], datetime] = utcnow
    tokens: TokenCache = field(default_factory=TokenCache)
    ledger_key: SigningKey = field(default_factory=SigningKey.generate)
    notification_ack_s: float = 86_400.0  # default deadline to acknowledge a declaration shared with a party
    probing: ProbeRule = field(default_factory=ProbeRule)  # when brief conflicts flag a prober (domain/probing.py)
    # the live tracks, loaded by services/tracks.py (`configure` at start-up; with the defaults on first use otherwise)
    tracks: TrackPicture | None = None
    bound_lines: BoundLines = field(default_factory=BoundLines)  # accepted lines by party, for the tracks' hot path
    dss: DssPicture = field(default_factory=DssPicture)  # the F3548 DSS's entities (services/dss_picture.py)
    chain: Chain = field(init=False)
    writer: Writer = field(init=False)

    def __post_init__(self) -> None:
        with self.store.read() as tx:
            head = tx.ledger_head()
        self.chain = Chain(self.ledger_key, head)
        self.writer = Writer(self.store, self.picture, self.chain, self.sink.notify)

    def write(self, job: Callable[[Outbox], T]) -> T:
        """Run a write job on the single writer; returns once it is durably committed (or raises its error)."""
        return self.writer.run(job)

    async def write_async(self, job: Callable[[Outbox], T]) -> T:
        """As `write`, awaited from the event loop without holding a thread."""
        return await asyncio.wrap_future(self.writer.submit(job))

    def close(self) -> None:
        self.writer.stop()
        self.store.close()
