"""KML (Google Earth) in: Placemarks in nested Documents and Folders; KMZ too (size-bounded)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from typing import Any

from fastkml import config
from fastkml.containers import Document, Folder
from fastkml.data import Data, SchemaData
from fastkml.features import Placemark
from fastkml.kml import KML
from fastkml.times import TimeSpan, TimeStamp

from deconfliction.adapters.formats import safexml
from deconfliction.adapters.formats.rows import Defaults, FormatError, ReadResult, Row, finish, from_text, plain

KMZ_MAX_BYTES = 20 * 1024 * 1024  # a KMZ's KML, uncompressed: zip bombs stop here
KMZ_MAX_RATIO = 100


def unzip(data: bytes) -> bytes:
    """The KML inside a KMZ: doc.kml, else the first .kml at its root; bounded in size and compression ratio."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = [i for i in archive.infolist() if i.filename.lower().endswith(".kml") and "/" not in i.filename]
    except (zipfile.BadZipFile, ValueError) as exc:
        raise FormatError(f"the KMZ file is not a valid zip archive: {exc}") from None
    if not names:
        raise FormatError("the KMZ file holds no .kml document at its root")
    chosen = next((i for i in names if i.filename.lower() == "doc.kml"), names[0])
    if chosen.file_size > KMZ_MAX_BYTES or chosen.file_size > KMZ_MAX_RATIO * max(chosen.compress_size, 1):
        raise FormatError(f"the KMZ's {chosen.filename} is too large uncompressed ({chosen.file_size} bytes)")
    try:
        with archive.open(chosen) as member:
            content = member.read(KMZ_MAX_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise FormatError(f"the KMZ's {chosen.filename} cannot be read: {exc}") from None
    if len(content) > KMZ_MAX_BYTES:
        raise FormatError(f"the KMZ's {chosen.filename} is larger than {KMZ_MAX_BYTES} bytes uncompressed")
    return content


def _document(data: bytes) -> KML:
    if data[:4] == b"PK\x03\x04":
        data = unzip(data)
    root = safexml.parse(data, "KML")
    if safexml.local(root.tag) != "kml":
        raise FormatError(f"the root element is <{safexml.local(root.tag)}>, not <kml>")
    ns = root.tag[:-3] if str(root.tag).endswith("kml") else ""
    spaces = {**config.NAME_SPACES, **({"kml": ns} if ns else {})}
    try:
        return KML.class_from_element(ns=ns, name_spaces=spaces, element=root, strict=False)
    except Exception as exc:  # fastkml's errors are many and untyped: the file is at fault, say so
        raise FormatError(f"the KML cannot be read: {exc}") from None


def read(data: bytes, defaults: Defaults) -> ReadResult:
    result = ReadResult()
    skipped: list[str] = []
    for feature in _document(data).features:
        _walk(feature, "", defaults, result, skipped)
    if skipped:
        result.warnings.append(f"not declarations, skipped: {', '.join(skipped[:10])}")
    return result


def _walk(feature: Any, path: str, defaults: Defaults, result: ReadResult, skipped: list[str]) -> None:
    name = (getattr(feature, "name", None) or "").strip()
    here = f"{path}/{name or '#' + str(len(result.rows) + 1)}" if path or name else type(feature).__name__
    if isinstance(feature, Document | Folder):
        for child in feature.features:
            _walk(child, here, defaults, result, skipped)
    elif isinstance(feature, Placemark):
        result.rows.extend(_placemark(feature, here.lstrip("/"), defaults))
    else:
        skipped.append(f"{type(feature).__name__} {here}")


def _time(value: Any) -> str | None:
    moment = getattr(value, "dt", None)
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # KML without zone: UTC
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(moment, date):
        return f"{moment.isoformat()}T00:00:00Z"
    return None


def _properties(placemark: Placemark) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    pairs: list[tuple[str, str]] = []
    extended = placemark.extended_data
    for element in [] if extended is None else extended.elements:
        if isinstance(element, Data) and element.name:
            pairs.append((element.name, element.value or ""))
        elif isinstance(element, SchemaData):
            pairs.extend((d.name, d.value or "") for d in element.data if d.name)
    props, _, errors = from_text(pairs)
    if placemark.name and "name" not in props:
        props["name"] = placemark.name.strip()
    times = placemark.times
    if isinstance(times, TimeSpan):
        for key, moment in (("start", times.begin), ("end", times.end)):
            text = _time(moment)
            if text is not None:
                props.setdefault(key, text)
    elif isinstance(times, TimeStamp):
        text = _time(times.timestamp)
        if text is not None:
            props.setdefault("start", text)
    return props, errors


def _shapes(geometry: Any) -> list[dict[str, Any]]:
    """A placemark's geometry as the shapes of one or more declarations (see docs/formats.md, MultiGeometry)."""
    if geometry is None:
        return []
    found = geometry.__geo_interface__
    gtype = found["type"]
    if gtype in ("Point", "LineString", "Polygon", "MultiPolygon"):
        return [{"type": gtype, "coordinates": plain(found["coordinates"])}]
    if gtype == "LinearRing":
        return [{"type": "Polygon", "coordinates": [plain(found["coordinates"])]}]
    members = [m for g in getattr(geometry, "geoms", ()) for m in _shapes(g)]
    polygons = [m for m in members if m["type"] in ("Polygon", "MultiPolygon")]
    others = [m for m in members if m["type"] == "LineString" or (m["type"] == "Point" and not polygons)]
    if len(polygons) == 1:
        return [polygons[0], *others]
    if polygons:  # the points beside polygons are Google Earth's label anchors, not places
        rings = [p["coordinates"] for p in polygons if p["type"] == "Polygon"]
        rings += [c for p in polygons if p["type"] == "MultiPolygon" for c in p["coordinates"]]
        return [{"type": "MultiPolygon", "coordinates": rings}, *others]
    return others


def _placemark(placemark: Placemark, label: str, defaults: Defaults) -> list[Row]:
    props, errors = _properties(placemark)
    try:
        shapes = _shapes(placemark.geometry)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return [Row(label, None, (("geometry", f"the geometry cannot be read: {exc}"),))]
    if errors:
        return [Row(label, None, tuple(errors))]
    if not shapes:
        return [Row(label, None, (("geometry", "the placemark has no Point, LineString or Polygon"),))]
    rows = []
    for i, shape in enumerate(shapes):
        row_label = label if len(shapes) == 1 else f"{label}[{i}]"
        rows.append(finish(row_label, shape, dict(props), defaults))
    return rows
