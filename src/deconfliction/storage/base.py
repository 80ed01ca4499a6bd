"""The storage interface the services use. Backends keep their SQL behind it; nothing here does I/O."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconfliction.domain.conflicts import Conflict
from deconfliction.domain.declarations import Declaration
from deconfliction.domain.parties import Link, Party, PartyStatus
from deconfliction.domain.probing import Ended
from deconfliction.storage.channel import ChannelTx
from deconfliction.storage.dss import DssTx
from deconfliction.storage.lines import LinesTx
from deconfliction.storage.mqtt import MqttTx
from deconfliction.storage.sync import SyncTx
from deconfliction.storage.tracks import TracksTx

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    party: str
    type: str
    data: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class DeclarationQuery:
    """What a party asks to list: only what it may see, optionally filtered."""

    viewer: str
    boxes: Sequence[Box] = ()
    start_s: float | None = None
    end_s: float | None = None
    status: str | None = "active"  # None: any status
    party: str | None = None
    after_key: int = 0
    limit: int = 1_000


class Tx(ChannelTx, MqttTx, TracksTx, LinesTx, SyncTx, DssTx):
    """One transaction. Writes are durable on disk when the `write()` block exits without error."""

    # savepoints: one write job of a group commit can fail without undoing the others
    @abc.abstractmethod
    def savepoint(self) -> None: ...
    @abc.abstractmethod
    def release_savepoint(self) -> None: ...
    @abc.abstractmethod
    def rollback_to_savepoint(self) -> None: ...

    # parties and tokens
    @abc.abstractmethod
    def add_party(self, party: Party) -> None: ...
    @abc.abstractmethod
    def get_party(self, party_id: str) -> Party | None: ...
    @abc.abstractmethod
    def list_parties(self) -> list[Party]: ...
    @abc.abstractmethod
    def update_party(self, party_id: str, status: PartyStatus, public_key: str | None, at: datetime) -> None: ...
    @abc.abstractmethod
    def add_token(self, token_hash: str, party: str, at: datetime) -> None: ...
    @abc.abstractmethod
    def party_for_token(self, token_hash: str) -> str | None: ...
    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None: ...
    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    # links
    @abc.abstractmethod
    def add_link(self, link: Link) -> None: ...
    @abc.abstractmethod
    def get_link(self, a: str, b: str) -> Link | None: ...
    @abc.abstractmethod
    def list_links(self) -> list[Link]: ...
    @abc.abstractmethod
    def set_link(self, link: Link) -> None: ...
    @abc.abstractmethod
    def remove_link(self, a: str, b: str) -> None: ...

    # declarations
    @abc.abstractmethod
    def next_declaration_key(self) -> int: ...
    @abc.abstractmethod
    def save_declaration(self, declaration: Declaration, boxes: Sequence[Box]) -> None:
        """Insert or update the current version and append it to the declaration's history."""

    @abc.abstractmethod
    def get_declaration(self, declaration_id: str) -> Declaration | None: ...
    @abc.abstractmethod
    def get_declarations(self, declaration_ids: Sequence[str]) -> list[Declaration]:
        """Those of these declarations that exist, in any order (one query)."""

    @abc.abstractmethod
    def list_declarations(self, query: DeclarationQuery) -> list[tuple[int, dict[str, Any]]]:
        """(key, stored Feature) of what the viewer may see, by key, after `after_key`, at most `limit`."""

    @abc.abstractmethod
    def visible_declaration_ids(self, viewer: str, declaration_ids: Sequence[str]) -> set[str]:
        """Which of these declarations `viewer` may see (owner, audience "all", or named in the audience)."""

    @abc.abstractmethod
    def active_declarations(self) -> Iterator[Declaration]: ...
    @abc.abstractmethod
    def count_active_declarations(self) -> int: ...

    # conflicts
    @abc.abstractmethod
    def save_conflict(self, conflict: Conflict) -> None:
        """Insert a new conflict or update its acknowledgement/resolution."""

    @abc.abstractmethod
    def get_conflict(self, conflict_id: str) -> Conflict | None: ...
    @abc.abstractmethod
    def conflicts_opened(self) -> int:
        """How many conflicts were ever opened on the channel (resolved ones included)."""

    @abc.abstractmethod
    def open_conflicts_of_declaration(self, declaration_id: str) -> list[Conflict]: ...
    @abc.abstractmethod
    def list_conflicts(
        self, party: str, status: str | None, limit: int, before_seq: int | None = None
    ) -> list[Conflict]:
        """The party's conflicts, newest first; status is as seen by that party."""

    @abc.abstractmethod
    def ended_probes(self, party: str, since: datetime) -> list[Ended]:
        """The conflicts `party`'s declarations opened since `since` with declarations hidden from it (compared as
        their coverings) that `party` then ended by changing or cancelling its own (see domain/probing.py)."""

    @abc.abstractmethod
    def last_declaration_write(self, party: str) -> datetime | None:
        """When `party` last declared, revised or cancelled a declaration."""

    # events
    @abc.abstractmethod
    def append_event(self, party: str, type_: str, data: dict[str, Any], at: datetime) -> int: ...
    @abc.abstractmethod
    def events_after(self, party: str, after_id: int, limit: int) -> list[StoredEvent]: ...
    @abc.abstractmethod
    def count_events_after(self, party: str, after_id: int, cap: int) -> int:
        """How many of the party's events come after `after_id`, counted up to `cap`."""

    @abc.abstractmethod
    def announce(self, parties: Sequence[str]) -> None:
        """Tell the other workers, when this transaction commits, that these parties have new events and that the
        change feed moved (PostgreSQL: NOTIFY; SQLite: nothing, the other workers poll)."""


class Store(abc.ABC):
    """A database holding one channel."""

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...
    @abc.abstractmethod
    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction, committed durably on exit (rolled back on error)."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Tx]:
        """A read-only snapshot."""

    @abc.abstractmethod
    def watch(self, on_announce: Callable[[frozenset[str] | None], None], stop: threading.Event) -> None:
        """Block until `stop` is set, calling `on_announce` whenever another worker's write committed: with the
        parties it announced, or None when the backend cannot tell (then every stream should look)."""

    @abc.abstractmethod
    def try_lead(self) -> bool:
        """Become this channel's leader (the one worker that runs the background jobs) if no live worker is; True
        if this store holds the leadership now. Held until `close` or the process ends, whichever comes first."""

    @abc.abstractmethod
    def close(self) -> None: ...
