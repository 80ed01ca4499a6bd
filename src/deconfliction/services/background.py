"""The server's background work: deadline checks and webhook delivery, started and stopped with the app."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deconfliction.services.deadlines import DeadlineWatch
from deconfliction.services.webhooks import Deliverer


class Background:
    def __init__(
        self, deadlines: DeadlineWatch, deliverer: Deliverer, on_stop: Sequence[Callable[[], None]] = ()
    ) -> None:
        self.deadlines = deadlines
        self.deliverer = deliverer
        self.on_stop = list(on_stop)
        self.started = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.deadlines.start()
            self.deliverer.start()

    def stop(self) -> None:
        if self.started:
            self.started = False
            self.deliverer.stop()
            self.deadlines.stop()
        for action in self.on_stop:
            action()
