"""F3548-21 extents as the reference DSS keeps them: an entity's hull (one 4D extent over all its volumes), and
whether one set of footprints covers another (a subscription covering the intents that depend on it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from deconfliction.domain.altitude import AltitudeBand
from deconfliction.domain.f3548.volumes import INTERSECTION_MINIMUM_PRECISION_M, Volume, union_window
from deconfliction.domain.geodesy import LonLat, destination
from deconfliction.domain.geometry import nearest, parse_geometry


def union_band(volumes: Iterable[Volume]) -> AltitudeBand:
    """The smallest band holding every volume's: min lower, max upper (None if any is unlimited)."""
    bands = [v.altitude for v in volumes]
    upper = None if any(b.upper_m is None for b in bands) else max(b.upper_m for b in bands if b.upper_m is not None)
    return AltitudeBand(min(b.lower_m for b in bands), upper)


def hull(volumes: Sequence[Volume]) -> tuple[Volume, ...]:
    """The volumes as the reference DSS keeps an entity: one 4D extent — the union of the footprints, from the
    earliest start to the latest end, from the lowest floor to the highest ceiling. Each footprint is given the
    union's window and band, so that two hulls intersect when some footprints touch and the unions' windows and
    bands meet (an intent whose volumes each miss another's in time or height still meets it when their unions do:
    prober test_missing_conflicted_operation)."""
    if not volumes:
        return ()
    window, band = union_window(volumes), union_band(volumes)
    return tuple(Volume(v.shape, v.radius_m, band, window) for v in volumes)


def _inside(point: LonLat, volumes: Sequence[Volume]) -> bool:
    spot = parse_geometry({"type": "Point", "coordinates": list(point)})
    for v in volumes:
        reach_m = v.radius_m + INTERSECTION_MINIMUM_PRECISION_M
        found = nearest(spot, v.shape, within_m=reach_m)
        if found is not None and found.distance_m <= reach_m:
            return True
    return False


def _outline_points(volume: Volume, samples: int = 16) -> list[LonLat]:
    """Points on a volume's outline: a polygon's vertices, or points around a circle."""
    if volume.radius_m == 0:
        return [(float(p[0]), float(p[1])) for p in volume.shape.geojson()["coordinates"][0][:-1]]
    lon, lat = volume.shape.geojson()["coordinates"]
    return [destination(lon, lat, 360.0 * k / samples, volume.radius_m) for k in range(samples)]


def footprint_covers(outer: Sequence[Volume], inner: Sequence[Volume]) -> bool:
    """Whether the footprints of `outer` cover those of `inner` (each outline point of `inner` lies within 1 cm of
    one of `outer`): the 2D half of the reference DSS's "the subscription covers the operational intent" (its S2
    cell containment), to the precision of outline points."""
    return all(_inside(p, outer) for v in inner for p in _outline_points(v))
