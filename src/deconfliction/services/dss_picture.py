"""The F3548-21 DSS's entities held in memory, each kind with its 4D volumes in a spatio-temporal index: which
operational intents, constraints or subscriptions intersect a set of volumes is answered here, without the store.

Built from the store at start-up (`load`), changed by write jobs (`put`/`remove`, undone if the job or its commit
fails), and kept in step with other workers by the change feed (kinds `dss:oir`, `dss:constraint`,
`dss:subscription`, see sync.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deconfliction.domain.f3548.volumes import Volume, intersects
from deconfliction.index import Box, Index, make_index
from deconfliction.storage.dss import DssTx

KINDS = ("oir", "constraint", "subscription")
_FAR_FUTURE_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z: an open end, for the index
# The index's windows are half-open and never empty; the DSS's are closed (touching windows meet) and may be an
# instant (a query from now to now). Each end is pushed this far for the index, which only proposes candidates:
# `intersects` decides exactly.
_CLOSED_END_S = 0.001


@dataclass(frozen=True, slots=True)
class Entity:
    """One DSS entity: its stored document (as answered, less what only its manager sees) and its volumes."""

    id: str
    manager: str
    doc: dict[str, Any]
    volumes: tuple[Volume, ...]


def _entry(volume: Volume) -> tuple[list[Box], float, float | None, float, float | None]:
    w, a = volume.window, volume.altitude
    end = None if w.end is None else w.end_s + _CLOSED_END_S
    return list(volume.shape.boxes(volume.radius_m)), w.start_s, end, a.lower_m, a.upper_m


class VolumeSet:
    """Entities of one kind and their volumes, indexed."""

    def __init__(self, index: str = "grid") -> None:
        self.index: Index = make_index(index)
        self.entities: dict[str, Entity] = {}
        self._keys: dict[str, list[int]] = {}
        self._owner: dict[int, tuple[str, int]] = {}  # index key → (entity id, volume number)
        self._next_key = 1

    def __len__(self) -> int:
        return len(self.entities)

    def get(self, entity_id: str) -> Entity | None:
        return self.entities.get(entity_id)

    def put(self, entity: Entity) -> Entity | None:
        """Add or replace; returns what it replaced. A new document on the same volumes (a notification index
        moving) keeps its index entries."""
        kept = self.entities.get(entity.id)
        if kept is not None and kept.volumes is entity.volumes:
            self.entities[entity.id] = entity
            return kept
        previous = self.remove(entity.id)
        self.entities[entity.id] = entity
        keys = []
        for number, volume in enumerate(entity.volumes):
            key = self._next_key
            self._next_key += 1
            self.index.insert(key, *_entry(volume))
            self._owner[key] = (entity.id, number)
            keys.append(key)
        self._keys[entity.id] = keys
        return previous

    def remove(self, entity_id: str) -> Entity | None:
        previous = self.entities.pop(entity_id, None)
        for key in self._keys.pop(entity_id, []):
            self.index.delete(key)
            del self._owner[key]
        return previous

    def intersecting(self, volumes: Iterable[Volume], keep: Callable[[Entity], bool] | None = None) -> list[Entity]:
        """Entities with a volume intersecting any of these (4D, exact), in id order."""
        found: dict[str, Entity] = {}
        for volume in volumes:
            boxes, start_s, end_s, lower_m, upper_m = _entry(volume)
            for key in self.index.candidates(boxes, start_s, end_s, lower_m, upper_m):
                entity_id, number = self._owner[key]
                if entity_id in found:
                    continue
                entity = self.entities[entity_id]
                if (keep is None or keep(entity)) and intersects(entity.volumes[number], volume):
                    found[entity_id] = entity
        return [found[k] for k in sorted(found)]


class DssPicture:
    """Operational intent references, constraint references and subscriptions, each a VolumeSet."""

    def __init__(self, index: str = "grid") -> None:
        self.index_name = index
        self.sets = {kind: VolumeSet(index) for kind in KINDS}

    def load(self, tx: DssTx, volumes_of: Callable[[str, dict[str, Any]], tuple[Volume, ...]]) -> None:
        """Fill from the store (start-up); `volumes_of(kind, doc)` parses an entity's stored extents."""
        for kind, volume_set in self.sets.items():
            for stored in tx.all_dss(kind):
                volume_set.put(Entity(stored.id, stored.manager, stored.doc, volumes_of(kind, stored.doc)))

    def reload(self, tx: DssTx, kind: str, entity_id: str,
               volumes_of: Callable[[str, dict[str, Any]], tuple[Volume, ...]]) -> None:  # fmt: skip
        """Take one entity again as stored (another worker changed it)."""
        stored = tx.get_dss(kind, entity_id)
        if stored is None:
            self.sets[kind].remove(entity_id)
        else:
            self.sets[kind].put(Entity(stored.id, stored.manager, stored.doc, volumes_of(kind, stored.doc)))

    @property
    def oirs(self) -> VolumeSet:
        return self.sets["oir"]

    @property
    def constraints(self) -> VolumeSet:
        return self.sets["constraint"]

    @property
    def subscriptions(self) -> VolumeSet:
        return self.sets["subscription"]
