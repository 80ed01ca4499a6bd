"""KML out, for Google Earth: a Folder per party, a Placemark per declaration with its TimeSpan, a style per kind,
and every property in ExtendedData so that importing the file gives the same declarations back."""

from __future__ import annotations

from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from deconfliction.domain.text import for_xml

KML_NS = "http://www.opengis.net/kml/2.2"
# aabbggrr: sites red, areas orange (fill translucent), routes blue
_STYLES = {"site": "ff1400e6", "area": "ff0080ff", "route": "ffff7800"}
_DATA = ("kind", "radius_m", "separation_m", "audience", "lower_m", "upper_m", "speed_mps", "times",
         "id", "party", "version", "status")  # fmt: skip


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        element.text = for_xml(text)  # text stored before it was checked may hold what XML cannot
    return element


def _coords(positions: list[list[float]]) -> str:
    return " ".join(f"{p[0]!r},{p[1]!r}" for p in positions)


def _polygon(parent: etree._Element, rings: list[list[list[float]]]) -> None:
    polygon = _el(parent, "Polygon")
    for i, ring in enumerate(rings):
        boundary = _el(polygon, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
        _el(_el(boundary, "LinearRing"), "coordinates", _coords(ring))


def _geometry(parent: etree._Element, geometry: dict[str, Any]) -> None:
    gtype, coords = geometry["type"], geometry["coordinates"]
    if gtype == "Point":
        _el(_el(parent, "Point"), "coordinates", _coords([coords]))
    elif gtype == "LineString":
        line = _el(parent, "LineString")
        _el(line, "tessellate", "1")
        _el(line, "coordinates", _coords(coords))
    elif gtype == "Polygon":
        _polygon(parent, coords)
    else:
        multi = _el(parent, "MultiGeometry")
        for rings in coords:
            _polygon(multi, rings)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _data(props: dict[str, Any], feature_id: Any) -> dict[str, Any]:
    altitude = props.get("altitude") or {}
    values = {**props, "id": feature_id, "lower_m": altitude.get("lower_m"), "upper_m": altitude.get("upper_m")}
    return {name: values[name] for name in _DATA if values.get(name) is not None}


def _placemark(parent: etree._Element, feature: dict[str, Any]) -> None:
    props = feature["properties"]
    placemark = _el(parent, "Placemark")
    _el(placemark, "name", props.get("name") or "")
    if props.get("start"):
        span = _el(placemark, "TimeSpan")
        _el(span, "begin", props["start"])
        if props.get("end"):
            _el(span, "end", props["end"])
    _el(placemark, "styleUrl", f"#kind-{props.get('kind', 'area')}")
    extended = _el(placemark, "ExtendedData")
    for name, value in _data(props, feature.get("id")).items():
        data = _el(extended, "Data")
        data.set("name", name)
        _el(data, "value", _text(value))
    _geometry(placemark, feature["geometry"])


def _styles(document: etree._Element) -> None:
    for kind, colour in _STYLES.items():
        style = _el(document, "Style")
        style.set("id", f"kind-{kind}")
        _el(_el(style, "IconStyle"), "color", colour)
        line = _el(style, "LineStyle")
        _el(line, "color", colour)
        _el(line, "width", "3" if kind == "route" else "2")
        _el(_el(style, "PolyStyle"), "color", "66" + colour[2:])


def write(features: list[dict[str, Any]], title: str = "deconf export") -> bytes:
    root = etree.Element(f"{{{KML_NS}}}kml", nsmap={None: KML_NS})
    document = _el(root, "Document")
    _el(document, "name", title)
    _styles(document)
    folders: dict[str, etree._Element] = {}
    for feature in features:
        party = str(feature["properties"].get("party") or "declarations")
        if party not in folders:
            folders[party] = _el(document, "Folder")
            _el(folders[party], "name", party)
        _placemark(folders[party], feature)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
