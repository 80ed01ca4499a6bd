"""CSV out: one row per declaration; lat/lon of a representative point and the full shape as WKT."""

from __future__ import annotations

import csv
import io
from typing import Any

from deconfliction.adapters.formats import wkt
from deconfliction.domain.text import for_unicode

COLUMNS = ("id", "name", "kind", "party", "status", "start", "end", "lat", "lon", "radius_m", "separation_m",
           "audience", "lower_m", "upper_m", "speed_mps", "times", "wkt")  # fmt: skip


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _cells(feature: dict[str, Any]) -> list[str]:
    props = feature["properties"]
    lon, lat = wkt.representative(feature["geometry"])
    audience = props.get("audience")
    altitude = props.get("altitude") or {}
    values: dict[str, Any] = {
        **{name: props.get(name) for name in ("name", "kind", "party", "status", "start", "end", "radius_m")},
        "id": feature.get("id"),
        "lat": lat,
        "lon": lon,
        "separation_m": props.get("separation_m"),
        "audience": ";".join(audience) if isinstance(audience, list) else audience,
        "lower_m": altitude.get("lower_m"),
        "upper_m": altitude.get("upper_m"),
        "speed_mps": props.get("speed_mps"),
        "times": ";".join(props["times"]) if props.get("times") else None,
        "wkt": wkt.dumps(feature["geometry"]),
    }
    return [_text(values[c]) for c in COLUMNS]


def write(features: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for feature in features:
        writer.writerow(_cells(feature))
    # The BOM tells Excel it is UTF-8; a lone surrogate stored before text was checked has none: U+FFFD.
    return ("\ufeff" + for_unicode(out.getvalue())).encode("utf-8")
