"""The active picture held in memory: every active declaration and the spatio-temporal index over them.

Rebuilt from the store at start-up; updated after each committed write. The conflict check consults only the
index's candidates and runs the exact geodesic rule on those — against each declaration as the other party may know
it: exactly when it is in that party's audience, else as its covering (domain/covering.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

from deconfliction.domain.conflicts import Finding, assess_shown
from deconfliction.domain.covering import Covering, DisclosureSteps, coverings, growth_bound_m, widen_band, widen_window
from deconfliction.domain.declarations import Declaration, DeclarationSpec
from deconfliction.domain.disclosure import may_see
from deconfliction.domain.geometry import nearest
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.index import Box, Index, make_index

_COVERINGS_KEPT = 100_000  # coverings are made when first needed and kept, most recently used first


class Picture:
    def __init__(self, policy: SeparationPolicy, index: str = "grid", steps: DisclosureSteps | None = None) -> None:
        self.policy = policy
        self.steps = steps or DisclosureSteps()
        self.index: Index = make_index(index)
        self.declarations: dict[int, Declaration] = {}
        # by id, with the spec each was made from: a key or a version may come again after a rolled-back write
        self._coverings: OrderedDict[str, tuple[DeclarationSpec, Covering]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.declarations)

    def precision_m(self, spec: DeclarationSpec) -> float:
        return spec.precision_m or self.steps.precision_m

    def stored_boxes(self, spec: DeclarationSpec) -> list[Box]:
        """Boxes an entry occupies in the index: the shape grown by its radius, its own stated separation, and as
        far again as its covering may reach — so that the index finds every pair whose coverings may conflict."""
        grow_m = spec.radius_m + (spec.separation_m or 0.0) + growth_bound_m(self.precision_m(spec))
        return list(spec.shape.boxes(grow_m))

    def _entry(self, d: Declaration) -> tuple[int, list[Box], float, float | None, float, float | None]:
        # in time and altitude too the entry is its covering's, so that no exact edge decides a candidate
        window = widen_window(d.spec.window, self.steps.time_s)
        band = widen_band(d.spec.altitude, self.steps.altitude_m)
        end = None if window.end is None else window.end_s
        return d.key, self.stored_boxes(d.spec), window.start_s, end, band.lower_m, band.upper_m

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

    def covering_of(self, declaration: Declaration) -> Covering:
        """The declaration as a party outside its audience may know it (made once per version, then kept)."""
        key, spec = declaration.id, declaration.spec
        kept = self._coverings.get(key)
        if kept is not None and kept[0] is spec:
            self._coverings.move_to_end(key)
            return kept[1]
        made = coverings(spec, self.steps)
        self._coverings[key] = (spec, made)
        self._coverings.move_to_end(key)
        if len(self._coverings) > _COVERINGS_KEPT:
            self._coverings.popitem(last=False)
        return made

    def shown_to(self, declaration: Declaration, party: str) -> Covering:
        """`declaration` as `party` may know it: its spec when in its audience, else its covering's pieces."""
        return (declaration.spec,) if may_see(declaration, party) else self.covering_of(declaration)

    def as_known_by(self, declaration: Declaration, party: str) -> list[Declaration]:
        """The same, as declarations (one a piece); `[declaration]` itself when `party` may see it."""
        if may_see(declaration, party):
            return [declaration]
        return [replace(declaration, spec=piece) for piece in self.covering_of(declaration)]

    def bound_m(self, declaration: Declaration, party: str) -> float:
        """How far beyond `declaration` (grown by its radius) it may reach as `party` knows it: 0 when in the
        audience, else its covering's growth bound."""
        return 0.0 if may_see(declaration, party) else growth_bound_m(self.precision_m(declaration.spec))

    def may_conflict(self, a: Declaration, b: Declaration) -> bool:
        """False only when the pair cannot conflict however each is shown: their exact shapes lie farther apart than
        the most the coverings and rounded separations could close. An implication, not a decision of its own —
        so it spares making coverings without making any answer depend on an exact shape."""
        sa, sb = a.spec, b.spec
        ga, gb = self.bound_m(a, b.party), self.bound_m(b, a.party)
        required = self.policy.required_m(
            sa.kind, None if sa.separation_m is None else sa.separation_m + ga,
            sb.kind, None if sb.separation_m is None else sb.separation_m + gb,
        )  # fmt: skip
        reach_m = required + sa.radius_m + sb.radius_m + ga + gb
        return nearest(sa.shape, sb.shape, within_m=reach_m + 1.0) is not None

    def conflicts_for(self, declaration: Declaration) -> list[tuple[Declaration, Finding]]:
        """Every active declaration of another party that conflicts with `declaration`, each compared as the other
        party may know it (see domain/conflicts.assess_shown)."""
        # The query reaches as far as the covering could (its growth bound), over the covering's widened window and
        # band; the partner's radius, own separation and covering's reach are in its stored boxes.
        s = declaration.spec
        reach_m = s.radius_m + growth_bound_m(self.precision_m(s)) + self.policy.reach_m(s.kind, s.separation_m)
        window = widen_window(s.window, self.steps.time_s)
        band = widen_band(s.altitude, self.steps.altitude_m)
        end = None if window.end is None else window.end_s
        keys = self.index.candidates(s.shape.boxes(reach_m), window.start_s, end, band.lower_m, band.upper_m)
        found = []
        for key in sorted(keys):
            other = self.declarations.get(key)
            if other is None or other.key == declaration.key or other.party == declaration.party:
                continue
            if not self.may_conflict(declaration, other):
                continue
            finding = assess_shown(
                declaration,
                other,
                self.shown_to(declaration, other.party),
                self.shown_to(other, declaration.party),
                self.policy,
            )
            if finding is not None:
                found.append((other, finding))
        return found
