"""The PostgreSQL backend's dedicated connections: one listening for announcements, one holding the leadership."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import Connection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

_POLL_S = 0.25  # how long a wait for notifications lasts before `stop` is looked at again
_RETRY_MIN_S = 0.1
_RETRY_MAX_S = 5.0


def conninfo(url: str, application_name: str) -> str:
    """The URL's connection parameters, named for pg_stat_activity unless the URL names them itself."""
    params = conninfo_to_dict(url)
    params.setdefault("application_name", application_name)
    return make_conninfo("", **params)


def _connect(url: str, application_name: str, timeout_s: float) -> Connection[Any]:
    return psycopg.connect(conninfo(url, application_name), autocommit=True, connect_timeout=max(1, round(timeout_s)))


def parties_of(payload: str) -> frozenset[str] | None:
    """The parties an announcement names; None for `null` (everyone look) or anything unexpected."""
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return frozenset(value)
    return None


def listen(
    url: str,
    channel: str,
    on_announce: Callable[[frozenset[str] | None], None],
    stop: threading.Event,
    closed: threading.Event,
    timeout_s: float,
) -> None:
    """Call `on_announce` for each notification on `channel` until `stop` (or `closed`) is set."""
    missed = False
    delay_s = _RETRY_MIN_S
    while not (stop.is_set() or closed.is_set()):
        try:
            conn = _connect(url, "deconf-listen", timeout_s)
        except psycopg.Error:
            missed = True
            stop.wait(delay_s)
            delay_s = min(2 * delay_s, _RETRY_MAX_S)
            continue
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            delay_s = _RETRY_MIN_S
            if missed:  # while away, announcements may have been missed
                missed = False
                on_announce(None)
            while not (stop.is_set() or closed.is_set()):
                for notify in conn.notifies(timeout=_POLL_S):
                    on_announce(parties_of(notify.payload))
                    if stop.is_set():
                        break
        except psycopg.OperationalError:  # the connection dropped: connect again
            missed = True
        finally:
            conn.close()


def lead(
    url: str, conn: Connection[Any] | None, held: bool, lock_id: int, timeout_s: float
) -> tuple[Connection[Any] | None, bool]:
    """(connection, whether it holds the session advisory lock `lock_id`): the lock is asked for on `conn` (or on a
    new connection if it has none, or it dropped) unless it is `held` there already and the session still lives.
    The connection is kept either way, so that asking again costs no new connection."""
    if conn is not None:
        try:
            if held:
                conn.execute("SELECT 1")
                return conn, True
            return conn, _try_lock(conn, lock_id)
        except psycopg.Error:  # the session is gone, and the lock with it
            conn.close()
    try:
        conn = _connect(url, "deconf-leader", timeout_s)
    except psycopg.Error:
        return None, False
    try:
        return conn, _try_lock(conn, lock_id)
    except psycopg.Error:
        conn.close()
        return None, False


def _try_lock(conn: Connection[Any], lock_id: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
    return row is not None and row[0] is True
