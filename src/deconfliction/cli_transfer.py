"""`deconf import` and `deconf export`: declarations from and to GeoJSON, KML/KMZ, GPX and CSV files, over HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from deconfliction.cli_commands import DEFAULT_URL, TokenOpt, UrlOpt
from deconfliction.client import Client

console = Console()
err = Console(stderr=True)

FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="auto (from the file name and content), geojson, kml, gpx or csv")
]


def _client(url: str, token: str) -> Client:
    if not token:
        err.print("[red]No token.[/red] Pass --token or set DECONF_TOKEN (a party's token).")
        raise typer.Exit(2)
    return Client(url, token, timeout_s=120.0)


def _send(client: Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.http.request(method, path, **kwargs)
    except httpx.TransportError:
        err.print(f"[red]Cannot connect[/red]: no server answers at {client.http.base_url}; pass --url")
        raise typer.Exit(1) from None


def _problem(response: httpx.Response) -> None:
    """Print a Problem Details answer, every row's error included, and exit 1."""
    try:
        body = response.json()
    except ValueError:
        body = {"title": response.reason_phrase, "detail": response.text}
    err.print(f"[red]{response.status_code} {body.get('title', '')}[/red]: {body.get('detail', '')}")
    _errors_table(body.get("errors") or [])
    raise typer.Exit(1)


def _errors_table(errors: list[dict[str, str]]) -> None:
    if errors:
        table = Table("row", "field", "error", title="Rows in error (nothing was imported)")
        for e in errors:
            table.add_row(e.get("row", ""), e.get("field", ""), e.get("message", ""))
        err.print(table)


def import_cmd(
    file: Annotated[
        Path, typer.Argument(help="A .geojson, .kml, .kmz, .gpx or .csv file", exists=True, dir_okay=False)
    ],
    format_: FormatOpt = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report; write nothing")] = False,
    kind: Annotated[str | None, typer.Option(help="For rows without one: site, area or route")] = None,
    start: Annotated[str | None, typer.Option(help="RFC 3339, for rows without a start")] = None,
    end: Annotated[str | None, typer.Option(help="RFC 3339, for rows without an end")] = None,
    radius_m: Annotated[float | None, typer.Option("--radius-m", help="For rows without a radius")] = None,
    audience: Annotated[str | None, typer.Option(help="For rows without one: all, conflicts or a;b")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Import declarations from a file: every row or none (exit 1 listing each bad row)."""
    params: dict[str, Any] = {"format": format_, "dry_run": str(dry_run).lower()}
    for name, value in (("kind", kind), ("start", start), ("end", end), ("radius_m", radius_m), ("audience", audience)):
        if value is not None:
            params[name] = value
    with _client(url, token) as client:
        files = {"file": (file.name, file.read_bytes(), "application/octet-stream")}
        response = _send(client, "POST", "/v1/imports", params=params, files=files)
    if response.status_code >= 400:
        _problem(response)
    body = response.json()
    if dry_run:
        _print_preview(body)
        if body["errors"]:
            raise typer.Exit(1)
        return
    table = Table("row", "id", "name", "kind", "conflicts", title=f"Imported {body['imported']} ({body['format']})")
    for d in body["declarations"]:
        table.add_row(d["row"], d["id"], d["name"], d["kind"], str(len(d["conflicts"])))
    console.print(table)
    for warning in body.get("warnings", []):
        err.print(f"[yellow]note[/yellow]: {warning}")


def _print_preview(body: dict[str, Any]) -> None:
    table = Table("row", "name", "kind", "geometry", title=f"Dry run: {body['valid']} valid ({body['format']})")
    for r in body["rows"]:
        table.add_row(r["row"], r["name"], str(r["kind"]), r["feature"]["geometry"]["type"])
    console.print(table)
    _errors_table(body["errors"])
    for warning in body.get("warnings", []):
        err.print(f"[yellow]note[/yellow]: {warning}")


def export_cmd(
    format_: Annotated[str, typer.Option("--format", "-f", help="geojson, kml, gpx or csv")] = "kml",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: the server's name")
    ] = None,
    status: Annotated[str, typer.Option(help="active or all (cancelled ones too)")] = "active",
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Export what you may see — your declarations and others' shared with you — to a file (Google Earth: kml)."""
    params = {"format": format_, "status": status, **({"bbox": bbox} if bbox else {})}
    with _client(url, token) as client:
        response = _send(client, "GET", "/v1/export", params=params)
    if response.status_code >= 400:
        _problem(response)
    if output is None:
        found = re.search(r'filename="([^"/\\]+)"', response.headers.get("content-disposition", ""))
        output = Path(found.group(1) if found else f"deconf-export.{format_}")
    output.write_bytes(response.content)
    count = response.headers.get("x-deconf-count", "?")
    console.print(f"wrote {count} declarations to [bold]{output}[/bold]")
