"""PostgreSQL/PostGIS backend: several worker processes share one database.

Write transactions run one at a time across every process (a transaction-scoped advisory lock, taken first: what
BEGIN IMMEDIATE is to SQLite) and are durable at COMMIT (`synchronous_commit = on`). Reads are read-only
REPEATABLE READ snapshots. Connections come from a bounded pool; listening for announcements and holding the
leadership each take one connection of their own.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from typing import Any, LiteralString

import psycopg
from psycopg import Connection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from deconfliction.domain.parties import Link, Party, PartyStatus
from deconfliction.storage import rows as from_row
from deconfliction.storage.base import Store, StoredEvent, Tx
from deconfliction.storage.pgtime import TIMES
from deconfliction.storage.pgtime import dt_req as _req
from deconfliction.storage.pgtime import ts as _ts
from deconfliction.storage.postgres_channel import PostgresChannelTx
from deconfliction.storage.postgres_declarations import PostgresDeclarationsTx
from deconfliction.storage.postgres_dss import PostgresDssTx
from deconfliction.storage.postgres_lines import PostgresLinesTx
from deconfliction.storage.postgres_listen import conninfo, lead, listen
from deconfliction.storage.postgres_mqtt import PostgresMqttTx
from deconfliction.storage.postgres_sync import PostgresSyncTx
from deconfliction.storage.postgres_tracks import PostgresTracksTx

# Migrations lock the whole database, not one schema: CREATE EXTENSION is the database's.
MIGRATION_LOCK = int.from_bytes(b"deconfM1", "big", signed=True)
_MAX_PAYLOAD_BYTES = 7_999  # NOTIFY takes less than 8000 bytes


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL scripts for PostgreSQL, in order: the same versions, meaning the same, as SQLite's."""
    folder = resources.files("deconfliction.storage") / "migrations"
    out = []
    for entry in folder.iterdir():
        if entry.name.startswith("postgres_") and entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_")[1]), entry.read_text(encoding="utf-8")))
    return sorted(out)


def notify_channel(schema: str) -> str:
    """The NOTIFY channel of the channel kept in `schema`: like advisory locks, NOTIFY channels are the database's,
    and the workers of one channel must not hear another's announcements."""
    return f"deconf_{lock_id('notify', schema) & (2**64 - 1):016x}"


def lock_id(purpose: str, schema: str) -> int:
    """A fixed 64-bit advisory lock id for one purpose of the channel kept in `schema` (advisory locks are the
    database's: two channels in two schemas of one database must not share a writer or a leader)."""
    digest = hashlib.blake2b(f"deconf/{purpose}/{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def announcement(parties: Sequence[str]) -> str:
    """A NOTIFY payload: the JSON list of parties, or `null` ("everyone look") when it would be too long."""
    payload = json.dumps(sorted(set(parties)), separators=(",", ":"))
    return payload if len(payload.encode()) <= _MAX_PAYLOAD_BYTES else "null"


def _rollback(conn: Connection[Any]) -> None:
    """End the transaction, if the connection still has one; a broken connection is left to the pool to drop."""
    if conn.closed or conn.info.transaction_status in (TransactionStatus.IDLE, TransactionStatus.UNKNOWN):
        return
    with suppress(psycopg.Error):
        conn.execute("ROLLBACK")


def _configurer(lock_timeout_s: float) -> Callable[[Connection[DictRow]], None]:
    def configure(conn: Connection[DictRow]) -> None:
        # durable at COMMIT whatever the database's default; times come back in UTC; a write waiting for the write
        # lock longer than SQLite's busy timeout fails as SQLite's would
        conn.execute("SET synchronous_commit = on")
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{round(lock_timeout_s * 1000)}ms")))

    return configure


class PostgresTx(
    PostgresChannelTx,
    PostgresMqttTx,
    PostgresTracksTx,
    PostgresLinesTx,
    PostgresSyncTx,
    PostgresDeclarationsTx,
    PostgresDssTx,
    Tx,
):
    def __init__(self, conn: Connection[DictRow], channel: str) -> None:
        self.c = conn
        self.notify_channel = channel  # where `announce` notifies

    def savepoint(self) -> None:
        self.c.execute("SAVEPOINT job")

    def release_savepoint(self) -> None:
        self.c.execute("RELEASE SAVEPOINT job")

    def rollback_to_savepoint(self) -> None:
        self.c.execute("ROLLBACK TO SAVEPOINT job")
        self.c.execute("RELEASE SAVEPOINT job")

    # parties ---------------------------------------------------------------------------------------------------
    def add_party(self, party: Party) -> None:
        at = _ts(party.created_at)
        self.c.execute(
            "INSERT INTO parties (id, name, status, public_key, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (party.id, party.name, party.status.value, party.public_key, at, at),
        )

    def get_party(self, party_id: str) -> Party | None:
        row = self.c.execute("SELECT * FROM parties WHERE id = %s", (party_id,)).fetchone()
        return None if row is None else from_row.party(row, TIMES)

    def list_parties(self) -> list[Party]:
        return [from_row.party(r, TIMES) for r in self.c.execute("SELECT * FROM parties ORDER BY id")]

    def update_party(self, party_id: str, status: PartyStatus, public_key: str | None, at: datetime) -> None:
        self.c.execute(
            "UPDATE parties SET status = %s, public_key = %s, updated_at = %s WHERE id = %s",
            (status.value, public_key, _ts(at), party_id),
        )

    def add_token(self, token_hash: str, party: str, at: datetime) -> None:
        self.c.execute(
            "INSERT INTO tokens (token_hash, party, created_at) VALUES (%s, %s, %s)", (token_hash, party, _ts(at))
        )

    def party_for_token(self, token_hash: str) -> str | None:
        row = self.c.execute(
            "SELECT party FROM tokens WHERE token_hash = %s AND revoked_at IS NULL", (token_hash,)
        ).fetchone()
        return None if row is None else str(row["party"])

    def get_meta(self, key: str) -> str | None:
        row = self.c.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self.c.execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # links -----------------------------------------------------------------------------------------------------
    def add_link(self, link: Link) -> None:
        self.c.execute(
            "INSERT INTO links (a, b, relay, created_at) VALUES (%s, %s, %s, %s)",
            (link.a, link.b, link.relay.value, _ts(link.created_at)),
        )

    def get_link(self, a: str, b: str) -> Link | None:
        a, b = Link.ordered(a, b)
        row = self.c.execute("SELECT * FROM links WHERE a = %s AND b = %s", (a, b)).fetchone()
        return None if row is None else from_row.link(row, TIMES)

    def list_links(self) -> list[Link]:
        return [from_row.link(r, TIMES) for r in self.c.execute("SELECT * FROM links ORDER BY a, b")]

    def set_link(self, link: Link) -> None:
        self.c.execute("UPDATE links SET relay = %s WHERE a = %s AND b = %s", (link.relay.value, link.a, link.b))

    def remove_link(self, a: str, b: str) -> None:
        a, b = Link.ordered(a, b)
        self.c.execute("DELETE FROM links WHERE a = %s AND b = %s", (a, b))

    # events ----------------------------------------------------------------------------------------------------
    def append_event(self, party: str, type_: str, data: dict[str, Any], at: datetime) -> int:
        row = self.c.execute(
            "INSERT INTO events (id, party, type, data, at) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM events),"
            " %s, %s, %s, %s) RETURNING id",
            (party, type_, json.dumps(data, separators=(",", ":")), _ts(at)),
        ).fetchone()
        assert row is not None
        return int(row["id"])

    def events_after(self, party: str, after_id: int, limit: int) -> list[StoredEvent]:
        rows = self.c.execute(
            "SELECT * FROM events WHERE party = %s AND id > %s ORDER BY id LIMIT %s", (party, after_id, limit)
        )
        return [StoredEvent(r["id"], r["party"], r["type"], json.loads(r["data"]), _req(r["at"])) for r in rows]

    def count_events_after(self, party: str, after_id: int, cap: int) -> int:
        row = self.c.execute(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE party = %s AND id > %s LIMIT %s) AS waiting",
            (party, after_id, cap),
        ).fetchone()
        assert row is not None
        return int(row["n"])

    def announce(self, parties: Sequence[str]) -> None:
        # delivered to every listener when (and only if) this transaction commits
        self.c.execute("SELECT pg_notify(%s, %s)", (self.notify_channel, announcement(parties)))


class PostgresStore(Store):
    """One PostgreSQL database (the schema first on the URL's search_path) holding one channel."""

    def __init__(
        self, url: str, max_connections: int = 8, connect_timeout_s: float = 10.0, lock_timeout_s: float = 30.0
    ) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self._closed = threading.Event()
        self._leader: Connection[Any] | None = None  # the connection that holds, or asks for, the leadership
        self._leading = False
        self._lead_lock = threading.Lock()
        self._pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
            conninfo(url, "deconf"),
            connection_class=Connection[DictRow],
            kwargs={"autocommit": True, "row_factory": dict_row},  # transactions are begun and ended explicitly
            min_size=1,
            max_size=max_connections,
            configure=_configurer(lock_timeout_s),
            check=ConnectionPool.check_connection,  # a connection the server dropped is replaced, not handed out
            name="deconf",
            open=False,
        )
        self._pool.open(wait=False)
        try:
            self._pool.wait(timeout=connect_timeout_s)
        except PoolTimeout:
            self._pool.close()
            # say why: libpq's own reason, from one direct attempt
            psycopg.connect(url, connect_timeout=max(1, round(connect_timeout_s))).close()
            raise
        schema = self._scalar("SELECT COALESCE(current_schema(), '') AS v")
        self._write_lock = lock_id("writes", str(schema))
        self._lead_lock_id = lock_id("leader", str(schema))
        self._channel = notify_channel(str(schema))

    def _scalar(self, query: LiteralString) -> Any:
        conn = self._pool.getconn()
        try:
            row = conn.execute(query).fetchone()
        finally:
            self._pool.putconn(conn)
        return None if row is None else row["v"]

    def schema_version(self) -> int:
        if self._scalar("SELECT to_regclass('schema_migrations') IS NOT NULL AS v") is not True:
            return 0  # a new database: no migration has run yet
        return int(self._scalar("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations"))

    def migrate(self) -> list[int]:
        """Apply each pending migration in a transaction of its own, under a lock that makes workers starting
        together take turns: the second finds the work done."""
        applied = []
        conn = self._pool.getconn()
        try:
            for version, script in [(0, ""), *migrations()]:
                conn.execute("BEGIN")
                try:
                    conn.execute("SET LOCAL lock_timeout = 0")  # a long migration is waited for, however long
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                    if version == 0:
                        conn.execute(
                            "CREATE TABLE IF NOT EXISTS schema_migrations"
                            " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)"
                        )
                    elif not conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,)).fetchone():
                        conn.execute(script)  # the package's own SQL
                        conn.execute(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                            (version, datetime.now(UTC)),
                        )
                        applied.append(version)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
        finally:
            self._pool.putconn(conn)
        return applied

    @contextmanager
    def write(self) -> Iterator[Tx]:
        conn = self._pool.getconn()
        try:
            # READ COMMITTED, the lock first: every statement after it sees all that committed before it was granted
            conn.execute("BEGIN")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._write_lock,))
                yield PostgresTx(conn, self._channel)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        conn = self._pool.getconn()
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield PostgresTx(conn, self._channel)
            finally:
                _rollback(conn)
        finally:
            self._pool.putconn(conn)

    def watch(self, on_announce: Callable[[frozenset[str] | None], None], stop: threading.Event) -> None:
        """LISTEN on a connection of its own; reconnect with backoff if it drops, then announce None (everyone
        look), since announcements may have been missed meanwhile. Returns within about half a second of `stop`."""
        listen(self.url, self._channel, on_announce, stop, self._closed, self.connect_timeout_s)

    def try_lead(self) -> bool:
        """Leadership is a session advisory lock held by a connection of its own: the server drops it when this
        process ends or loses its connection."""
        with self._lead_lock:
            if self._closed.is_set():
                return False
            self._leader, self._leading = lead(
                self.url, self._leader, self._leading, self._lead_lock_id, self.connect_timeout_s
            )
            return self._leading

    def close(self) -> None:
        self._closed.set()
        with self._lead_lock:
            if self._leader is not None:
                if self._leading:  # unlocked here: the server ends a closed session, and frees its locks, later
                    with suppress(psycopg.Error):
                        self._leader.execute("SELECT pg_advisory_unlock(%s)", (self._lead_lock_id,))
                self._leader.close()  # the lock goes with the session anyway
                self._leader, self._leading = None, False
        self._pool.close()
