"""Default separations between kinds of declaration, used when neither declaration states `separation_m`.

The reasoning behind each default is in docs/concepts.md ("Default separations"); every value is configurable
(`DECONF_SEPARATION_DEFAULTS`, e.g. "site/area=3000,area/area=2000").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deconfliction.domain.declarations import Kind

DEFAULT_SEPARATIONS_M: dict[frozenset[Kind], float] = {
    # A fixed place against fixed place: both are known, neither moves; warn when they are practically adjacent.
    frozenset({Kind.SITE}): 500.0,
    # A protected site against an operating area: indirect fire and air strikes inside the area can land beyond
    # its edge; 3 km covers typical artillery and mortar dispersion plus "danger close" margins.
    frozenset({Kind.SITE, Kind.AREA}): 3_000.0,
    # A convoy passing a site: the site is known and the movement is brief; 1 km keeps it clear of a perimeter.
    frozenset({Kind.SITE, Kind.ROUTE}): 1_000.0,
    # Two operating areas of opposing forces: 2 km is the smallest buffer in which units can tell each other's
    # positions apart and fires of one side do not reach the other.
    frozenset({Kind.AREA}): 2_000.0,
    # A movement through or near an operating area: same reasoning as two areas.
    frozenset({Kind.AREA, Kind.ROUTE}): 2_000.0,
    # Two movements: routes are lines with a radius already; 1 km more keeps convoys apart at a junction.
    frozenset({Kind.ROUTE}): 1_000.0,
    # Drone flights (F3548 operational intents) among themselves: their USSs deconflict them strategically through
    # the DSS's key rule (overlap, not distance), so the channel raises no proximity conflict between two flights.
    frozenset({Kind.FLIGHT}): 0.0,
    # A flight near a protected site (a hospital, a camp): a small drone's volume already holds its navigation
    # error; 500 m keeps its noise, its fall zone and its camera's gaze off the site.
    frozenset({Kind.FLIGHT, Kind.SITE}): 500.0,
    # A flight near an operating area: armed forces shoot at unknown drones; 1 km keeps it clearly outside.
    frozenset({Kind.FLIGHT, Kind.AREA}): 1_000.0,
    # A flight near a route or a live track (convoys): 500 m, as for sites.
    frozenset({Kind.FLIGHT, Kind.ROUTE}): 500.0,
}


def parse_separation_overrides(text: str) -> dict[frozenset[Kind], float]:
    """Parse "site/area=3000,area/area=2000" into overrides; raises ValueError with a precise message."""
    out: dict[frozenset[Kind], float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pair, sep, value = item.partition("=")
        kinds = pair.split("/")
        if not sep or len(kinds) != 2:
            raise ValueError(f"separation default {item!r} must look like 'site/area=3000'")
        try:
            key = frozenset(Kind(k.strip()) for k in kinds)
            metres = float(value)
        except ValueError as exc:
            raise ValueError(f"separation default {item!r}: {exc}") from None
        if not metres >= 0:
            raise ValueError(f"separation default {item!r} must be a non-negative number of metres")
        out[key] = metres
    return out


@dataclass(frozen=True)
class SeparationPolicy:
    """Which separation a pair of declarations requires."""

    defaults_m: Mapping[frozenset[Kind], float] = field(default_factory=lambda: dict(DEFAULT_SEPARATIONS_M))

    def default_m(self, a: Kind, b: Kind) -> float:
        return self.defaults_m[frozenset({a, b})]

    def required_m(self, a_kind: Kind, a_sep: float | None, b_kind: Kind, b_sep: float | None) -> float:
        """The larger stated `separation_m` of the two; when neither states one, the default for the kinds."""
        stated = [s for s in (a_sep, b_sep) if s is not None]
        return max(stated) if stated else self.default_m(a_kind, b_kind)

    def reach_m(self, kind: Kind, own_sep: float | None) -> float:
        """The largest separation this declaration can require of any partner, given only its own side."""
        if own_sep is not None:
            return own_sep
        return max(v for k, v in self.defaults_m.items() if kind in k)

    @classmethod
    def with_overrides(cls, overrides: Mapping[frozenset[Kind], float]) -> SeparationPolicy:
        merged = dict(DEFAULT_SEPARATIONS_M)
        merged.update(overrides)
        return cls(merged)
