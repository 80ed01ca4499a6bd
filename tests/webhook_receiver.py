"""Webhook receivers for tests, in the test's process: one that records and answers as told, and hostile ones — a
listener that never answers and one that trickles its answer a byte at a time."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


def eventually(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"within {timeout_s} s: {what} (last: {value!r})")
        time.sleep(every_s)


@dataclass(frozen=True)
class Received:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class Receiver:
    """Records every POST and answers what `answer(event)` says. Bound at once, so its port is ours; it refuses
    connections until `listen()`."""

    def __init__(
        self, answer: Callable[[dict[str, Any]], int] = lambda _: 200, host: str = HOST, port: int = 0
    ) -> None:
        self.answer = answer
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    status = receiver.answer(json.loads(body))
                except ValueError:
                    status = 400
                with receiver._lock:
                    receiver.received.append(Received(status, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler, bind_and_activate=False)
        self.httpd.server_bind()  # bound, not listening: a POST now is refused
        self.host = host
        self.port: int = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def listen(self) -> None:
        self.httpd.server_activate()
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def delivered_ids(self) -> list[int]:
        """Event ids answered 2xx, in the order they arrived, repeats dropped (delivery is at least once)."""
        out: list[int] = []
        for r in self.requests():
            if 200 <= r.status < 300 and r.event["id"] not in out:
                out.append(r.event["id"])
        return out

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()


class Hostile:
    """A listener that reads each request and then either never answers (`trickle_s` None) or sends an answer one
    byte every `trickle_s` seconds; `open_connections()` counts the requests it is holding right now."""

    def __init__(
        self, trickle_s: float | None = None, answer: bytes = b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    ):
        self.trickle_s = trickle_s
        self.answer = answer
        self._stop = threading.Event()
        self._open = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server((HOST, 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        return f"http://{HOST}:{self.port}/{path}"

    def open_connections(self) -> int:
        with self._lock:
            return self._open

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with self._lock:
            self._open += 1
        try:
            with conn, contextlib.suppress(OSError):
                conn.settimeout(0.1)
                with contextlib.suppress(TimeoutError):
                    conn.recv(65_536)
                for byte in self.answer if self.trickle_s is not None else b"":
                    if self._stop.wait(self.trickle_s):
                        return
                    conn.sendall(bytes([byte]))
                while not self._stop.is_set():  # silent: hold it until the client gives up
                    with contextlib.suppress(TimeoutError):
                        if not conn.recv(65_536):
                            return
        finally:
            with self._lock:
                self._open -= 1

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
