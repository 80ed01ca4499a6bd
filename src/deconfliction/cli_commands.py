"""CLI commands that act on a running channel over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from deconfliction.client import ApiError, Client

console = Console()
err = Console(stderr=True)

UrlOpt = Annotated[str, typer.Option("--url", envvar="DECONF_URL", help="The channel's base URL (DECONF_URL).")]
TokenOpt = Annotated[
    str,
    typer.Option("--token", envvar="DECONF_TOKEN", help="Your bearer token: a party's, or the admin's (DECONF_TOKEN)."),
]
DEFAULT_URL = "http://127.0.0.1:8000"

party_app = typer.Typer(help="Register parties and change their status (admin token).", no_args_is_help=True)
link_app = typer.Typer(help="Link parties: who can pass messages to whom (admin token).", no_args_is_help=True)


def _call(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    if not token:
        err.print(
            "[red]No token.[/red] Pass --token or set DECONF_TOKEN (the admin token comes from "
            "DECONF_ADMIN_TOKEN or was printed when the server first started)."
        )
        raise typer.Exit(2)
    try:
        with Client(url, token) as client:
            return client.request(method, path, **kwargs)
    except ApiError as exc:
        err.print(f"[red]{exc.status} {exc.title}[/red]: {exc.detail}")
        raise typer.Exit(1) from None


@party_app.command("add")
def party_add(
    party_id: Annotated[str, typer.Argument(metavar="ID", help="Short lowercase id, e.g. sdf")],
    name: Annotated[str, typer.Argument(help="Full name")],
    public_key: Annotated[str | None, typer.Option(help="Raw Ed25519 public key, base64")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the token (for scripts)")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Register a party and print its token (shown once)."""
    body = {"id": party_id, "name": name, "public_key": public_key}
    created = _call(url, token, "POST", "/v1/parties", json=body)
    if not quiet:
        console.print(f"party [bold]{created['id']}[/bold] registered; its token (shown once):")
    print(created["token"])


@party_app.command("list")
def party_list(url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """List the parties of the channel."""
    table = Table("id", "name", "status")
    for p in _call(url, token, "GET", "/v1/parties"):
        table.add_row(p["id"], p["name"], p["status"])
    console.print(table)


@party_app.command("set-status")
def party_set_status(
    party_id: Annotated[str, typer.Argument(metavar="ID")],
    status: Annotated[str, typer.Argument(help="active, suspended or withdrawn")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Set a party's status: active, suspended (reads only) or withdrawn (token stops working)."""
    p = _call(url, token, "PATCH", f"/v1/parties/{party_id}", json={"status": status})
    console.print(f"party {p['id']} is now {p['status']}")


@party_app.command("token")
def party_token(
    party_id: Annotated[str, typer.Argument(metavar="ID")], url: UrlOpt = DEFAULT_URL, token: TokenOpt = ""
) -> None:
    """Issue another token for a party (shown once)."""
    console.print(_call(url, token, "POST", f"/v1/parties/{party_id}/tokens")["token"])


@link_app.command("add")
def link_add(
    a: Annotated[str, typer.Argument(help="One party")],
    b: Annotated[str, typer.Argument(help="The other party")],
    relay: Annotated[str, typer.Option(help="auto: forward at once; review: a person reviews what passes")] = "auto",
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Link two parties (undirected)."""
    link = _call(url, token, "POST", "/v1/links", json={"a": a, "b": b, "relay": relay})
    console.print(f"linked {link['a']} — {link['b']} ({link['relay']})")


@link_app.command("list")
def link_list(url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """List links."""
    table = Table("a", "b", "relay")
    for link in _call(url, token, "GET", "/v1/links"):
        table.add_row(link["a"], link["b"], link["relay"])
    console.print(table)


def _features(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        err.print(f"[red]{path} does not exist.[/red]")
        raise typer.Exit(2) from None
    except json.JSONDecodeError as exc:
        err.print(f"[red]{path} is not valid JSON:[/red] {exc}")
        raise typer.Exit(2) from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return list(data.get("features", []))
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    err.print(f"[red]{path} holds neither a GeoJSON Feature nor a FeatureCollection.[/red]")
    raise typer.Exit(2)


def declare_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE.geojson", help="A Feature or FeatureCollection")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Declare the features of a GeoJSON file (each needs properties kind and start) and show the conflicts."""
    features = _features(file)
    results = []
    failures = 0
    with Progress(TextColumn("declaring"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as progress:
        task = progress.add_task("declare", total=len(features))
        with Client(url, token) as client:
            for i, feature in enumerate(features):
                try:
                    results.append(client.post("/v1/declarations", feature))
                except ApiError as exc:
                    failures += 1
                    err.print(f"[red]feature {i}:[/red] {exc.status} {exc.detail}")
                progress.advance(task)
    for r in results:
        console.print(f"declared [bold]{r['id']}[/bold] (version {r['version']}): {len(r['conflicts'])} conflicts")
        _conflict_table(r["conflicts"])
    if failures:
        raise typer.Exit(1)


def _conflict_table(conflicts: list[dict[str, Any]]) -> None:
    if not conflicts:
        return
    table = Table("id", "with", "distance m", "required m", "from", "to", "status")
    for c in conflicts:
        table.add_row(
            c["id"][:8],  # like git: a unique prefix is enough for --ack
            c["other_party"],
            f"{c['distance_m']:.0f}",
            f"{c['required_m']:.0f}",
            c["time"]["start"],
            c["time"]["end"] or "open",
            c["status"],
        )
    console.print(table)


def declarations_cmd(
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """List the declarations you may see (yours and those shared with you)."""
    params = {"bbox": bbox} if bbox else {}
    collection = _call(url, token, "GET", "/v1/declarations", params=params)
    table = Table("id", "party", "kind", "name", "start", "end")
    for f in collection["features"]:
        p = f["properties"]
        table.add_row(f["id"][:8], p["party"], p["kind"], p["name"], p["start"], p["end"] or "open")
    console.print(table)


def cancel_cmd(
    declaration: Annotated[str, typer.Argument(metavar="ID", help="Your declaration's id, or a unique prefix")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Cancel one of your declarations: it stays in the record, no longer active; its conflicts resolve."""
    features = _call(url, token, "GET", "/v1/declarations", params={"limit": 1000})["features"]
    full = _unique(declaration, [f["id"] for f in features], "active declarations you may see", "deconf declarations")
    _call(url, token, "DELETE", f"/v1/declarations/{full}")
    console.print(f"declaration {full} cancelled")


def events_cmd(
    after: Annotated[
        int | None,
        typer.Option(help="Replay the events after this id first (0: all of them); without it, from now on"),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Follow your live events (conflicts opened, acknowledged, resolved; declarations shared) until Ctrl-C."""
    try:
        with Client(url, token, timeout_s=None) as client:
            for event in client.events(after):
                data = event["data"]
                about = data.get("other_party") or data.get("party") or data.get("id") or ""
                console.print(f"{event['id']:>6}  {event['at']}  [bold]{event['type']}[/bold]  {about}")
                console.file.flush()  # each event as it comes, also through a pipe
    except ApiError as exc:
        err.print(f"[red]{exc.status} {exc.title}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        return


def conflicts_cmd(
    status: Annotated[str | None, typer.Option(help="open, acknowledged or resolved")] = None,
    ack: Annotated[
        str | None, typer.Option(help='Acknowledge this conflict ("we have seen it"): its id or a unique prefix')
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """List your conflicts, newest first — or acknowledge one with --ack ID (a unique prefix is enough)."""
    if ack:
        c = _call(url, token, "POST", f"/v1/conflicts/{_conflict_id(url, token, ack)}/ack")
        console.print(f"conflict {c['id']} acknowledged (seen — not approved)")
        return
    params = {"status": status} if status else {}
    conflicts = _call(url, token, "GET", "/v1/conflicts", params=params)
    if not conflicts:
        console.print("no conflicts")
    _conflict_table(conflicts)


def _conflict_id(url: str, token: str, given: str) -> str:
    """A full conflict id from a unique prefix of one of the caller's conflicts."""
    if len(given) >= 36:
        return given
    ids = [c["id"] for c in _call(url, token, "GET", "/v1/conflicts")]
    return _unique(given, ids, "your conflicts", "deconf conflicts")


def _unique(given: str, ids: list[str], among: str, listing: str) -> str:
    """The one id that starts with `given` (like git's short hashes), or exit saying what to do."""
    if len(given) >= 36:
        return given
    matches = [i for i in ids if i.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        err.print(f"[red]None of {among} has an id starting with {given!r}.[/red] See `{listing}`.")
    else:
        err.print(f"[red]{given!r} starts {len(matches)} ids;[/red] give more characters.")
    raise typer.Exit(1)
