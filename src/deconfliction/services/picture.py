"""The active picture held in memory: every active declaration and the spatio-temporal index over them.

Rebuilt from the store at start-up; updated after each committed write. The conflict check consults only the
index's candidates and runs the exact geodesic rule on those.
"""

from __future__ import annotations

from collections.abc import Iterable

from deconfliction.domain.conflicts import Finding, assess
from deconfliction.domain.declarations import Declaration, DeclarationSpec
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.index import Box, Index, make_index


class Picture:
    def __init__(self, policy: SeparationPolicy, index: str = "grid") -> None:
        self.policy = policy
        self.index: Index = make_index(index)
        self.declarations: dict[int, Declaration] = {}

    def __len__(self) -> int:
        return len(self.declarations)

    @staticmethod
    def stored_boxes(spec: DeclarationSpec) -> list[Box]:
        """Boxes an entry occupies in the index: the shape grown by its radius and its own stated separation."""
        return list(spec.shape.boxes(spec.radius_m + (spec.separation_m or 0.0)))

    def _entry(self, d: Declaration) -> tuple[int, list[Box], float, float | None, float, float | None]:
        s = d.spec
        end = None if s.window.end is None else s.window.end_s
        return d.key, self.stored_boxes(s), s.window.start_s, end, s.altitude.lower_m, s.altitude.upper_m

    def load(self, declarations: Iterable[Declaration]) -> None:
        """Fill an empty picture (start-up)."""
        active = [d for d in declarations if d.active]
        self.declarations = {d.key: d for d in active}
        self.index.bulk_load([self._entry(d) for d in active])

    def put(self, declaration: Declaration) -> None:
        if not declaration.active:
            self.remove(declaration.key)
            return
        self.declarations[declaration.key] = declaration
        self.index.insert(*self._entry(declaration))

    def remove(self, key: int) -> None:
        self.declarations.pop(key, None)
        self.index.delete(key)

    def conflicts_for(self, declaration: Declaration) -> list[tuple[Declaration, Finding]]:
        """Every active declaration of another party that conflicts with `declaration`, by the exact rule."""
        s = declaration.spec
        # Grown by own radius and the most this declaration could require; the partner's radius and its own
        # stated separation are already in its stored boxes, so no conflicting pair is missed.
        reach_m = s.radius_m + self.policy.reach_m(s.kind, s.separation_m)
        end = None if s.window.end is None else s.window.end_s
        keys = self.index.candidates(
            s.shape.boxes(reach_m), s.window.start_s, end, s.altitude.lower_m, s.altitude.upper_m
        )
        found = []
        for key in sorted(keys):
            other = self.declarations.get(key)
            if other is None or other.key == declaration.key or other.party == declaration.party:
                continue
            finding = assess(declaration, other, self.policy)
            if finding is not None:
                found.append((other, finding))
        return found
