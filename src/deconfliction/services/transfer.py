"""Import and export of declarations in the formats people keep them in (GeoJSON, KML, GPX, CSV).

An import is one atomic write: every row is validated first, in the caller's thread; if any row fails, the caller
gets every row's error and nothing is written. Otherwise one job on the single writer declares them all; if that
job fails part-way (a party named in an audience withdrawn meanwhile), the writer undoes it whole — declarations,
conflicts, events, ledger entries and the picture alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deconfliction.adapters import formats
from deconfliction.domain.errors import DomainError, InvalidInput
from deconfliction.services import views
from deconfliction.services.context import Context
from deconfliction.services.declarations import Written, declare_job, list_visible
from deconfliction.services.writer import Outbox
from deconfliction.storage.base import Box, DeclarationQuery, Tx

Job = Callable[[Outbox], Written]
_EXPORT_PAGE = 1_000


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it came: its bytes, and what the caller said of it."""

    data: bytes
    format: str = "auto"
    filename: str | None = None
    content_type: str | None = None


@dataclass(slots=True)
class Checked:
    """An import validated, not yet written: one job per valid row, and every row's errors."""

    format: str
    rows: list[formats.Row]
    jobs: list[tuple[int, Job]] = field(default_factory=list)  # (row index, declare job)
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def bad_rows(self) -> set[int]:
        """Indexes of the rows with an error."""
        return {_index(e["field"]) for e in self.errors}


def _index(field_path: str) -> int:
    """`rows[12].properties.start` → 12."""
    return int(field_path[5:].split("]", 1)[0])


@dataclass(frozen=True, slots=True)
class Imported:
    row: str
    written: Written


def _error(index: int, row: formats.Row, where: str, message: str) -> dict[str, str]:
    path = f"rows[{index}]" + (f".{where}" if where else "")
    return {"field": path, "message": f"{row.label}: {message}", "row": row.label}


def _read(upload: Upload, defaults: formats.Defaults, rows_max: int) -> tuple[str, formats.ReadResult]:
    fmt = formats.detect(
        upload.data, declared=upload.format, content_type=upload.content_type, filename=upload.filename
    )
    if fmt is None:
        raise InvalidInput(
            "cannot tell the file's format: pass format=geojson|kml|gpx|csv, a Content-Type or a file name",
            field="format",
        )
    if not upload.data.strip():
        raise InvalidInput("the file is empty", field="file")
    try:
        result = formats.read(upload.data, fmt, defaults)
    except formats.FormatError as exc:
        raise InvalidInput(str(exc), field="file") from None
    if not result.rows:
        raise InvalidInput(f"the {fmt} file holds no declarations", field="file")
    if len(result.rows) > rows_max:
        raise InvalidInput(
            f"the file holds {len(result.rows)} declarations; one import takes at most {rows_max} "
            "(setting import_rows_max): split it",
            field="file",
        )
    return fmt, result


def check(ctx: Context, party: str, upload: Upload, defaults: formats.Defaults, rows_max: int) -> Checked:
    """Read the file and validate every row (each through the same parse as POST /v1/declarations)."""
    fmt, result = _read(upload, defaults, rows_max)
    checked = Checked(fmt, result.rows, warnings=result.warnings)
    for index, row in enumerate(result.rows):
        if row.feature is None:
            checked.errors.extend(_error(index, row, where, message) for where, message in row.errors)
            continue
        try:
            checked.jobs.append((index, declare_job(ctx, party, row.feature)))
        except DomainError as exc:
            checked.errors.append(_error(index, row, exc.field or "", exc.detail))
    with ctx.store.read() as tx:
        checked.errors.extend(_unknown_audiences(tx, checked))
    checked.errors.sort(key=lambda e: _index(e["field"]))
    return checked


def _unknown_audiences(tx: Tx, checked: Checked) -> list[dict[str, str]]:
    """Rows whose audience names a party the channel does not have (checked again inside the write job)."""
    known = {p.id for p in tx.list_parties()}
    errors = []
    for index, _ in checked.jobs:
        row = checked.rows[index]
        audience = (row.feature or {}).get("properties", {}).get("audience")
        if isinstance(audience, list):
            for name in sorted({a for a in audience if a not in known}):
                message = f"properties.audience names {name!r}, which is not a party of the channel"
                errors.append(_error(index, row, "properties.audience", message))
    return errors


def refuse(checked: Checked) -> InvalidInput:
    """The error of an import with bad rows: every row's error, nothing written."""
    bad = len(checked.bad_rows())
    first = checked.errors[0]
    return InvalidInput(
        f"{bad} of {len(checked.rows)} rows are invalid; nothing was imported. First: {first['message']}",
        field=first["field"],
        errors=checked.errors,
    )


def all_or_nothing(rows: Sequence[formats.Row], jobs: Sequence[tuple[int, Job]]) -> Callable[[Outbox], list[Imported]]:
    """One write job made of many declare jobs: any failure fails it whole, and the writer undoes all of it."""

    def job(out: Outbox) -> list[Imported]:
        done = []
        for index, declare in jobs:
            row = rows[index]
            try:
                done.append(Imported(row.label, declare(out)))
            except DomainError as exc:
                error = _error(index, row, exc.field or "", exc.detail)
                raise InvalidInput(
                    f"{error['message']}; nothing was imported", field=error["field"], errors=[error]
                ) from exc
        return done

    return job


def import_job(checked: Checked) -> Callable[[Outbox], list[Imported]]:
    """The write job of a checked import; refuses it whole if it has errors (or gains some on the writer)."""
    if checked.errors:
        raise refuse(checked)
    write_all = all_or_nothing(checked.rows, checked.jobs)

    def job(out: Outbox) -> list[Imported]:
        late = _unknown_audiences(out.tx, checked)  # parties may have changed since the check
        if late:
            checked.errors = late
            raise refuse(checked)
        return write_all(out)

    return job


def import_file(ctx: Context, party: str, upload: Upload, defaults: formats.Defaults, rows_max: int) -> list[Imported]:
    """Check and write, synchronously (the CLI's and tests' way; the API awaits the same job)."""
    return ctx.write(import_job(check(ctx, party, upload, defaults, rows_max)))


@dataclass(frozen=True, slots=True)
class Exported:
    content: bytes
    media_type: str
    filename: str
    count: int


def visible_features(ctx: Context, viewer: str, status: str | None, boxes: Sequence[Box]) -> list[dict[str, Any]]:
    """Every declaration the viewer may see (as GET /v1/declarations), all pages."""
    features: list[dict[str, Any]] = []
    after = 0
    while True:
        query = DeclarationQuery(viewer=viewer, boxes=boxes, status=status, after_key=after, limit=_EXPORT_PAGE)
        page = list_visible(ctx, query)
        features.extend(f for _, f in page)
        if len(page) < _EXPORT_PAGE:
            return features
        after = page[-1][0]


def export(ctx: Context, viewer: str, fmt: str, status: str | None, boxes: Sequence[Box]) -> Exported:
    """The viewer's picture as a file; its reads of others' declarations recorded (via "export") first."""
    if fmt not in formats.FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(formats.FORMATS)}", field="format")
    features = visible_features(ctx, viewer, status, boxes)
    views.record(ctx, viewer, views.others(viewer, features), "export")
    stamp = _stamp(ctx.clock())
    return Exported(
        content=formats.write(features, fmt),
        media_type=formats.MEDIA_TYPES[fmt],
        filename=f"deconf-{viewer}-{stamp}.{formats.EXTENSIONS[fmt]}",
        count=len(features),
    )


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%SZ")
