"""The Cursor-on-Target listeners TAK clients connect to: mutual TLS (the party is its certificate's common name)
and, optionally, plain TCP on loopback for one configured party.

Both run on one asyncio loop in a thread of their own, started and stopped with the application. Each read is
framed into events (`adapters/cot.py`); pings are answered at once; the positions of one read are handed to the
`ingest` callable, one batch per track, in a small thread pool — the loop never waits on the database. Connections
are bounded; a connection silent for `idle_s` is closed. Nothing a client sends can stop a listener: every bad
event is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deconfliction.adapters.certs import common_name, server_ssl_context
from deconfliction.adapters.cot import CotError, EventFramer, parse_event, pong, position_report, track_id
from deconfliction.config import Settings
from deconfliction.domain.errors import DomainError, InvalidInput

log = logging.getLogger("deconfliction.cot")

Ingest = Callable[[str, str, list[dict[str, Any]]], object]  # (party, track id, reports)
PartyStatus = Callable[[str], str | None]  # the party's status ("active", …), None if unknown
READ_BYTES = 65_536
STATUS_TTL_S = 5.0
HANDSHAKE_S = 10.0


@dataclass(frozen=True)
class ListenerConfig:
    """One listener: where it binds and how it knows the sending party (a fixed one, or the TLS certificate)."""

    name: str
    host: str
    port: int  # 0: any free port (tests)
    max_event_bytes: int
    party: str | None = None  # plain TCP: every event is this party's
    tls: ssl.SSLContext | None = None  # mutual TLS: the party is the client certificate's common name
    max_connections: int = 256
    idle_s: float = 600.0


def handle(frames: Sequence[bytes], now: datetime) -> tuple[list[bytes], dict[str, list[dict[str, Any]]]]:
    """What to do with a read's events: the replies to send (pongs) and the position reports per track."""
    replies: list[bytes] = []
    reports: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        try:
            event = parse_event(frame)
            if event.is_ping:
                replies.append(pong(now))
            elif event.is_own_position:
                reports.setdefault(track_id(event.uid), []).append(position_report(event))
        except CotError as exc:
            log.warning("CoT event skipped: %s", exc)
    return replies, reports


class CotListeners:
    """The listeners of `configs`, on their own loop and thread. `start()` returns once each is bound (or failed)."""

    def __init__(
        self,
        configs: Sequence[ListenerConfig],
        ingest: Ingest,
        party_status: PartyStatus,
        status_ttl_s: float = STATUS_TTL_S,
    ) -> None:
        self.configs = list(configs)
        self.ingest = ingest
        self.party_status = party_status
        self.status_ttl_s = status_ttl_s  # a party suspended is cut off at most this long after
        self.ports: dict[str, int] = {}  # listener name → bound port
        self._status: dict[str, tuple[str | None, float]] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._thread is not None or not self.configs:
            return
        self._ready.clear()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cot-ingest")
        self._thread = threading.Thread(target=self._run, name="cot-listeners", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30.0)

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=15.0)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._thread = self._pool = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the CoT listeners failed")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(_quiet_handler)
        self._stopping = asyncio.Event()
        servers = []
        for config in self.configs:
            try:
                server = await asyncio.start_server(
                    functools.partial(self._accept, config), config.host, config.port, limit=READ_BYTES
                )
            except OSError as exc:
                log.error("CoT %s listener cannot listen on %s:%s: %s", config.name, config.host, config.port, exc)
                continue
            servers.append(server)
            self.ports[config.name] = server.sockets[0].getsockname()[1]
            log.info("CoT %s listener on %s:%s", config.name, config.host, self.ports[config.name])
        self._ready.set()
        await self._stopping.wait()
        for server in servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5.0)
        for server in servers:
            await server.wait_closed()

    async def _accept(self, config: ListenerConfig, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        try:
            if len(self._connections) >= config.max_connections:
                log.warning("CoT %s listener: too many connections, %s refused", config.name, peer)
                return
            self._connections.add(task)
            if config.tls is not None and not await _handshake(config, writer, peer):
                return
            party = config.party or common_name(writer.get_extra_info("peercert"))
            if party is None or not self._may_send(party):
                log.warning("CoT %s listener: %s (party %r) is not an active party; closed", config.name, peer, party)
                return
            log.info("CoT %s listener: %s connected as %s", config.name, peer, party)
            await self._serve(config, party, reader, writer)
        except (ConnectionError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError, OSError) as exc:
            log.info("CoT %s listener: %s disconnected: %r", config.name, peer, exc)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("CoT %s listener: connection from %s failed", config.name, peer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def _serve(
        self, config: ListenerConfig, party: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        framer = EventFramer(config.max_event_bytes)
        loop = asyncio.get_running_loop()
        while True:
            data = await asyncio.wait_for(reader.read(READ_BYTES), config.idle_s)
            if not data:
                return
            before = framer.oversized
            replies, batches = handle(framer.feed(data), datetime.now(UTC))
            if framer.oversized > before:
                log.warning("CoT from %s: an event over %d bytes was dropped", party, config.max_event_bytes)
            if replies:
                writer.write(b"".join(replies))
                await writer.drain()
            if batches and not self._may_send(party):
                log.warning("CoT from %s: the party is no longer active; closed", party)
                return
            for track, reports in batches.items():
                await loop.run_in_executor(self._pool, self._ingest, party, track, reports)

    def _ingest(self, party: str, track: str, reports: list[dict[str, Any]]) -> None:
        try:
            self.ingest(party, track, reports)
        except InvalidInput as exc:
            if len(reports) == 1:
                log.warning("CoT from %s: track %s report refused: %s", party, track, exc)
                return
            for report in reports:  # one bad report must not cost the others of its read
                self._ingest(party, track, [report])
        except DomainError as exc:
            log.warning("CoT from %s: track %s refused: %s", party, track, exc)
        except Exception as exc:
            log.error("CoT from %s: track %s could not be stored: %r", party, track, exc)

    def _may_send(self, party: str) -> bool:
        cached = self._status.get(party)
        if cached is None or cached[1] < time.monotonic():
            try:
                status = self.party_status(party)
            except Exception:
                log.exception("looking up party %r failed", party)
                status = None
            cached = (status, time.monotonic() + self.status_ttl_s)
            self._status[party] = cached
        return cached[0] == "active"


async def _handshake(config: ListenerConfig, writer: asyncio.StreamWriter, peer: object) -> bool:
    """The TLS handshake, done here rather than by the server so that a refused client is logged."""
    assert config.tls is not None
    try:
        await writer.start_tls(config.tls, ssl_handshake_timeout=HANDSHAKE_S)
    except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
        log.warning("CoT %s listener: TLS handshake with %s failed: %s", config.name, peer, exc)
        return False
    return True


def _quiet_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client failing its TLS handshake (no or a foreign certificate) is routine, not an error of the server."""
    exc = context.get("exception")
    if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError):
        log.warning("CoT: a connection failed: %r", exc)
    else:
        loop.default_exception_handler(context)


def tak_dir(settings: Settings) -> Path:
    """The folder of the channel's CA and the server's certificate."""
    return Path(settings.tak_dir or f"{settings.db}.tak")


def build_listeners(settings: Settings, ingest: Ingest, party_status: PartyStatus) -> CotListeners | None:
    """The listeners the settings ask for (None if none): mutual TLS on `cot_tls_port`, and plain TCP on
    `cot_tcp_host:cot_port` for `cot_tcp_party` when that is set. The CA and server certificate are made here if
    missing."""
    configs = []
    if settings.cot_tls_port:
        context = server_ssl_context(tak_dir(settings), settings.host)
        configs.append(
            ListenerConfig("tls", settings.host, settings.cot_tls_port, settings.cot_max_event_bytes, tls=context)
        )
    if settings.cot_port and settings.cot_tcp_party:
        configs.append(
            ListenerConfig(
                "tcp",
                settings.cot_tcp_host,
                settings.cot_port,
                settings.cot_max_event_bytes,
                party=settings.cot_tcp_party,
            )
        )
    return CotListeners(configs, ingest, party_status) if configs else None
