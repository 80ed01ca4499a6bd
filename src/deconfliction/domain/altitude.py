"""Altitude bands: the vertical extent of a declaration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from deconfliction.domain.errors import InvalidInput

# Absent band = surface to unlimited. Below-surface lower bounds are allowed (Dead Sea, mines, tunnels).
MIN_ALTITUDE_M = -1_000.0
MAX_ALTITUDE_M = 100_000.0


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    """Closed interval [lower_m, upper_m] in metres; `upper_m` None = unlimited.

    Bands that merely touch overlap: a vertical separation of zero is no separation.
    """

    lower_m: float = 0.0
    upper_m: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("lower_m", self.lower_m), ("upper_m", self.upper_m)):
            if value is None:
                continue
            if not math.isfinite(value) or not MIN_ALTITUDE_M <= value <= MAX_ALTITUDE_M:
                raise InvalidInput(
                    f"properties.altitude.{name} must be a finite number of metres between "
                    f"{MIN_ALTITUDE_M:g} and {MAX_ALTITUDE_M:g}",
                    field=f"properties.altitude.{name}",
                )
        if self.upper_m is not None and self.upper_m < self.lower_m:
            raise InvalidInput(
                f"properties.altitude.upper_m ({self.upper_m:g}) is below lower_m ({self.lower_m:g})",
                field="properties.altitude.upper_m",
            )

    @property
    def top_m(self) -> float:
        return math.inf if self.upper_m is None else self.upper_m

    def overlaps(self, other: AltitudeBand) -> bool:
        return self.lower_m <= other.top_m and other.lower_m <= self.top_m

    def to_json(self) -> dict[str, float | None]:
        return {"lower_m": self.lower_m, "upper_m": self.upper_m}
