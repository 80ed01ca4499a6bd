"""The storage interface of the F3548-21 DSS's entities (see base.Tx): JSON documents by kind and id."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DSS_KINDS = ("oir", "constraint", "subscription", "availability", "report")


@dataclass(frozen=True, slots=True)
class DssDoc:
    kind: str
    id: str
    manager: str
    doc: dict[str, Any]


class DssTx(abc.ABC):
    @abc.abstractmethod
    def save_dss(self, entry: DssDoc, at: datetime) -> None:
        """Insert or replace the entity of this kind and id."""

    @abc.abstractmethod
    def delete_dss(self, kind: str, entity_id: str) -> None: ...

    @abc.abstractmethod
    def get_dss(self, kind: str, entity_id: str) -> DssDoc | None: ...

    @abc.abstractmethod
    def get_dss_many(self, kind: str, entity_ids: list[str]) -> list[DssDoc]:
        """Those of the ids that exist, in no particular order."""

    @abc.abstractmethod
    def all_dss(self, kind: str) -> list[DssDoc]:
        """Every entity of the kind (start-up: the DSS picture is built from them)."""
