"""Well-known text for the shapes a declaration takes, both ways; and a representative point of a shape."""

from __future__ import annotations

from typing import Any

import shapely
from shapely import wkt as shapely_wkt
from shapely.geometry import mapping, shape

from deconfliction.adapters.formats.rows import plain


def loads(text: str) -> dict[str, Any]:
    """WKT → a GeoJSON geometry (z dropped); ValueError if it is not WKT."""
    try:
        geometry = shapely_wkt.loads(text)
    except (shapely.errors.ShapelyError, ValueError, TypeError) as exc:
        raise ValueError(f"not well-known text: {exc}") from None
    found = mapping(geometry)
    if found["type"] == "GeometryCollection":
        raise ValueError("a GEOMETRYCOLLECTION is not a declaration's shape")
    return {"type": found["type"], "coordinates": plain(found["coordinates"])}


def _xy(position: list[float]) -> str:
    return f"{position[0]!r} {position[1]!r}"  # repr: the shortest text that reads back as the same float


def _ring(ring: list[list[float]]) -> str:
    return "(" + ", ".join(_xy(p) for p in ring) + ")"


def dumps(geometry: dict[str, Any]) -> str:
    """A GeoJSON geometry (Point, LineString, Polygon, MultiPolygon) as WKT, exact to the last digit."""
    gtype, coords = geometry["type"], geometry["coordinates"]
    if gtype == "Point":
        return f"POINT ({_xy(coords)})"
    if gtype == "LineString":
        return "LINESTRING " + _ring(coords)
    if gtype == "Polygon":
        return "POLYGON (" + ", ".join(_ring(r) for r in coords) + ")"
    if gtype == "MultiPolygon":
        return "MULTIPOLYGON (" + ", ".join("(" + ", ".join(_ring(r) for r in p) + ")" for p in coords) + ")"
    raise ValueError(f"no WKT for a {gtype}")


def representative(geometry: dict[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a point on the shape: the point itself, a line's middle vertex, a point inside a polygon."""
    gtype, coords = geometry["type"], geometry["coordinates"]
    if gtype == "Point":
        return float(coords[0]), float(coords[1])
    if gtype == "LineString":
        middle = coords[len(coords) // 2]
        return float(middle[0]), float(middle[1])
    point = shape(geometry).representative_point()
    return float(point.x), float(point.y)
