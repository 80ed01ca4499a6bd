"""PostgreSQL implementation of the channel's storage (the ledger, messages, notifications, views, webhooks)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import DictRow

from deconfliction.domain.messages import Message, MessageStatus
from deconfliction.domain.notifications import Notification
from deconfliction.domain.webhooks import Webhook
from deconfliction.storage import rows as from_row
from deconfliction.storage.channel import ChannelTx, View
from deconfliction.storage.pgtime import TIMES
from deconfliction.storage.pgtime import dt_req as _req
from deconfliction.storage.pgtime import ts as _ts

_NOTIFICATION_STATUS = {
    "pending": "acked_at IS NULL AND superseded_at IS NULL AND overdue_at IS NULL",
    "overdue": "acked_at IS NULL AND superseded_at IS NULL AND overdue_at IS NOT NULL",
    "acknowledged": "acked_at IS NOT NULL",
    "superseded": "acked_at IS NULL AND superseded_at IS NOT NULL",
    "unacknowledged": "acked_at IS NULL AND superseded_at IS NULL",
}


class PostgresChannelTx(ChannelTx):
    c: Connection[DictRow]

    # the ledger ------------------------------------------------------------------------------------------------
    def append_ledger(self, seq: int, hash_: str, entry: str) -> None:
        self.c.execute("INSERT INTO ledger (seq, hash, entry) VALUES (%s, %s, %s)", (seq, hash_, entry))

    def ledger_head(self) -> tuple[int, str] | None:
        row = self.c.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (int(row["seq"]), str(row["hash"]))

    def ledger_after(self, after_seq: int, limit: int) -> list[str]:
        rows = self.c.execute("SELECT entry FROM ledger WHERE seq > %s ORDER BY seq LIMIT %s", (after_seq, limit))
        return [str(r["entry"]) for r in rows]

    def declaration_digest(self, key: int, version: int) -> tuple[str, str] | None:
        row = self.c.execute(
            "SELECT salt, digest FROM declaration_digests WHERE key = %s AND version = %s", (key, version)
        ).fetchone()
        return None if row is None else (str(row["salt"]), str(row["digest"]))

    def save_declaration_digest(self, key: int, version: int, salt: str, digest: str) -> None:
        self.c.execute(
            "INSERT INTO declaration_digests (key, version, salt, digest) VALUES (%s, %s, %s, %s)",
            (key, version, salt, digest),
        )

    # messages --------------------------------------------------------------------------------------------------
    def save_message(self, message: Message) -> None:
        m = message
        due = (
            m.content.ack_by is not None
            and m.acked_at is None
            and m.overdue_at is None
            and m.status is not MessageStatus.REFUSED
        )
        row = self.c.execute(
            "INSERT INTO messages (seq, id, sender, recipient, holder, waiting_on, status, ack_by, due, signature, doc)"
            " VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM messages), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, waiting_on = excluded.waiting_on,"
            " status = excluded.status, due = excluded.due, doc = excluded.doc RETURNING seq",
            (
                m.id,
                m.content.sender,
                m.content.recipient,
                m.holder,
                m.waiting_on,
                m.status.value,
                _ts(m.content.ack_by),
                due,
                m.signature,
                json.dumps(m.to_record(), separators=(",", ":")),
            ),
        ).fetchone()
        assert row is not None
        with self.c.cursor() as cur:
            cur.executemany(
                "INSERT INTO message_parties (party, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(p, row["seq"]) for p in m.route[: m.position + 1]],
            )

    def get_message(self, message_id: str) -> Message | None:
        row = self.c.execute("SELECT doc FROM messages WHERE id = %s", (message_id,)).fetchone()
        return None if row is None else from_row.message(row["doc"])

    def list_messages(self, party: str, box: str, limit: int, before_seq: int | None) -> list[tuple[int, Message]]:
        where = {
            "outbox": "sender = %s",
            "inbox": "recipient = %s AND status IN ('delivered', 'read', 'acknowledged')",
            "relay": "waiting_on = %s AND holder = waiting_on",
            "all": "seq IN (SELECT seq FROM message_parties WHERE party = %s)",
        }[box]
        args: list[Any] = [party]
        if before_seq is not None:
            where += " AND seq < %s"
            args.append(before_seq)
        args.append(limit)
        rows = self.c.execute(f"SELECT seq, doc FROM messages WHERE {where} ORDER BY seq DESC LIMIT %s", args)
        return [(int(r["seq"]), from_row.message(r["doc"])) for r in rows]

    def messages_waiting_on(self, party: str) -> list[Message]:
        rows = self.c.execute("SELECT doc FROM messages WHERE waiting_on = %s ORDER BY seq", (party,))
        return [from_row.message(r["doc"]) for r in rows]

    def due_messages(self, now: datetime, limit: int) -> list[Message]:
        rows = self.c.execute(
            "SELECT doc FROM messages WHERE due AND ack_by <= %s ORDER BY ack_by, seq LIMIT %s", (_ts(now), limit)
        )
        return [from_row.message(r["doc"]) for r in rows]

    def message_with_signature(self, signature: str) -> str | None:
        row = self.c.execute("SELECT id FROM messages WHERE signature = %s", (signature,)).fetchone()
        return None if row is None else str(row["id"])

    # notifications ---------------------------------------------------------------------------------------------
    def save_notification(self, notification: Notification) -> None:
        n = notification
        self.c.execute(
            "INSERT INTO notifications (seq, id, party, owner, declaration, version, digest, salt, created_at, ack_by,"
            " acked_at, ack_signature, overdue_at, superseded_at) VALUES"
            " ((SELECT COALESCE(MAX(seq), 0) + 1 FROM notifications), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s) ON CONFLICT (id) DO UPDATE SET acked_at = excluded.acked_at,"
            " ack_signature = excluded.ack_signature, overdue_at = excluded.overdue_at,"
            " superseded_at = excluded.superseded_at",
            (
                n.id,
                n.party,
                n.owner,
                n.declaration,
                n.version,
                n.digest,
                n.salt,
                _ts(n.created_at),
                _ts(n.ack_by),
                _ts(n.acked_at),
                n.ack_signature,
                _ts(n.overdue_at),
                _ts(n.superseded_at),
            ),
        )

    def get_notification(self, notification_id: str) -> Notification | None:
        row = self.c.execute("SELECT * FROM notifications WHERE id = %s", (notification_id,)).fetchone()
        return None if row is None else from_row.notification(row, TIMES)

    def list_notifications(
        self, party: str, status: str | None, limit: int, before_seq: int | None
    ) -> list[tuple[int, Notification]]:
        where = ["party = %s"]
        args: list[Any] = [party]
        if status is not None:
            where.append(_NOTIFICATION_STATUS[status])
        if before_seq is not None:
            where.append("seq < %s")
            args.append(before_seq)
        args.append(limit)
        rows = self.c.execute(
            f"SELECT * FROM notifications WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s", args
        )
        return [(int(r["seq"]), from_row.notification(r, TIMES)) for r in rows]

    def notifications_of_declaration(self, declaration_id: str) -> list[Notification]:
        rows = self.c.execute("SELECT * FROM notifications WHERE declaration = %s ORDER BY seq", (declaration_id,))
        return [from_row.notification(r, TIMES) for r in rows]

    def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        rows = self.c.execute(
            "SELECT * FROM notifications WHERE acked_at IS NULL AND overdue_at IS NULL AND superseded_at IS NULL"
            " AND ack_by IS NOT NULL AND ack_by <= %s ORDER BY ack_by, seq LIMIT %s",
            (_ts(now), limit),
        )
        return [from_row.notification(r, TIMES) for r in rows]

    # who saw what ----------------------------------------------------------------------------------------------
    def add_views(self, views: Sequence[View]) -> None:
        with self.c.cursor() as cur:
            cur.executemany(
                "INSERT INTO declaration_views (seq, declaration, party, via, at)"
                " VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM declaration_views), %s, %s, %s, %s)",
                [(v.declaration, v.party, v.via, _ts(v.at)) for v in views],
            )

    def views_of(self, declaration_id: str, after_seq: int, limit: int) -> list[tuple[int, View]]:
        rows = self.c.execute(
            "SELECT seq, declaration, party, via, at FROM declaration_views WHERE declaration = %s AND seq > %s"
            " ORDER BY seq LIMIT %s",
            (declaration_id, after_seq, limit),
        )
        return [(int(r["seq"]), View(r["declaration"], r["party"], r["via"], _req(r["at"]))) for r in rows]

    # webhooks --------------------------------------------------------------------------------------------------
    def save_webhook(self, webhook: Webhook) -> None:
        w = webhook
        self.c.execute(
            "INSERT INTO webhooks (id, party, url, secret, created_at, cursor, failures, next_attempt_s, last_error,"
            " last_delivered_at, removed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, failures = excluded.failures,"
            " next_attempt_s = excluded.next_attempt_s, last_error = excluded.last_error,"
            " last_delivered_at = excluded.last_delivered_at, removed_at = excluded.removed_at",
            (
                w.id,
                w.party,
                w.url,
                w.secret,
                _ts(w.created_at),
                w.cursor,
                w.failures,
                w.next_attempt_s,
                w.last_error,
                _ts(w.last_delivered_at),
                _ts(w.removed_at),
            ),
        )

    def get_webhook(self, webhook_id: str) -> Webhook | None:
        row = self.c.execute("SELECT * FROM webhooks WHERE id = %s", (webhook_id,)).fetchone()
        return None if row is None else from_row.webhook(row, TIMES)

    def list_webhooks(self, party: str | None) -> list[Webhook]:
        # created_at, then the order of creation (SQLite's rowid) for webhooks created at the same instant
        if party is None:
            rows = self.c.execute("SELECT * FROM webhooks WHERE removed_at IS NULL ORDER BY created_at, seq")
        else:
            rows = self.c.execute(
                "SELECT * FROM webhooks WHERE removed_at IS NULL AND party = %s ORDER BY created_at, seq", (party,)
            )
        return [from_row.webhook(r, TIMES) for r in rows]

    def last_event_id(self, party: str) -> int:
        row = self.c.execute("SELECT COALESCE(MAX(id), 0) AS id FROM events WHERE party = %s", (party,)).fetchone()
        assert row is not None
        return int(row["id"])
