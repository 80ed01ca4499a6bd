"""The server's background work: deadline checks and webhook delivery, started and stopped with the app."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from deconfliction.services.deadlines import DeadlineWatch
from deconfliction.services.mqtt import MqttFeed
from deconfliction.services.webhook_delivery import Deliverer

log = logging.getLogger("deconfliction.background")


class Listeners(Protocol):
    """Network listeners started and stopped with the app (adapters/cot_server.py)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Background:
    """Work besides answering requests. Several workers may serve one channel: each listens for the others' writes
    (`announcements`), and one of them — the leader, chosen through the store — runs the rest: deadline checks,
    webhook delivery, the track sweeper, the MQTT and Cursor-on-Target listeners and the pruning of the change
    feed. A worker that is not the leader tries again every `lead_retry_s`, so that another takes over within
    seconds when the leader dies."""

    def __init__(
        self,
        deadlines: DeadlineWatch,
        deliverer: Deliverer,
        on_stop: Sequence[Callable[[], None]] = (),
        mqtt: MqttFeed | None = None,
        cot: Listeners | None = None,
        tracks: Listeners | None = None,
        dss: Listeners | None = None,
        announcements: Listeners | None = None,
        pruner: Listeners | None = None,
        try_lead: Callable[[], bool] = lambda: True,
        lead_retry_s: float = 2.0,
    ) -> None:
        self.announcements = announcements
        self.pruner = pruner
        self.try_lead = try_lead
        self.lead_retry_s = lead_retry_s
        self.leading = False
        self._stop = threading.Event()
        self._campaign: threading.Thread | None = None
        self.deadlines = deadlines
        self.mqtt = mqtt  # live tracks from the MQTT broker, when one is configured
        self.cot = cot  # the Cursor-on-Target listeners for TAK clients, when any is configured
        self.deliverer = deliverer
        self.tracks = tracks  # the sweeper marking silent tracks lost, then removed (services/tracks.py)
        self.dss = dss  # the expiry of the F3548 DSS's entities (services/dss_sweeper.py)
        self.on_stop = list(on_stop)
        self.started = False
        self._lead_lock = threading.Lock()

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self._stop.clear()
        if self.announcements is not None:
            self.announcements.start()
        if self.try_lead():
            self._lead()
            return

        def campaign() -> None:
            while not self._stop.wait(self.lead_retry_s):
                try:
                    if self.try_lead():
                        self._lead()
                        return
                except Exception:
                    log.exception("could not ask for the leadership; trying again")

        self._campaign = threading.Thread(target=campaign, name="deconf-campaign", daemon=True)
        self._campaign.start()

    def _lead(self) -> None:
        with self._lead_lock:
            if self._stop.is_set() or self.leading:
                return
            self.leading = True
            log.info("this worker leads: it runs the background jobs")
            if self.pruner is not None:
                self.pruner.start()
            self.deadlines.start()
            self.deliverer.start()
            if self.tracks is not None:
                self.tracks.start()
            if self.dss is not None:
                self.dss.start()
            if self.mqtt is not None:
                self.mqtt.start()
            if self.cot is not None:
                self.cot.start()

    def stop(self) -> None:
        self._stop.set()
        if self._campaign is not None:
            self._campaign.join(timeout=10)
            self._campaign = None
        if self.announcements is not None and self.started:
            self.announcements.stop()
        self.started = False
        with self._lead_lock:
            if not self.leading:
                self._run_on_stop()
                return
            self.leading = False
            if self.pruner is not None:
                self.pruner.stop()
            if self.cot is not None:
                self.cot.stop()
            if self.mqtt is not None:
                self.mqtt.stop()
            if self.tracks is not None:
                self.tracks.stop()
            if self.dss is not None:
                self.dss.stop()
            self.deliverer.stop()
            self.deadlines.stop()
        self._run_on_stop()

    def _run_on_stop(self) -> None:
        for action in self.on_stop:
            action()
