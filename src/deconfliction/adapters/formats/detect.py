"""Which format a file is in: from what the caller says, its Content-Type, its name, or its first bytes."""

from __future__ import annotations

import re

FORMATS = ("geojson", "kml", "gpx", "csv")
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "gpx": "application/gpx+xml",
    "csv": "text/csv",
}
EXTENSIONS = {"geojson": "geojson", "kml": "kml", "gpx": "gpx", "csv": "csv"}
_BY_MEDIA = {
    **{media: fmt for fmt, media in MEDIA_TYPES.items()},
    "application/json": "geojson",
    "application/vnd.geo+json": "geojson",
    "application/vnd.google-earth.kmz": "kml",
    "text/tab-separated-values": "csv",
    "application/csv": "csv",
    "application/vnd.ms-excel": "csv",  # what browsers on Windows call a .csv
}
_BY_SUFFIX = {"geojson": "geojson", "json": "geojson", "kml": "kml", "kmz": "kml", "gpx": "gpx", "csv": "csv",
              "tsv": "csv", "txt": "csv"}  # fmt: skip
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(kml|gpx)[\s>/]")


def sniff(data: bytes) -> str | None:
    """The format the first bytes show, if any."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK\x03\x04"):
        return "kml"  # a zip: KMZ
    if head[:1] in (b"{", b"["):
        return "geojson"
    if head.startswith(b"<"):
        found = _ROOT.search(head)
        return None if found is None else found.group(1).decode()
    first = head.split(b"\n", 1)[0]
    return "csv" if any(d in first for d in (b",", b";", b"\t")) else None


def detect(data: bytes, *, declared: str | None = None, content_type: str | None = None,
           filename: str | None = None) -> str | None:  # fmt: skip
    """geojson, kml, gpx or csv; None when nothing tells."""
    if declared and declared != "auto":
        return declared if declared in FORMATS else None
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _BY_MEDIA:
        return _BY_MEDIA[media]
    if filename and "." in filename:
        suffix = filename.rsplit(".", 1)[-1].lower()
        if suffix in _BY_SUFFIX:
            return _BY_SUFFIX[suffix]
    return sniff(data)
