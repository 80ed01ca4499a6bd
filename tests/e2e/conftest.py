"""End-to-end helpers: free ports, real server processes (`deconf serve`), CLI runs, and an SSE
reader.

Everything listens on 127.0.0.1 only; every process started here is stopped in a `finally` or a
fixture teardown,
and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DECONF = str(VENV_BIN / "deconf") if (VENV_BIN / "deconf").exists() else str(Path(sys.executable).parent / "deconf")
HOST = "127.0.0.1"
E2E_ADMIN = "e2e-admin-token-0123456789"
AS_ADMIN = {"Authorization": f"Bearer {E2E_ADMIN}"}  # /healthz names its worker to the admin only
TOKEN_RE = re.compile(r"dcf_[A-Za-z0-9_-]{20,}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str | None) -> dict[str, str]:
    """The current environment without any DECONF_* variable, plus `extra` (None removes a name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONF_")}
    env.update({"COLUMNS": "250", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "TERM": "dumb"})
    env["DECONF_COT_TLS_PORT"] = "0"  # servers under test listen for TAK clients only where a test asks (extra)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 30.0, cwd: Path | None = None
) -> CliResult:
    """Run `deconf ARGS…` as a user would, with a bounded wait."""
    proc = subprocess.run(
        [DECONF, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Server:
    """A `deconf serve` process on 127.0.0.1, its output going to a file."""

    port: int
    db: Path
    log: Path
    proc: subprocess.Popen[bytes]
    admin: str | None
    _log_file: Any = field(repr=False, default=None)
    tls_ca: Path | None = None  # served over HTTPS with a certificate this CA file verifies

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://{HOST}:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self, token: str | None = None, timeout_s: float = 10.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify: Any = ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else True
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, verify=verify)

    def kill_all(self) -> None:
        """SIGKILL the server and every worker it started: a crash, with no chance to finish anything."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self._log_file is not None and not self._log_file.closed:
            self._log_file.close()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int | None:
        """Signal the process and wait (bounded); kill it if it does not stop. Returns its exit
        code on a clean
        stop, None if it had to be killed."""
        code: int | None = None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    code = self.proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)  # the workers too
                    self.proc.wait(timeout=10)
                    code = None
            else:
                code = self.proc.returncode
        finally:
            if self._log_file is not None and not self._log_file.closed:
                self._log_file.close()
        return code


def start_server(
    tmp_path: Path,
    *,
    db: Path | None = None,
    admin: str | None = E2E_ADMIN,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    log_name: str | None = None,
    wait_s: float = 30.0,
    workers: int = 1,
    tls_ca: Path | None = None,
) -> Server:
    """Start `deconf serve --port P --db DB` like a user, and wait (bounded) for GET /healthz to
    answer 200."""
    port = port or free_port()
    db = db or tmp_path / "x.db"
    log = tmp_path / (log_name or f"serve-{port}-{time.monotonic_ns()}.log")
    defaults = {
        "DECONF_SSE_HEARTBEAT_S": "0.3",
        "DECONF_RATE_LIMIT_PER_S": "0",
        "DECONF_LOG_LEVEL": "warning",
        "DECONF_WEBHOOK_ALLOW_HOSTS": HOST,
    }  # webhook receivers in tests listen on the loopback
    env = clean_env(DECONF_ADMIN_TOKEN=admin, **{**defaults, **(extra_env or {})})  # extra_env may override them
    log_file = open(log, "wb")  # noqa: SIM115 - closed by Server.stop
    proc = subprocess.Popen(
        [DECONF, "serve", "--host", HOST, "--port", str(port), "--db", str(db), "--workers", str(workers)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # its own process group: a test can kill the server and all its workers at once
    )
    server = Server(port, db, log, proc, admin, log_file, tls_ca)
    deadline = time.monotonic() + wait_s
    answered: set[int] = set()
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"deconf serve exited with {proc.returncode}:\n{server.output()}")
            try:
                with server.client(admin, timeout_s=1.0) as probe:
                    r = probe.get("/healthz")
                if r.status_code == 200:
                    answered.add(r.json().get("worker", 0))  # the admin sees which worker answered
                    if len(answered) >= workers:  # every worker is up (connections spread over them)
                        return server
                    continue
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"deconf serve did not answer /healthz within {wait_s} s:\n{server.output()}")
            time.sleep(0.1)
    except BaseException:
        server.stop(signal.SIGKILL)
        raise


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers with `server_factory(**kwargs)`; all of them are stopped at teardown."""
    started: list[Server] = []

    def factory(**kwargs: Any) -> Server:
        server = start_server(tmp_path, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory()


# --------------------------------------------------------------------------------------------------
# Server-Sent Events
# --------------------------------------------------------------------------------------------------


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


_COMMENT = object()
_END = object()


class SseParser:
    """Turns the lines of an event stream into events: a blank line ends one; comments are skipped."""

    def __init__(self) -> None:
        self._current: dict[str, Any] = {"data": []}

    def feed(self, line: str) -> SseEvent | None:
        if line == "":
            done, self._current = self._current, {"data": []}
            if done["data"]:
                return SseEvent(done.get("id"), done.get("event"), "\n".join(done["data"]))
            return None
        if not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._current["data"].append(value)
            elif name in ("id", "event"):
                self._current[name] = value
        return None


class SseStream:
    """Reads `GET /v1/events` of one token in a background thread; the test pulls events with
    bounded waits.

    `raw` keeps every byte-line received, so tests can search the whole stream for what must not be
    there.
    """

    def __init__(self, url: str, token: str, last_event_id: str | None = None, connect_s: float = 10.0) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = last_event_id
        self.raw: list[str] = []
        self.status: int | None = None
        self.worker: str | None = None  # the pid of the server worker holding the stream
        self.error: BaseException | None = None
        self._q: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(connect_s):
            self.close()
            raise AssertionError("the event stream did not open in time")
        if self.status != 200:
            self.close()
            raise AssertionError(f"GET /v1/events answered {self.status}: {self.error or ''} {self.raw}")

    def _run(self) -> None:
        try:
            timeout = httpx.Timeout(10.0, read=5.0)
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream("GET", f"{self.url}/v1/events", headers=self.headers) as response,
            ):
                self.status = response.status_code
                self.worker = response.headers.get("x-deconf-worker")
                if response.status_code != 200:
                    self.raw.append(response.read().decode(errors="replace"))
                    return
                parser = SseParser()
                for line in response.iter_lines():
                    self.raw.append(line)
                    if line.startswith("retry:"):
                        # the server has subscribed this stream: nothing written later is missed
                        self._ready.set()
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        self._q.put(_COMMENT)
                    event = parser.feed(line)
                    if event is not None:
                        self._q.put(event)
        except BaseException as exc:  # reported to the test, never raised in the thread
            if not self._stop.is_set():
                self.error = exc
        finally:
            self._ready.set()
            self._q.put(_END)

    def next_event(self, timeout_s: float) -> SseEvent | None:
        """The next event, skipping keep-alive comments; None on timeout or end of stream."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                item = self._q.get(timeout=left)
            except queue.Empty:
                return None
            if item is _END:
                self._q.put(_END)
                return None
            if item is _COMMENT:
                continue
            assert isinstance(item, SseEvent)
            return item

    def wait_for(
        self, predicate: Callable[[SseEvent], bool], timeout_s: float = 3.0
    ) -> tuple[SseEvent | None, list[SseEvent]]:
        """Read until an event satisfies `predicate` (bounded); returns it and every event read on
        the way."""
        seen: list[SseEvent] = []
        deadline = time.monotonic() + timeout_s
        while True:
            event = self.next_event(max(0.0, deadline - time.monotonic()))
            if event is None:
                return None, seen
            seen.append(event)
            if predicate(event):
                return event, seen

    def drain(self, timeout_s: float = 5.0) -> list[SseEvent]:
        """Every event until the stream falls idle (a keep-alive comment arrives with nothing
        pending)."""
        out: list[SseEvent] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                item = self._q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _END:
                self._q.put(_END)
                break
            if item is _COMMENT:
                if self._q.empty():
                    break
                continue
            out.append(item)
        return out

    def text(self) -> str:
        return "\n".join(self.raw)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> SseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
