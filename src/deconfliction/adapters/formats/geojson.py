"""GeoJSON: a FeatureCollection, a Feature or a list of Features in; a FeatureCollection out."""

from __future__ import annotations

import json
from typing import Any

from deconfliction.adapters.formats.rows import (
    ECHOED,
    IMPORTABLE,
    Defaults,
    FormatError,
    ReadResult,
    Row,
    finish,
    plain,
)
from deconfliction.domain import strict_json
from deconfliction.domain.errors import DomainError
from deconfliction.domain.text import for_unicode


def _features(data: bytes) -> list[Any]:
    try:
        doc = strict_json.loads(data.removeprefix(b"\xef\xbb\xbf"))  # a BOM, as some editors write
    except DomainError as exc:
        raise FormatError(f"the file is not valid JSON (GeoJSON): {exc.detail}") from None
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise FormatError("the FeatureCollection has no `features` list")
        return features
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return [doc]
    raise FormatError("GeoJSON import takes a FeatureCollection, a Feature or a list of Features")


def read(data: bytes, defaults: Defaults) -> ReadResult:
    result = ReadResult()
    ignored: set[str] = set()
    for i, item in enumerate(_features(data)):
        label = f"features[{i}]"
        if not isinstance(item, dict) or item.get("type") != "Feature":
            result.rows.append(Row(label, None, (("", 'must be a GeoJSON object with "type": "Feature"'),)))
            continue
        props = item.get("properties") or {}
        if not isinstance(props, dict):
            result.rows.append(Row(label, None, (("properties", "properties must be an object"),)))
            continue
        name = props.get("name")
        if isinstance(name, str) and name:
            label = f"{label} {name!r}"
        kept = {k: v for k, v in props.items() if k in IMPORTABLE}
        ignored.update(k for k in props if k not in IMPORTABLE and k not in ECHOED)
        geometry = item.get("geometry")
        if isinstance(geometry, dict) and "coordinates" in geometry:
            geometry = {"type": geometry.get("type"), "coordinates": plain(geometry["coordinates"])}
        result.rows.append(finish(label, geometry, kept, defaults))
    if ignored:
        result.warnings.append(f"properties ignored (not a declaration's): {', '.join(sorted(ignored))}")
    return result


def write(features: list[dict[str, Any]]) -> bytes:
    doc = {"type": "FeatureCollection", "features": features}
    # A lone surrogate (stored before such text was refused) has no UTF-8: written as U+FFFD, not a failed export.
    return for_unicode(json.dumps(doc, ensure_ascii=False, indent=1)).encode("utf-8")
