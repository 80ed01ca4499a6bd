"""The storage interface of the channel's record, messages, notifications, views and webhooks (see base.Tx)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from deconfliction.domain.messages import Message
from deconfliction.domain.notifications import Notification
from deconfliction.domain.webhooks import Webhook


@dataclass(frozen=True, slots=True)
class View:
    declaration: str
    party: str
    via: str
    at: datetime


class ChannelTx(abc.ABC):
    # the ledger
    @abc.abstractmethod
    def append_ledger(self, seq: int, hash_: str, entry: str) -> None: ...
    @abc.abstractmethod
    def ledger_head(self) -> tuple[int, str] | None: ...
    @abc.abstractmethod
    def ledger_after(self, after_seq: int, limit: int) -> list[str]:
        """Entries (canonical JSON text) with seq > after_seq, in order."""

    @abc.abstractmethod
    def declaration_digest(self, key: int, version: int) -> tuple[str, str] | None:
        """(salt, digest) of a declaration version."""

    @abc.abstractmethod
    def save_declaration_digest(self, key: int, version: int, salt: str, digest: str) -> None: ...

    # messages
    @abc.abstractmethod
    def save_message(self, message: Message) -> None:
        """Insert or update; the parties it has reached may see it from now on."""

    @abc.abstractmethod
    def get_message(self, message_id: str) -> Message | None: ...
    @abc.abstractmethod
    def list_messages(self, party: str, box: str, limit: int, before_seq: int | None) -> list[tuple[int, Message]]:
        """(seq, message), newest first. Boxes: outbox (sent), inbox (delivered to it), relay (awaiting its review),
        all (every message the party may see)."""

    @abc.abstractmethod
    def messages_waiting_on(self, party: str) -> list[Message]: ...
    @abc.abstractmethod
    def due_messages(self, now: datetime, limit: int) -> list[Message]:
        """Messages whose ack_by has passed, not acknowledged, refused or flagged overdue yet."""

    @abc.abstractmethod
    def message_with_signature(self, signature: str) -> str | None: ...

    # notifications
    @abc.abstractmethod
    def save_notification(self, notification: Notification) -> None: ...
    @abc.abstractmethod
    def get_notification(self, notification_id: str) -> Notification | None: ...
    @abc.abstractmethod
    def list_notifications(
        self, party: str, status: str | None, limit: int, before_seq: int | None
    ) -> list[tuple[int, Notification]]: ...
    @abc.abstractmethod
    def notifications_of_declaration(self, declaration_id: str) -> list[Notification]: ...
    @abc.abstractmethod
    def due_notifications(self, now: datetime, limit: int) -> list[Notification]: ...

    # who saw what
    @abc.abstractmethod
    def add_views(self, views: Sequence[View]) -> None: ...
    @abc.abstractmethod
    def views_of(self, declaration_id: str, after_seq: int, limit: int) -> list[tuple[int, View]]: ...

    # webhooks
    @abc.abstractmethod
    def save_webhook(self, webhook: Webhook) -> None: ...
    @abc.abstractmethod
    def get_webhook(self, webhook_id: str) -> Webhook | None: ...
    @abc.abstractmethod
    def list_webhooks(self, party: str | None) -> list[Webhook]:
        """Live (not removed) webhooks, of one party or of all."""

    @abc.abstractmethod
    def last_event_id(self, party: str) -> int: ...
