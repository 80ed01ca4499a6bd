"""CSV of sites, as spreadsheets keep them: lat/lon columns (or WKT, or GeoJSON text), one declaration a row."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from deconfliction.adapters.formats import wkt
from deconfliction.adapters.formats.rows import (
    ALIASES,
    Defaults,
    FormatError,
    ReadResult,
    Row,
    finish,
    fold,
    from_text,
    number,
)

_DELIMITERS = (",", ";", "\t")


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM); else Windows-1252, as Excel saves CSV on Windows."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), ["the file is not UTF-8: read as Windows-1252"]


def _delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(_DELIMITERS, key=header.count)


def _columns(header: list[str]) -> dict[str, int]:
    """Canonical name → column index; FormatError when a place cannot be had or a column repeats."""
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        canonical = ALIASES.get(fold(name))
        if canonical is None:
            continue
        if canonical in found:
            raise FormatError(f"columns {header[found[canonical]]!r} and {name!r} both give {canonical}")
        found[canonical] = i
    if not ({"lat", "lon"} <= found.keys() or "wkt" in found or "geometry" in found):
        raise FormatError(
            "no place columns: give latitude and longitude (lat/lon, lng, x/y), or a wkt or geometry column; "
            f"the header is {', '.join(header)}"
        )
    return found


def _geometry(cells: dict[str, str], decimal_comma: bool) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    if cells.get("wkt", "").strip():
        try:
            return wkt.loads(cells["wkt"]), None
        except ValueError as exc:
            return None, ("wkt", f"column wkt: {exc}")
    if cells.get("geometry", "").strip():
        try:
            value = json.loads(cells["geometry"])
        except json.JSONDecodeError as exc:
            return None, ("geometry", f"column geometry is not GeoJSON: {exc}")
        return value, None
    place: list[float] = []
    for axis in ("lon", "lat"):
        text = cells.get(axis, "").strip()
        if not text:
            return None, (axis, f"{axis} is empty (and there is no wkt or geometry)")
        try:
            place.append(number(text, decimal_comma))
        except ValueError:
            return None, (axis, f"{axis} {text!r} is not a number")
    return {"type": "Point", "coordinates": place}, None


def read(data: bytes, defaults: Defaults) -> ReadResult:
    text, warnings = decode(data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError("the CSV file is empty") from None
    except csv.Error as exc:
        raise FormatError(f"the CSV file cannot be read: {exc}") from None
    columns = _columns(header)
    unknown = [h for h in header if fold(h) not in ALIASES and h.strip()]
    result = ReadResult(warnings=warnings)
    if unknown:
        result.warnings.append(f"columns ignored: {', '.join(unknown)}")
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            result.rows.append(_row(f"line {reader.line_num}", header, cells, columns, defaults, delimiter != ","))
    except csv.Error as exc:
        raise FormatError(f"the CSV file cannot be read at line {reader.line_num}: {exc}") from None
    return result


def _row(label: str, header: list[str], cells: list[str], columns: dict[str, int], defaults: Defaults,
         decimal_comma: bool) -> Row:  # fmt: skip
    by_name = {name: cells[i] if i < len(cells) else "" for name, i in columns.items()}
    geometry, problem = _geometry(by_name, decimal_comma)
    pairs = [(header[i], cells[i]) for i in range(min(len(header), len(cells)))]
    props, _, errors = from_text(pairs, decimal_comma)
    if problem is not None:
        errors.insert(0, problem)
    if errors:
        return Row(label, None, tuple(errors))
    return finish(label, geometry, props, defaults)
