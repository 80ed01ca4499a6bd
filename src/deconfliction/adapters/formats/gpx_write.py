"""GPX out: sites as wpt, routes as rte (a time per point when the route has `times`), areas as a closed rte of
type `area`; every property in `<extensions>` under the namespace urn:deconfliction:gpx:1."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import gpxpy.gpx
from lxml import etree  # type: ignore[import-untyped]

from deconfliction.adapters.formats.gpx_read import NS
from deconfliction.domain.text import for_xml

_CARRIED = ("kind", "start", "end", "radius_m", "separation_m", "audience", "lower_m", "upper_m", "speed_mps",
            "id", "party", "version", "status")  # fmt: skip


def _text(value: Any) -> str:
    """As XML can carry it: text stored before it was checked may hold what XML cannot."""
    if isinstance(value, list):
        return for_xml(";".join(str(v) for v in value))
    return repr(value) if isinstance(value, float) else for_xml(str(value))


def _name(props: dict[str, Any]) -> str | None:
    return _text(props["name"]) if props.get("name") else None


def _extensions(feature: dict[str, Any], whole_geometry: bool) -> list[etree._Element]:
    props = feature["properties"]
    altitude = props.get("altitude") or {}
    values = {**props, "id": feature.get("id"), "lower_m": altitude.get("lower_m"), "upper_m": altitude.get("upper_m")}
    out = []
    for name in _CARRIED:
        if values.get(name) is not None:
            element = etree.Element(f"{{{NS}}}{name}")
            element.text = escape(_text(values[name]))  # gpxpy writes an extension's text as it is, unescaped
            out.append(element)
    if whole_geometry:  # holes and multi-polygons have no GPX form: the shape travels whole
        element = etree.Element(f"{{{NS}}}geometry")
        element.text = escape(json.dumps(feature["geometry"]))
        out.append(element)
    return out


def _route(feature: dict[str, Any], positions: list[list[float]], kind_type: str, whole: bool) -> gpxpy.gpx.GPXRoute:
    props = feature["properties"]
    route = gpxpy.gpx.GPXRoute(name=_name(props))
    route.type = kind_type
    times = props.get("times") if kind_type != "area" else None
    for i, (lon, lat) in enumerate(positions):
        moment = datetime.fromisoformat(times[i].replace("Z", "+00:00")) if times else None
        route.points.append(gpxpy.gpx.GPXRoutePoint(latitude=lat, longitude=lon, time=moment))
    route.extensions.extend(_extensions(feature, whole))
    return route


def write(features: list[dict[str, Any]], title: str = "deconf export") -> bytes:
    gpx = gpxpy.gpx.GPX()
    gpx.name = title
    gpx.creator = "deconf"
    gpx.nsmap["deconf"] = NS
    for feature in features:
        geometry, props = feature["geometry"], feature["properties"]
        gtype, coords = geometry["type"], geometry["coordinates"]
        if gtype == "Point":
            wpt = gpxpy.gpx.GPXWaypoint(latitude=coords[1], longitude=coords[0], name=_name(props))
            wpt.type = _text(props["kind"]) if props.get("kind") else None
            wpt.extensions.extend(_extensions(feature, False))
            gpx.waypoints.append(wpt)
        elif gtype == "LineString":
            gpx.routes.append(_route(feature, coords, "route", False))
        else:
            rings = coords if gtype == "Polygon" else coords[0]
            whole = gtype == "MultiPolygon" or len(rings) > 1
            gpx.routes.append(_route(feature, rings[0], "area", whole))
    return gpx.to_xml(version="1.1").encode("utf-8")
