"""The storage interface of live tracks (see base.Tx): their reports, their state, and their open warnings."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from datetime import datetime

from deconfliction.domain.tracks import Report, Track


class TracksTx(abc.ABC):
    @abc.abstractmethod
    def insert_track_reports(self, party: str, track_id: str, reports: Sequence[Report], received_at: datetime) -> int:
        """Store new reports; one with the time of a report already stored is ignored. Returns how many were new."""

    @abc.abstractmethod
    def save_track(self, track: Track) -> None:
        """Insert or update a track's state."""

    @abc.abstractmethod
    def get_track(self, party: str, track_id: str) -> Track | None: ...
    @abc.abstractmethod
    def list_tracks(self, party: str, statuses: Sequence[str], limit: int) -> list[Track]:
        """The party's tracks in these statuses, by track id."""

    @abc.abstractmethod
    def track_reports(self, party: str, track_id: str, limit: int) -> list[Report]:
        """A track's stored reports, newest first."""

    @abc.abstractmethod
    def live_tracks(self) -> Iterator[Track]:
        """Every track not removed (start-up)."""

    @abc.abstractmethod
    def open_track_conflict_ids(self) -> list[str]:
        """Ids of the open convergence and line conflicts that have a track on one side (start-up)."""
