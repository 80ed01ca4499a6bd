"""Declarations in the formats people already keep them in — GeoJSON, KML (and KMZ), GPX, CSV — both ways.

Pure parsing and writing: no HTTP, no database. A reader turns a file into rows, each a GeoJSON Feature in the API's
shape (or the errors that keep it from being one); a writer turns Features as `Declaration.to_feature()` gives
them into a file. See docs/formats.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deconfliction.adapters.formats import csv_read, csv_write, geojson, gpx_read, gpx_write, kml_read, kml_write
from deconfliction.adapters.formats.detect import EXTENSIONS, FORMATS, MEDIA_TYPES, detect, sniff
from deconfliction.adapters.formats.rows import Defaults, FormatError, ReadResult, Row
from deconfliction.adapters.formats.rows import audience as audience_of

__all__ = ["EXTENSIONS", "FORMATS", "MEDIA_TYPES", "Defaults", "FormatError", "ReadResult", "Row", "audience_of",
           "detect", "read", "sniff", "write"]  # fmt: skip

_READERS: dict[str, Callable[[bytes, Defaults], ReadResult]] = {
    "geojson": geojson.read,
    "kml": kml_read.read,
    "gpx": gpx_read.read,
    "csv": csv_read.read,
}
_WRITERS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "geojson": geojson.write,
    "kml": kml_write.write,
    "gpx": gpx_write.write,
    "csv": csv_write.write,
}


def read(data: bytes, fmt: str, defaults: Defaults | None = None) -> ReadResult:
    """The rows of a file in `fmt`; FormatError (never another exception) when the file cannot be read."""
    if fmt not in _READERS:
        raise FormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        return _READERS[fmt](data, defaults or Defaults())
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(f"the {fmt} file nests too deeply") from None
    except Exception as exc:  # a parser's surprise is still the file's fault, and must not leak as a 500
        raise FormatError(f"the {fmt} file cannot be read: {type(exc).__name__}: {exc}") from None


def write(features: list[dict[str, Any]], fmt: str) -> bytes:
    """Features (as `Declaration.to_feature()` returns them) as a file in `fmt`."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown format {fmt!r}")
    return _WRITERS[fmt](features)
