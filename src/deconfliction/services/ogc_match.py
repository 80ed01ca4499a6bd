"""Which items an OGC API `bbox` and `datetime` select, as Part 1 says: features whose geometry intersects the box
(and, with six numbers, whose altitude meets its heights), whose time meets the instant or interval.

Geometries are matched as GIS clients draw them and OGC's test suite checks them: straight lines in longitude and
latitude (CRS84). A geometry crossing ±180° is read the short way round, as the rest of the channel reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely

from deconfliction.storage.base import Box

_SHIFTS_DEG = (-360.0, 0.0, 360.0)


def geometry_meets(geometry: dict[str, Any], boxes: Sequence[Box]) -> bool:
    """The GeoJSON geometry intersects one of the boxes (CRS84, planar; across ±180° the short way round)."""
    if not boxes:
        return True
    unwrapped = _unwrapped(geometry)
    if unwrapped is None:
        return True  # a ring around a pole: no planar reading; kept, as its grown box already met the query
    shape = shapely.geometry.shape(unwrapped)
    return any(
        shape.intersects(shapely.box(b[0] + shift, b[1], b[2] + shift, b[3])) for b in boxes for shift in _SHIFTS_DEG
    )


def band_meets(lower_m: float | None, upper_m: float | None, heights_m: tuple[float, float] | None) -> bool:
    """An altitude band (None: unbounded that way) meets the bbox's heights; no heights, or no altitude: it does."""
    if heights_m is None:
        return True
    low, high = heights_m
    return (lower_m is None or lower_m <= high) and (upper_m is None or upper_m >= low)


def time_meets(start_s: float, end_s: float | None, query_start_s: float | None, query_end_s: float | None) -> bool:
    """Closed intervals meet: [start, end] (end None: open) and the query's (None: open that way)."""
    if query_end_s is not None and start_s > query_end_s:
        return False
    return query_start_s is None or end_s is None or end_s >= query_start_s


def _unwrapped(geometry: dict[str, Any]) -> dict[str, Any] | None:
    """The geometry with each chain's longitudes made continuous (no step over 180°); None where a ring does not
    close once unwrapped (it goes round a pole)."""
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return geometry
    if kind == "LineString":
        return {"type": kind, "coordinates": _chain(coordinates)}
    polygons = [coordinates] if kind == "Polygon" else coordinates
    unwrapped = [[_chain(ring) for ring in polygon] for polygon in polygons]
    if any(abs(ring[0][0] - ring[-1][0]) > 1e-9 for polygon in unwrapped for ring in polygon):
        return None
    return {"type": kind, "coordinates": unwrapped[0] if kind == "Polygon" else unwrapped}


def _chain(points: Sequence[Sequence[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for p in points:
        lon = p[0]
        if out:
            previous = out[-1][0]
            lon += 360.0 * round((previous - lon) / 360.0)
        out.append([lon, p[1]])
    return out
