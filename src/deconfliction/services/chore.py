"""A piece of background work on a thread of its own (the change feed's pruner, announcements, DSS expiry)."""

from __future__ import annotations

import threading


class Chore:
    """Work run on a thread of its own between `start` and `stop`; subclasses write `_run` (which returns soon after
    `_stop` is set)."""

    name = "deconf-chore"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
