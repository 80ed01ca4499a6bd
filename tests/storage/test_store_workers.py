"""Several workers on one database, on SQLite and on PostgreSQL alike: write transactions take turns, reads are
snapshots, a worker hears the others' commits, one worker leads."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from deconfliction.storage import postgres
from deconfliction.storage.base import Store
from deconfliction.storage.postgres_listen import parties_of
from tests.conftest import BOTH_BACKENDS
from tests.storage.conftest import AT, Opener, add_parties, party

POSTGRESQL_ONLY = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

Heard = queue.Queue[frozenset[str] | None]


@BOTH_BACKENDS
def test_write_transactions_of_two_workers_take_turns(store: Store, opener: Opener) -> None:
    """The second worker asks to write while the first is inside its write transaction: it gets in only after the
    first committed. Asserted by what it sees, not by how long it waited (which a loaded machine decides)."""
    other = opener()
    inside, asking, seen = threading.Event(), threading.Event(), []
    first_done = threading.Event()

    def first() -> None:
        with store.write() as tx:
            tx.set_meta("writer", "first")
            inside.set()
            asking.wait(5)
            time.sleep(0.4)  # time for the second to reach the lock: a bug that let it in would show here
            first_done.set()  # the last thing inside the transaction; the commit follows

    def second() -> None:
        inside.wait(5)
        asking.set()
        with other.write() as tx:
            seen.append((tx.get_meta("writer"), first_done.is_set()))
            tx.set_meta("writer", "second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [("first", True)]  # it began after the first's transaction ended, and saw what it committed
    with store.read() as tx:
        assert tx.get_meta("writer") == "second"


@BOTH_BACKENDS
def test_a_read_is_a_snapshot(store: Store, opener: Opener) -> None:
    add_parties(store, "a")
    other = opener()
    with store.read() as tx:
        assert [p.id for p in tx.list_parties()] == ["a"]
        add_parties(other, "b")
        assert [p.id for p in tx.list_parties()] == ["a"]
    with store.read() as tx:
        assert [p.id for p in tx.list_parties()] == ["a", "b"]


def _schema(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    assert row is not None
    return str(row[0])


def _watching(store: Store) -> tuple[Heard, threading.Event, threading.Thread]:
    heard: Heard = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=store.watch, args=(heard.put, stop), daemon=True)
    thread.start()
    return heard, stop, thread


def _until_heard(heard: Heard, write: Callable[[], None], timeout_s: float = 10.0) -> frozenset[str] | None:
    """Write (again, until the watcher listens: it starts on its own thread) until something is heard."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        write()
        try:
            return heard.get(timeout=0.3)
        except queue.Empty:
            continue
    raise AssertionError("nothing was heard")


def _stopped(stop: threading.Event, thread: threading.Thread) -> None:
    """The watcher returns when told. A bounded wait, not a timing: it looks at `stop` every poll (0.1-0.25 s), and
    an assertion of how soon failed on a loaded machine; one that never looks at it would hang here and fail."""
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


@BOTH_BACKENDS
def test_a_worker_hears_which_parties_another_wrote_for_and_stops_when_told(store: Store, opener: Opener) -> None:
    listener = opener()
    heard, stop, thread = _watching(listener)

    def write() -> None:
        with store.write() as tx:
            tx.append_event("sdf", "conflict.opened", {}, AT)
            tx.record_change("declaration", "1", AT)
            tx.announce(["sdf"])

    assert _until_heard(heard, write) == frozenset({"sdf"})
    _stopped(stop, thread)


@BOTH_BACKENDS
def test_try_lead_is_refused_while_another_worker_leads(store: Store, opener: Opener) -> None:
    first, second = opener(), opener()
    assert first.try_lead() is True
    assert second.try_lead() is False
    assert first.try_lead() is True  # still held
    first.close()
    assert second.try_lead() is True


def test_announcements_too_long_for_notify_say_everyone() -> None:
    many = [f"party-{n:05d}" for n in range(2_000)]
    assert postgres.announcement(["b", "a", "b"]) == '["a","b"]'
    assert postgres.announcement(many) == "null"
    assert parties_of("null") is None and parties_of("{") is None and parties_of('["a"]') == frozenset({"a"})


@BOTH_BACKENDS
def test_migrations_of_workers_starting_together_take_turns(opener: Opener) -> None:
    stores = [opener() for _ in range(3)]
    applied: list[list[int]] = []
    threads = [threading.Thread(target=lambda s=s: applied.append(s.migrate())) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(v for done in applied for v in done) == [v for v, _ in postgres.migrations()]


@POSTGRESQL_ONLY  # SQLite's watcher polls the file: it has no connection to lose
def test_a_listener_whose_connection_drops_reconnects_and_says_everyone(store: Store, opener: Opener) -> None:
    listener = opener()
    heard, stop, thread = _watching(listener)

    def write() -> None:
        with store.write() as tx:
            tx.announce(["saa"])

    assert _until_heard(heard, write) == frozenset({"saa"})
    assert isinstance(listener, postgres.PostgresStore)
    with psycopg.connect(listener.url, autocommit=True) as admin:
        channel = postgres.notify_channel(_schema(admin))
        killed = admin.execute(  # this store's listener only: other tests' share the database
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'deconf-listen'"
            " AND datname = current_database() AND query = %s",
            (f'LISTEN "{channel}"',),
        ).fetchall()
    assert len(killed) == 1
    assert heard.get(timeout=10) is None  # announcements may have been missed: everyone look
    assert _until_heard(heard, write) == frozenset({"saa"})
    _stopped(stop, thread)
    add_parties(store, "x")  # the store itself goes on
    with store.read() as tx:
        assert tx.get_party("x") == party("x")


@POSTGRESQL_ONLY
def test_a_write_waiting_longer_than_the_lock_timeout_fails_as_on_sqlite(store: Store) -> None:
    assert isinstance(store, postgres.PostgresStore)
    impatient = postgres.PostgresStore(store.url, lock_timeout_s=0.2)
    try:
        with store.write(), pytest.raises(psycopg.errors.LockNotAvailable), impatient.write():
            pass
        with impatient.write() as tx:  # free again
            tx.set_meta("k", "v")
    finally:
        impatient.close()


@POSTGRESQL_ONLY  # SQLite's leadership is a file lock: it goes only with the process (or close)
def test_a_leader_whose_session_is_lost_leads_no_more(opener: Opener) -> None:
    first, second = opener(), opener()
    assert first.try_lead() is True and second.try_lead() is False
    assert isinstance(first, postgres.PostgresStore)
    with psycopg.connect(first.url, autocommit=True) as admin:
        lock = postgres.lock_id("leader", _schema(admin)) & (2**64 - 1)
        holders = admin.execute(  # the holder of this store's leader lock only: other tests' share the database
            "SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'deconf-leader'"
            " AND a.datname = current_database() AND l.classid::bigint = %s AND l.objid::bigint = %s",
            (lock >> 32, lock & (2**32 - 1)),
        ).fetchall()
    assert len(holders) == 1
    assert second.try_lead() is True
    assert first.try_lead() is False  # it finds its session gone, and the lock taken
