"""The OGC API's items: each collection's records as GeoJSON Features with flat properties — one column each in a
GIS attribute table, the same columns on every feature."""

from __future__ import annotations

from typing import Any


def declaration_feature(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored declaration Feature, its properties flattened: altitude as two columns, the audience as text."""
    p = stored["properties"]
    audience = p["audience"]
    times = p.get("times")
    props = {
        "name": p["name"],
        "kind": p["kind"],
        "party": p["party"],
        "start": p["start"],
        "end": p["end"],
        "lower_m": p["altitude"]["lower_m"],
        "upper_m": p["altitude"]["upper_m"],
        "radius_m": p["radius_m"],
        "separation_m": p["separation_m"],
        "audience": audience if isinstance(audience, str) else ",".join(audience),
        "speed_mps": p.get("speed_mps"),
        "times": None if times is None else ",".join(times),
        "status": p["status"],
        "version": p["version"],
        "created_at": p["created_at"],
        "updated_at": p["updated_at"],
    }
    return {"type": "Feature", "id": stored["id"], "geometry": stored["geometry"], "properties": props}


def conflict_feature(view: dict[str, Any]) -> dict[str, Any]:
    """A conflict as its party sees it: a point on its own shape, never the other's geometry."""
    props = {
        "kind": view["kind"],
        "declaration": view["declaration"],
        "other_party": view["other_party"],
        "other_declaration": view["other_declaration"],
        "distance_m": view["distance_m"],
        "required_m": view["required_m"],
        "status": view["status"],
        "start": view["time"]["start"],
        "end": view["time"]["end"],
        "opened_at": view["opened_at"],
        "acknowledged_at": view["acknowledged_at"],
        "other_acknowledged": view["other_acknowledged"],
        "resolved_at": view["resolved_at"],
        "resolved_reason": view["resolved_reason"],
        "line": view["line"],
    }
    return {"type": "Feature", "id": view["id"], "geometry": view["location"], "properties": props}


def line_feature(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "proposer", "with", "left", "right", "tolerance_m", "created_at", "updated_at", "answered_at")
    props = {k: view[k] for k in keys} | {"withdrawn_by": view["withdrawn_by"]}
    return {"type": "Feature", "id": view["id"], "geometry": view["geometry"], "properties": props}


def track_feature(view: dict[str, Any]) -> dict[str, Any]:
    coordinates = view["position"]["coordinates"]
    keys = ("party", "status", "source", "t", "speed_mps", "course_deg", "motion", "separation_m", "stale")
    props = {k: view[k] for k in keys}
    props |= {"alt_m": coordinates[2] if len(coordinates) > 2 else None, "first_t": view["first_t"]}
    props |= {"reports": view["reports"], "updated_at": view["updated_at"]}
    point = {"type": "Point", "coordinates": coordinates[:2]}
    return {"type": "Feature", "id": view["id"], "geometry": point, "properties": props}
