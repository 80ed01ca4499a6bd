"""The server's background work: deadline checks and webhook delivery, started and stopped with the app."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from deconfliction.services.deadlines import DeadlineWatch
from deconfliction.services.mqtt import MqttFeed
from deconfliction.services.webhooks import Deliverer


class Listeners(Protocol):
    """Network listeners started and stopped with the app (adapters/cot_server.py)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Background:
    def __init__(
        self,
        deadlines: DeadlineWatch,
        deliverer: Deliverer,
        on_stop: Sequence[Callable[[], None]] = (),
        mqtt: MqttFeed | None = None,
        cot: Listeners | None = None,
        tracks: Listeners | None = None,
    ) -> None:
        self.deadlines = deadlines
        self.mqtt = mqtt  # live tracks from the MQTT broker, when one is configured
        self.cot = cot  # the Cursor-on-Target listeners for TAK clients, when any is configured
        self.deliverer = deliverer
        self.tracks = tracks  # the sweeper marking silent tracks lost, then removed (services/tracks.py)
        self.on_stop = list(on_stop)
        self.started = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.deadlines.start()
            self.deliverer.start()
            if self.tracks is not None:
                self.tracks.start()
            if self.mqtt is not None:
                self.mqtt.start()
            if self.cot is not None:
                self.cot.start()

    def stop(self) -> None:
        if self.started:
            self.started = False
            if self.cot is not None:
                self.cot.stop()
            if self.mqtt is not None:
                self.mqtt.stop()
            if self.tracks is not None:
                self.tracks.stop()
            self.deliverer.stop()
            self.deadlines.stop()
        for action in self.on_stop:
            action()
