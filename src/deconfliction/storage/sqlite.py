"""SQLite backend: the embedded default. WAL journal, `synchronous=FULL`: a committed write is on disk."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from deconfliction.domain.conflicts import (
    Conflict,
)
from deconfliction.domain.declarations import (
    AUDIENCE_ALL,
    Declaration,
)
from deconfliction.domain.parties import Link, Party, PartyStatus
from deconfliction.domain.probing import Ended
from deconfliction.domain.timewindow import format_time
from deconfliction.storage import rows as from_row
from deconfliction.storage.base import Box, DeclarationQuery, Store, StoredEvent, Tx
from deconfliction.storage.sqlite_channel import SqliteChannelTx
from deconfliction.storage.sqlite_dss import SqliteDssTx
from deconfliction.storage.sqlite_lines import SqliteLinesTx
from deconfliction.storage.sqlite_mqtt import SqliteMqttTx
from deconfliction.storage.sqlite_sync import SqliteSyncTx
from deconfliction.storage.sqlite_tracks import SqliteTracksTx
from deconfliction.storage.sqltime import TIMES
from deconfliction.storage.sqltime import dt_req as _dt_req
from deconfliction.storage.sqltime import ts as _ts


def _set_wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch to WAL. On a new file, several processes opening it at once contend for the switch, which SQLite
    answers with "locked" at once rather than through the busy handler: retry, briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL scripts shipped with the package, in order."""
    folder = resources.files("deconfliction.storage") / "migrations"
    out = []
    for entry in folder.iterdir():
        if entry.name.startswith("sqlite_") and entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_")[1]), entry.read_text(encoding="utf-8")))
    return sorted(out)


class SqliteTx(SqliteChannelTx, SqliteMqttTx, SqliteTracksTx, SqliteLinesTx, SqliteSyncTx, SqliteDssTx, Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn

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
            "INSERT INTO parties (id, name, status, public_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (party.id, party.name, party.status.value, party.public_key, at, at),
        )

    def get_party(self, party_id: str) -> Party | None:
        row = self.c.execute("SELECT * FROM parties WHERE id = ?", (party_id,)).fetchone()
        return None if row is None else from_row.party(row, TIMES)

    def list_parties(self) -> list[Party]:
        return [from_row.party(r, TIMES) for r in self.c.execute("SELECT * FROM parties ORDER BY id")]

    def update_party(self, party_id: str, status: PartyStatus, public_key: str | None, at: datetime) -> None:
        self.c.execute(
            "UPDATE parties SET status = ?, public_key = ?, updated_at = ? WHERE id = ?",
            (status.value, public_key, _ts(at), party_id),
        )

    def add_token(self, token_hash: str, party: str, at: datetime) -> None:
        self.c.execute(
            "INSERT INTO tokens (token_hash, party, created_at) VALUES (?, ?, ?)", (token_hash, party, _ts(at))
        )

    def party_for_token(self, token_hash: str) -> str | None:
        row = self.c.execute(
            "SELECT party FROM tokens WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,)
        ).fetchone()
        return None if row is None else str(row[0])

    def get_meta(self, key: str) -> str | None:
        row = self.c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.c.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # links -----------------------------------------------------------------------------------------------------
    def add_link(self, link: Link) -> None:
        self.c.execute(
            "INSERT INTO links (a, b, relay, created_at) VALUES (?, ?, ?, ?)",
            (link.a, link.b, link.relay.value, _ts(link.created_at)),
        )

    def get_link(self, a: str, b: str) -> Link | None:
        a, b = Link.ordered(a, b)
        row = self.c.execute("SELECT * FROM links WHERE a = ? AND b = ?", (a, b)).fetchone()
        return None if row is None else from_row.link(row, TIMES)

    def list_links(self) -> list[Link]:
        return [from_row.link(r, TIMES) for r in self.c.execute("SELECT * FROM links ORDER BY a, b")]

    def set_link(self, link: Link) -> None:
        self.c.execute("UPDATE links SET relay = ? WHERE a = ? AND b = ?", (link.relay.value, link.a, link.b))

    def remove_link(self, a: str, b: str) -> None:
        a, b = Link.ordered(a, b)
        self.c.execute("DELETE FROM links WHERE a = ? AND b = ?", (a, b))

    # declarations ----------------------------------------------------------------------------------------------
    def next_declaration_key(self) -> int:
        row = self.c.execute("SELECT COALESCE(MAX(key), 0) + 1 FROM declarations").fetchone()
        return int(row[0])

    def save_declaration(self, declaration: Declaration, boxes: Sequence[Box]) -> None:
        d, s = declaration, declaration.spec
        feature = json.dumps(d.to_feature(), separators=(",", ":"))
        b1 = boxes[0]
        b2: Sequence[float | None] = boxes[1] if len(boxes) > 1 else (None, None, None, None)
        row = (
            d.key,
            d.id,
            d.party,
            d.version,
            d.status.value,
            s.kind.value,
            feature,
            s.window.start_s,
            None if s.window.end is None else s.window.end_s,
            int(s.audience == AUDIENCE_ALL),
            *b1,
            *b2,
            _ts(d.created_at),
            _ts(d.updated_at),
        )
        self.c.execute(
            "INSERT INTO declarations (key, id, party, version, status, kind, feature, start_s, end_s, audience_all,"
            " b1_minlon, b1_minlat, b1_maxlon, b1_maxlat, b2_minlon, b2_minlat, b2_maxlon, b2_maxlat,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET version = excluded.version, status = excluded.status,"
            " kind = excluded.kind, feature = excluded.feature, start_s = excluded.start_s, end_s = excluded.end_s,"
            " audience_all = excluded.audience_all, b1_minlon = excluded.b1_minlon,"
            " b1_minlat = excluded.b1_minlat, b1_maxlon = excluded.b1_maxlon, b1_maxlat = excluded.b1_maxlat,"
            " b2_minlon = excluded.b2_minlon, b2_minlat = excluded.b2_minlat, b2_maxlon = excluded.b2_maxlon,"
            " b2_maxlat = excluded.b2_maxlat, updated_at = excluded.updated_at",
            row,
        )
        if d.version > 1:
            self.c.execute("DELETE FROM declaration_audience WHERE key = ?", (d.key,))
            self.c.execute("DELETE FROM declaration_boxes WHERE id IN (?, ?)", (2 * d.key, 2 * d.key + 1))
        self.c.executemany(
            "INSERT INTO declaration_boxes (id, minlon, maxlon, minlat, maxlat) VALUES (?, ?, ?, ?, ?)",
            [(2 * d.key + i, b[0], b[2], b[1], b[3]) for i, b in enumerate(boxes)],
        )
        if isinstance(s.audience, tuple):
            self.c.executemany(
                "INSERT INTO declaration_audience (party, key) VALUES (?, ?)", [(p, d.key) for p in s.audience]
            )
        self.c.execute(
            "INSERT INTO declaration_versions (key, version, status, feature, at) VALUES (?, ?, ?, ?, ?)",
            (d.key, d.version, d.status.value, feature, _ts(d.updated_at)),
        )

    def get_declaration(self, declaration_id: str) -> Declaration | None:
        row = self.c.execute("SELECT * FROM declarations WHERE id = ?", (declaration_id,)).fetchone()
        return None if row is None else from_row.declaration(row, TIMES)

    def get_declarations(self, declaration_ids: Sequence[str]) -> list[Declaration]:
        out: list[Declaration] = []
        for start in range(0, len(declaration_ids), 500):
            chunk = declaration_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.c.execute(f"SELECT * FROM declarations WHERE id IN ({marks})", tuple(chunk))
            out.extend(from_row.declaration(r, TIMES) for r in rows)
        return out

    def list_declarations(self, query: DeclarationQuery) -> list[tuple[int, dict[str, Any]]]:
        # Each condition is a set of keys read through an index: what the viewer may see (own, shared with all,
        # shared with it), and the R*Tree's boxes; never a scan of the whole table.
        where = [
            "key IN (SELECT key FROM declarations WHERE party = ? UNION ALL SELECT key FROM declarations"
            " WHERE audience_all = 1 UNION ALL SELECT key FROM declaration_audience WHERE party = ?)",
            "key > ?",
        ]
        args: list[Any] = [query.viewer, query.viewer, query.after_key]
        if query.boxes:
            one = (
                "SELECT id >> 1 FROM declaration_boxes"
                " WHERE minlon <= ? AND maxlon >= ? AND minlat <= ? AND maxlat >= ?"
            )
            boxes = " UNION ALL ".join([one] * len(query.boxes))
            where.append(f"key IN ({boxes})")
            for minlon, minlat, maxlon, maxlat in query.boxes:
                args.extend([maxlon, minlon, maxlat, minlat])
        if query.status is not None:
            where.append("status = ?")
            args.append(query.status)
        if query.party is not None:
            where.append("party = ?")
            args.append(query.party)
        if query.end_s is not None:
            where.append("start_s < ?")
            args.append(query.end_s)
        if query.start_s is not None:
            where.append("(end_s IS NULL OR end_s > ?)")
            args.append(query.start_s)
        sql = f"SELECT key, feature FROM declarations WHERE {' AND '.join(where)} ORDER BY key LIMIT ?"
        args.append(query.limit)
        # The stored Feature is what the API shows: no need to rebuild the declaration to list it.
        return [(int(r[0]), json.loads(r[1])) for r in self.c.execute(sql, args)]

    def visible_declaration_ids(self, viewer: str, declaration_ids: Sequence[str]) -> set[str]:
        if not declaration_ids:
            return set()
        marks = ", ".join("?" * len(declaration_ids))
        rows = self.c.execute(
            f"SELECT id FROM declarations WHERE id IN ({marks}) AND (party = ? OR audience_all = 1 OR key IN "
            "(SELECT key FROM declaration_audience WHERE party = ?))",
            (*declaration_ids, viewer, viewer),
        )
        return {str(r[0]) for r in rows}

    def active_declarations(self) -> Iterator[Declaration]:
        for row in self.c.execute("SELECT * FROM declarations WHERE status = 'active' ORDER BY key"):
            yield from_row.declaration(row, TIMES)

    def count_active_declarations(self) -> int:
        return int(self.c.execute("SELECT COUNT(*) FROM declarations WHERE status = 'active'").fetchone()[0])

    # conflicts -------------------------------------------------------------------------------------------------
    def save_conflict(self, conflict: Conflict) -> None:
        k, a, b = conflict, conflict.a, conflict.b
        self.c.execute(
            "INSERT INTO conflicts (id, kind, a_party, a_decl, a_version, a_lon, a_lat, a_ack_at, b_party, b_decl,"
            " b_version, b_lon, b_lat, b_ack_at, distance_m, required_m, start_at, end_at, opened_at, resolved_at,"
            " resolved_reason, a_ack_sig, b_ack_sig, a_uncertainty_m, b_uncertainty_m, resolved_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET a_ack_at = excluded.a_ack_at, b_ack_at = excluded.b_ack_at,"
            " a_ack_sig = excluded.a_ack_sig, b_ack_sig = excluded.b_ack_sig,"
            " resolved_at = excluded.resolved_at, resolved_reason = excluded.resolved_reason,"
            " resolved_by = excluded.resolved_by",
            (
                k.id,
                k.kind.value,
                a.party,
                a.declaration,
                a.declaration_version,
                a.location[0],
                a.location[1],
                _ts(a.acknowledged_at),
                b.party,
                b.declaration,
                b.declaration_version,
                b.location[0],
                b.location[1],
                _ts(b.acknowledged_at),
                k.distance_m,
                k.required_m,
                _ts(k.window.start),
                _ts(k.window.end),
                _ts(k.opened_at),
                _ts(k.resolved_at),
                None if k.resolved_reason is None else k.resolved_reason.value,
                a.ack_signature,
                b.ack_signature,
                a.uncertainty_m,
                b.uncertainty_m,
                k.resolved_by,
            ),
        )

    def get_conflict(self, conflict_id: str) -> Conflict | None:
        row = self.c.execute("SELECT * FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
        return None if row is None else from_row.conflict(row, TIMES)

    def conflicts_opened(self) -> int:
        return int(self.c.execute("SELECT COALESCE(MAX(seq), 0) FROM conflicts").fetchone()[0])

    def ended_probes(self, party: str, since: datetime) -> list[Ended]:
        rows = self.c.execute(
            "SELECT b_decl, opened_at, resolved_at FROM conflicts WHERE a_party = ? AND opened_at >= ?"
            " AND resolved_by = a_party AND a_uncertainty_m > 0",
            (party, _ts(since)),
        )
        return [Ended(r[0], _dt_req(r[1]), _dt_req(r[2])) for r in rows]

    def last_declaration_write(self, party: str) -> datetime | None:
        row = self.c.execute("SELECT MAX(updated_at) FROM declarations WHERE party = ?", (party,)).fetchone()
        return None if row is None else TIMES.dt(row[0])

    def open_conflicts_of_declaration(self, declaration_id: str) -> list[Conflict]:
        rows = self.c.execute(
            "SELECT * FROM conflicts WHERE resolved_at IS NULL AND a_decl = ? UNION ALL "
            "SELECT * FROM conflicts WHERE resolved_at IS NULL AND b_decl = ? ORDER BY seq",
            (declaration_id, declaration_id),
        )
        return [from_row.conflict(r, TIMES) for r in rows]

    def list_conflicts(
        self, party: str, status: str | None, limit: int, before_seq: int | None = None
    ) -> list[Conflict]:
        out: list[tuple[int, Conflict]] = []
        for side, other in (("a", "b"), ("b", "a")):
            where = [f"{side}_party = ?", f"{other}_party != ?"]
            args: list[Any] = [party, party]
            if before_seq is not None:
                where.append("seq < ?")
                args.append(before_seq)
            if status == "resolved":
                where.append("resolved_at IS NOT NULL")
            elif status == "open":
                where.append(f"resolved_at IS NULL AND {side}_ack_at IS NULL")
            elif status == "acknowledged":
                where.append(f"resolved_at IS NULL AND {side}_ack_at IS NOT NULL")
            sql = f"SELECT * FROM conflicts WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
            args.append(limit)
            out.extend((int(r["seq"]), from_row.conflict(r, TIMES)) for r in self.c.execute(sql, args))
        out.sort(key=lambda pair: pair[0], reverse=True)
        return [c for _, c in out[:limit]]

    # events ----------------------------------------------------------------------------------------------------
    def append_event(self, party: str, type_: str, data: dict[str, Any], at: datetime) -> int:
        cur = self.c.execute(
            "INSERT INTO events (party, type, data, at) VALUES (?, ?, ?, ?)",
            (party, type_, json.dumps(data, separators=(",", ":")), _ts(at)),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def events_after(self, party: str, after_id: int, limit: int) -> list[StoredEvent]:
        rows = self.c.execute(
            "SELECT * FROM events WHERE party = ? AND id > ? ORDER BY id LIMIT ?", (party, after_id, limit)
        )
        return [StoredEvent(r["id"], r["party"], r["type"], json.loads(r["data"]), _dt_req(r["at"])) for r in rows]

    def count_events_after(self, party: str, after_id: int, cap: int) -> int:
        row = self.c.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE party = ? AND id > ? LIMIT ?)", (party, after_id, cap)
        ).fetchone()
        return int(row[0])

    def announce(self, parties: Sequence[str]) -> None:
        return None  # the other workers poll the file (SqliteStore.watch)


class SqliteStore(Store):
    """One SQLite file. A connection per thread; writes serialised by SQLite's own lock (BEGIN IMMEDIATE)."""

    def __init__(self, path: str | Path, checkpoint_interval_s: float = 0.5, poll_s: float = 0.1) -> None:
        self.path = str(path)
        self.poll_s = poll_s
        self._leader: int | None = None
        self._writer: int | None = None
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.checkpoint_interval_s = checkpoint_interval_s
        self._checkpointer: threading.Thread | None = None
        self._stop = threading.Event()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.row_factory = sqlite3.Row
            _set_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")  # durable at COMMIT: a 2xx never outruns the disk
            conn.execute("PRAGMA foreign_keys = ON")
            # The default 2 MB page cache makes every index update of a large channel a read syscall.
            conn.execute("PRAGMA cache_size = -131072")  # 128 MiB per connection
            conn.execute("PRAGMA mmap_size = 1073741824")  # reads through a 1 GiB map: no copy, no syscall
            conn.execute("PRAGMA busy_timeout = 30000")
            # Checkpoints run on their own thread (below), not inside a commit that a caller is waiting for; this
            # large automatic limit only bounds the WAL should that thread ever fall behind.
            conn.execute("PRAGMA wal_autocheckpoint = 100000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def schema_version(self) -> int:
        try:
            row = self._conn().execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:  # a new file: no migration has run yet
            return 0
        return int(row[0])

    def migrate(self) -> list[int]:
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        applied = []
        for version, script in migrations():
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                # another process may have applied it while this one waited for the write lock
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    conn.execute("COMMIT")
                    continue
                for statement in filter(str.strip, script.split(";\n")):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, format_time(datetime.now(UTC))),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(version)
        return applied

    def _checkpoint_loop(self) -> None:
        """Copy committed WAL frames into the database file every `checkpoint_interval_s`, without blocking writers.

        Durability does not depend on it: every commit is already fsynced in the WAL.
        """
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            while not self._stop.wait(self.checkpoint_interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # busy or closing: the next round tries again
                    continue
        finally:
            conn.close()

    def _start_checkpointer(self) -> None:
        if self._checkpointer is None:
            with self._lock:
                if self._checkpointer is None:
                    self._stop.clear()
                    self._checkpointer = threading.Thread(
                        target=self._checkpoint_loop, name="deconf-checkpoint", daemon=True
                    )
                    self._checkpointer.start()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        self._start_checkpointer()
        conn = self._conn()
        # Writers queue on a lock file first: SQLite's own busy handler would poll with sleeps of up to 100 ms when
        # several worker processes write, where the kernel hands a released lock on at once.
        with self._write_lock:
            fcntl.flock(self._writer_fd(), fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteTx(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                fcntl.flock(self._writer_fd(), fcntl.LOCK_UN)

    def _writer_fd(self) -> int:
        if self._writer is None:
            self._writer = os.open(f"{self.path}.writer", os.O_RDWR | os.O_CREAT, 0o600)
        return self._writer

    @contextmanager
    def read(self) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield SqliteTx(conn)
        finally:
            conn.execute("ROLLBACK")

    def backup(self, target: str | Path) -> None:
        """Copy the database with SQLite's online backup, consistent while the server writes."""
        dest = sqlite3.connect(str(target))
        try:
            self._conn().backup(dest)
        finally:
            dest.close()

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity check finds wrong (empty when the file is sound)."""
        rows = self._conn().execute("PRAGMA integrity_check").fetchall()
        return [str(r[0]) for r in rows if str(r[0]) != "ok"]

    def watch(self, on_announce: Callable[[frozenset[str] | None], None], stop: threading.Event) -> None:
        """Poll every `poll_s` for events and changes written by another process (SQLite has no NOTIFY)."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            last_event, last_change = self._marks(conn)
            while not stop.wait(self.poll_s):
                try:
                    event, change = self._marks(conn)
                    parties = conn.execute(
                        "SELECT DISTINCT party FROM events WHERE id > ? AND id <= ?", (last_event, event)
                    ).fetchall()
                except sqlite3.Error:  # busy or closing: the next round looks again
                    continue
                if event != last_event or change != last_change:
                    on_announce(frozenset(str(r[0]) for r in parties))
                last_event, last_change = event, change
        finally:
            conn.close()

    @staticmethod
    def _marks(conn: sqlite3.Connection) -> tuple[int, int]:
        row = conn.execute(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM events), (SELECT COALESCE(MAX(seq), 0) FROM changes)"
        ).fetchone()
        return int(row[0]), int(row[1])

    def try_lead(self) -> bool:
        """Leadership is an exclusive lock on `<db>.leader`, which the kernel drops when the process ends."""
        if self._leader is not None:
            return True
        fd = os.open(f"{self.path}.leader", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._leader = fd
        return True

    def close(self) -> None:
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None
        if self._leader is not None:
            os.close(self._leader)  # closing the descriptor releases the lock
            self._leader = None
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
