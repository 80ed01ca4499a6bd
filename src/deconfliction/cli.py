"""The `deconf` command line: run the channel (`serve`, `demo`) and act on it over HTTP (`party`, `declare`, …)."""

from __future__ import annotations

import logging.config
import os
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer
import uvicorn
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deconfliction import __version__
from deconfliction.api.app import create_app
from deconfliction.api.logs import log_config
from deconfliction.bootstrap import WORKER_SETTINGS, Wired, wire, worker_settings
from deconfliction.cli_commands import (
    cancel_cmd,
    conflicts_cmd,
    declarations_cmd,
    declare_cmd,
    events_cmd,
    link_app,
    party_app,
)
from deconfliction.cli_cot import cert_app, cot_app
from deconfliction.cli_ledger import ledger_app, proof_app
from deconfliction.cli_messages import inbox_cmd, keygen_cmd, message_cmd, relay_app, send_cmd
from deconfliction.cli_mqtt import mqtt_app
from deconfliction.cli_receipts import ack_cmd, notifications_cmd, webhook_app
from deconfliction.cli_simulate import simulate_cmd
from deconfliction.cli_transfer import export_cmd, import_cmd
from deconfliction.config import SETTINGS, Settings, SettingsError, load_settings
from deconfliction.services.events import EventHub

console = Console()
err = Console(stderr=True)

app = typer.Typer(
    name="deconf",
    help="A deconfliction channel: parties declare where and when they operate (4D), are warned of conflicts "
    "both sides at once, and see only what they need to know.\n\n"
    "Run a channel with `deconf serve` (or `deconf demo` for the Deir ez-Zor scenario); act on it with the other "
    "commands, which talk to a server over HTTP (--url / DECONF_URL, --token / DECONF_TOKEN).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(party_app, name="party")
app.add_typer(link_app, name="link")
app.command("declare")(declare_cmd)
app.command("declarations")(declarations_cmd)
app.command("cancel")(cancel_cmd)
app.command("conflicts")(conflicts_cmd)
app.command("events")(events_cmd)
app.command("keygen")(keygen_cmd)
app.command("send")(send_cmd)
app.command("inbox")(inbox_cmd)
app.command("message")(message_cmd)
app.add_typer(relay_app, name="relay")
app.command("ack")(ack_cmd)
app.command("notifications")(notifications_cmd)
app.add_typer(webhook_app, name="webhook")
app.add_typer(ledger_app, name="ledger")
app.command("simulate")(simulate_cmd)
app.add_typer(cert_app, name="cert")
app.add_typer(cot_app, name="cot")
app.add_typer(mqtt_app, name="mqtt")
app.add_typer(proof_app, name="proof")
app.command("import")(import_cmd)
app.command("export")(export_cmd)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="A TOML settings file (also DECONF_CONFIG).")]


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config_file=config, overrides=overrides)
    except SettingsError as exc:
        err.print(f"[red]Settings error:[/red] {exc}")
        raise typer.Exit(2) from None


def _wire_with_progress(settings: Settings) -> Wired:
    with Progress(
        TextColumn("[bold]Loading the active picture"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("load", total=None)
        wired = wire(settings, on_loaded=lambda n: progress.update(task, completed=n, total=max(n, 1)))
    return wired


def _print_admin_token(token: str | None) -> None:
    if token:
        console.print(
            Panel(
                f"[bold]{token}[/bold]\n\nShown once: it is stored only as a hash. Keep it, or set "
                "DECONF_ADMIN_TOKEN to choose your own.",
                title="Admin token (generated)",
            )
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (DECONF_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (DECONF_PORT).")] = None,
    db: Annotated[str | None, typer.Option(help="SQLite database file (DECONF_DB).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes sharing the port and the channel (DECONF_WORKERS); see docs/scaling.md."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the channel's HTTP API. The admin token comes from DECONF_ADMIN_TOKEN, else is generated once.

    The database is the SQLite file `db`, or PostgreSQL when DECONF_DATABASE_URL is set. With --workers N, N
    processes serve one port and one channel; HTTPS directly with DECONF_TLS_CERTFILE and DECONF_TLS_KEYFILE."""
    settings = _settings(config, host=host, port=port, db=db, workers=workers)
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    wired = _wire_with_progress(settings)  # migrations, the admin token and the record's start happen here, once
    _print_admin_token(wired.generated_admin_token)
    scheme = "https" if settings.tls_certfile else "http"
    many = f" with {settings.workers} workers" if settings.workers > 1 else ""
    console.print(
        f"deconfliction {__version__}: serving {_database(settings)} on {scheme}://{settings.host}:"
        f"{settings.port}{many} ({len(wired.ctx.picture)} active declarations). API docs at /docs. Ctrl-C to stop."
    )
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level, settings.log_format),
        "access_log": False,  # deconfliction.access logs each request, with its id
        "timeout_graceful_shutdown": 5,
        # a worker loading a large picture is busy for a while: do not take it for hung and restart it
        "timeout_worker_healthcheck": 120,
        "ssl_certfile": settings.tls_certfile or None,
        "ssl_keyfile": settings.tls_keyfile or None,
        # slow and stuck clients: header timeout, header size, send stall (api/slow_clients.py); idle keep-alive
        "http": "deconfliction.api.slow_clients:GuardedHttpProtocol",
        "timeout_keep_alive": settings.http_keep_alive_s,
        "limit_concurrency": settings.max_connections,
    }
    if settings.workers == 1:
        application = create_app(settings, wired.ctx, wired.hub, wired.background, wired.dss_verifier)
        StreamClosingServer(uvicorn.Config(application, **options), wired.hub).run()  # type: ignore[arg-type]
        return
    # Each worker wires itself from the same settings (bootstrap.worker_app); this process only supervises them.
    wired.background.stop()
    wired.ctx.close()
    os.environ[WORKER_SETTINGS] = worker_settings(settings)
    uvicorn.run(
        "deconfliction.bootstrap:worker_app",
        factory=True,
        workers=settings.workers,
        **options,  # type: ignore[arg-type]
    )


class StreamClosingServer(uvicorn.Server):
    """On Ctrl-C or SIGTERM, end the live event streams first: otherwise an open stream holds the shutdown."""

    def __init__(self, config: uvicorn.Config, hub: EventHub) -> None:
        super().__init__(config)
        self.hub = hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.hub.close()
        super().handle_exit(sig, frame)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="TCP port to serve the demo on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    db: Annotated[
        str, typer.Option(help="SQLite file for the demo; it is reset on every run.")
    ] = ".demo/deconf-demo.db",
    once: Annotated[bool, typer.Option("--once", help="Load the scenario, print it, and stop.")] = False,
    moving_min: Annotated[
        float,
        typer.Option(
            help="Minutes the scenario's aircraft and convoys keep reporting their positions (every 2 s), so that "
            "the map shows them moving; 0 stops after the first reports."
        ),
    ] = 15.0,
) -> None:
    """Serve the Deir ez-Zor 2017 scenario: four parties, their links, areas and timed routes, and the
    conflicts the channel finds between them. Open the printed URL in a browser and sign in with a party's token
    to see its picture on the map. Keeps serving until Ctrl-C."""
    from deconfliction.demo import agree_line, load, move_tracks, relay_message, verify_ledger

    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    admin_token = os.environ.get("DECONF_ADMIN_TOKEN") or "demo-admin-" + os.urandom(8).hex()
    settings = load_settings(overrides={"db": db, "host": host, "port": port, "admin_token": admin_token}, env={})
    wired = wire(settings)
    server = StreamClosingServer(
        uvicorn.Config(
            create_app(settings, wired.ctx, wired.hub, wired.background, wired.dss_verifier),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        ),
        wired.hub,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            err.print(
                f"[red]The demo server did not start on {host}:{port}.[/red] Is the port taken? "
                "Try `deconf demo --port 8001`."
            )
            raise typer.Exit(1)
        time.sleep(0.05)
    url = f"http://{host}:{port}"
    loaded = load(url, admin_token)
    agree_line(url, loaded)
    relay_message(url, loaded)
    move_tracks(url, loaded)
    verify_ledger(url, loaded)
    _print_demo(url, admin_token, loaded)
    if once:
        wired.hub.close()
        server.should_exit = True
        thread.join(timeout=10)
        return
    if moving_min > 0:
        threading.Thread(target=_keep_moving, args=(url, loaded.tokens, moving_min), daemon=True).start()
    console.print(
        f"Serving until Ctrl-C. The map: [bold]{url}/[/bold] — sign in with a party token above"
        + (f"; the tracks move for {moving_min:g} min." if moving_min > 0 else ".")
    )
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)
    except KeyboardInterrupt:
        wired.hub.close()
        server.should_exit = True
        thread.join(timeout=10)


def _keep_moving(url: str, tokens: dict[str, str], minutes: float) -> None:
    """The scenario's movers report on (a thread of the demo): a failure ends the movement, never the demo."""
    from deconfliction.client import ApiError
    from deconfliction.simulate import DEIR_EZ_ZOR, run

    interval_s = 2.0
    try:
        for _ in run(url, tokens, DEIR_EZ_ZOR, ticks=max(1, int(minutes * 60 / interval_s)), interval_s=interval_s):
            pass
    except (ApiError, OSError, httpx.HTTPError) as exc:
        err.print(f"[yellow]The demo's tracks stopped moving:[/yellow] {exc}")


def _print_demo(url: str, admin_token: str, loaded: object) -> None:
    from deconfliction.demo import Loaded

    assert isinstance(loaded, Loaded)
    console.print(
        Panel(
            f"The map: [bold]{url}/[/bold] (sign in with a party token below)\n"
            f"API docs: {url}/docs\nadmin token: {admin_token}",
            title="Deir ez-Zor, September 2017 — the channel is live",
        )
    )
    tokens = Table(title="Party tokens (Authorization: Bearer …)")
    tokens.add_column("party")
    tokens.add_column("token")
    for party, token in loaded.tokens.items():
        tokens.add_row(party, token)
    console.print(tokens)
    table = Table(
        title="Conflicts found (2017): each told to both sides; neither learns the other's geometry",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for column in ("party", "with", "kind", "m/req", "when (UTC)", "status"):
        table.add_column(column, no_wrap=True)
    for party, conflicts in loaded.conflicts.items():
        for c in conflicts:
            start, end = c["time"]["start"], c["time"]["end"]
            when = _short_time(start) if start == end else f"{_short_time(start)}→{_short_time(end)}"
            table.add_row(
                party,
                c["other_party"],
                c["kind"],
                f"{c['distance_m']:.0f}/{c['required_m']:.0f}",
                when,
                c["status"],
            )
    console.print(table)
    _print_movement(loaded)
    _print_message_and_record(loaded)


def _print_movement(loaded: object) -> None:
    from deconfliction.demo import Loaded

    assert isinstance(loaded, Loaded)
    line = loaded.line
    if line:
        signed = "signed by both" if line.get("proposal_signature") and line.get("answer_signature") else "unsigned"
        console.print(
            f"Agreed line [bold]{line['id']}[/bold] (the Euphrates): {line['left']} keeps to its left bank, "
            f"{line['right']} to its right, tolerance {line['tolerance_m']:.0f} m — {line['status']}, {signed}. "
            "Declarations reaching across it are `line` conflicts above."
        )
    warnings = Table(title="Live tracks (deconf simulate): closest-point-of-approach warnings", box=box.SIMPLE)
    for column in ("track", "party", "with", "CPA m", "within m", "at (UTC)"):
        warnings.add_column(column)
    for w in loaded.warnings:
        when = (w["time"]["start"] or "")[11:19]
        warnings.add_row(
            w["track"], w["party"], w["other_party"], f"{w['distance_m']:.0f}", f"{w['required_m']:.0f}", when
        )
    console.print(warnings)


def _print_message_and_record(loaded: object) -> None:
    from deconfliction.demo import Loaded

    assert isinstance(loaded, Loaded)
    m = loaded.message
    hops = Table(
        title=f"Message {m['from']} → {m['to']}: “{m['subject']}” ({'signed' if m['signed'] else 'unsigned'})",
        box=box.SIMPLE,
        pad_edge=False,
    )
    for column in ("hop", "party", "status", "at (UTC)", "note"):
        hops.add_column(column)
    for i, hop in enumerate(m["hops"]):
        hops.add_row(str(i), hop["party"], hop["status"], (hop["at"] or "")[:19].replace("T", " "), hop["note"] or "")
    console.print(hops)
    ack = m["acknowledgement"]
    signed = "with a verified signature" if ack and ack["signed"] else "unsigned"
    console.print(
        f"Acknowledged by {m['to']} {signed} — acknowledgement means “received”, never “approved”. "
        f"Digest {m['digest'][:16]}…"
    )
    report = loaded.ledger
    if report is not None and report.ok:
        console.print(
            Panel(
                f"[bold green]verified[/bold green]: {report.entries} entries, hash chain intact, every server and "
                f"party signature checks.\nhead {report.head_hash}\nserver key {loaded.ledger_key}\n"
                "Check it yourself: deconf ledger export -o record.jsonl && deconf ledger verify record.jsonl --key …",
                title="The record",
            )
        )
    elif report is not None:
        console.print(Panel(f"[bold red]NOT verified[/bold red]: {report.failure}", title="The record"))


def _short_time(value: str | None) -> str:
    """`2017-09-09T05:00:00Z` → `09-09 05:00`: the demo's times all fall in 2017, said in the table's title."""
    return "open" if value is None else value[5:16].replace("T", " ")


@app.command("config")
def show_config(config: ConfigOpt = None) -> None:
    """Show every setting: its environment variable, default, current value and meaning."""
    settings = _settings(config)
    table = Table(title="Settings (TOML file < environment < command-line options)")
    for column in ("name", "environment", "default", "value", "meaning"):
        table.add_column(column)
    for s in SETTINGS:
        value = getattr(settings, s.name)
        shown = "(set)" if s.name == "admin_token" and value else repr(_without_password(s.name, value))
        table.add_row(s.name, s.env, repr(s.default), shown, s.help)
    console.print(table)


def _database(settings: Settings) -> str:
    """Where the channel is kept, fit to print: the SQLite file, or the PostgreSQL URL without its password."""
    return str(_without_password("database_url", settings.database_url)) if settings.database_url else settings.db


def _without_password(name: str, value: object) -> object:
    """A URL setting shown without the password it may carry (mqtt://user:secret@host → mqtt://user:***@host)."""
    if name.endswith("_url") and isinstance(value, str) and "@" in value and "://" in value:
        scheme, _, rest = value.partition("://")
        creds, _, host = rest.rpartition("@")
        user = creds.partition(":")[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else value
    return value


def _sqlite_only(settings: Settings, what: str) -> Settings:
    if settings.database_url:
        err.print(
            f"[red]The channel is in PostgreSQL[/red] ({_database(settings)}): `deconf {what}` copies SQLite files. "
            "Use pg_dump / pg_restore (see docs/operations.md#backups)."
        )
        raise typer.Exit(2)
    return settings


@app.command("backup")
def backup_cmd(
    target: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the copy (must not exist).")],
    db: Annotated[str | None, typer.Option(help="The channel's SQLite file (DECONF_DB).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Copy the channel's database with SQLite's online backup — consistent while the server runs. The ledger key
    file (`ledger_key_file`) is a secret and is not copied: keep it apart, and safe."""
    from deconfliction.bootstrap import backup

    settings = _sqlite_only(_settings(config, db=db), "backup")
    if target.exists():
        err.print(f"[red]{target} exists already.[/red] Choose a new file: a backup never overwrites one.")
        raise typer.Exit(2)
    try:
        version = backup(settings, target)
    except FileNotFoundError as exc:
        err.print(f"[red]{exc}.[/red] Pass --db, or set DECONF_DB.")
        raise typer.Exit(2) from None
    console.print(f"backed up {settings.db} to {target} (schema version {version})")


@app.command("restore")
def restore_cmd(
    source: Annotated[Path, typer.Argument(metavar="FILE", help="A file made by `deconf backup`.")],
    db: Annotated[str | None, typer.Option(help="The channel's SQLite file to replace (DECONF_DB).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing database.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Make a backup the channel's database, after SQLite's integrity check. Stop the server first. Keep the
    ledger key file that signed it: the restored record verifies with that key, and goes on under it."""
    from deconfliction.bootstrap import restore

    settings = _sqlite_only(_settings(config, db=db), "restore")
    if not source.exists():
        err.print(f"[red]{source} does not exist.[/red]")
        raise typer.Exit(2)
    if Path(settings.db).exists() and not force:
        err.print(f"[red]{settings.db} exists.[/red] Stop the server, then add --force to replace it.")
        raise typer.Exit(2)
    try:
        entries = restore(settings, source)
    except ValueError as exc:
        err.print(f"[red]Not restored:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"restored {source} to {settings.db}: {entries} entries in the record")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)
