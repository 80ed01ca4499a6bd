"""The storage interface of agreed deconfliction lines (see base.Tx)."""

from __future__ import annotations

import abc

from deconfliction.domain.lines import Line


class LinesTx(abc.ABC):
    @abc.abstractmethod
    def save_line(self, line: Line) -> None:
        """Insert a new line, or update its status, answer and withdrawal."""

    @abc.abstractmethod
    def get_line(self, line_id: str) -> Line | None: ...
    @abc.abstractmethod
    def list_lines(self, party: str, status: str | None, limit: int, before_seq: int | None) -> list[tuple[int, Line]]:
        """(seq, line) of the lines the party proposed or was proposed, newest first."""

    @abc.abstractmethod
    def accepted_lines_of(self, party: str) -> list[Line]:
        """The accepted lines binding the party, oldest first."""
