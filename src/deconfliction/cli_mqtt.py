"""CLI commands for live tracks over MQTT: `deconf mqtt secret|status|publish`.

`publish` signs on the caller's machine with the party's MQTT secret and speaks to the broker directly: the server
is not involved, exactly as with any other publisher of the party's.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from deconfliction.adapters.mqtt import publish
from deconfliction.cli_commands import DEFAULT_URL, TokenOpt, UrlOpt, _call, console, err
from deconfliction.domain.timewindow import format_time, utcnow
from deconfliction.domain.track_auth import sign, topic_for

mqtt_app = typer.Typer(
    help="Live tracks over MQTT: your signing secret, the subscriber's counts, and publishing signed reports.",
    no_args_is_help=True,
)
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


@mqtt_app.command("secret")
def mqtt_secret(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the secret (for scripts)")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Get a new MQTT signing secret for your party (shown once). Your previous secret stops working at once."""
    issued = _call(url, token, "POST", "/v1/mqtt/secret")
    if not quiet:
        console.print(
            f"MQTT signing secret of [bold]{issued['party']}[/bold] (shown once; any previous one no longer works). "
            f"Publish on {issued['topic']}"
            + ("" if issued["enabled"] else " — note: this server has no MQTT broker configured yet")
            + ":"
        )
    print(issued["secret"])


@mqtt_app.command("status")
def mqtt_status(url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """Show the MQTT subscriber's connection and what became of the payloads (yours; all of them for the admin)."""
    found = _call(url, token, "GET", "/v1/mqtt/status")
    if not found["enabled"]:
        console.print("MQTT is off on this server (setting mqtt_url)")
        return
    state = "connected" if found["connected"] else "NOT connected"
    console.print(f"{found.get('broker', 'broker')}: {state}; topic {found['topic']}")
    if found.get("last_error"):
        console.print(f"last error: {found['last_error']}")
    if "secret_created_at" in found:
        console.print(f"your secret: {found['secret_created_at'] or 'none yet (deconf mqtt secret)'}")
    table = Table("payloads", "count")
    table.add_row("received", str(found["received"]))
    table.add_row("accepted", str(found["accepted"]))
    for reason, count in found["dropped"].items():
        if count:
            table.add_row(f"dropped: {reason}", str(count))
    console.print(table)


@mqtt_app.command("publish")
def mqtt_publish(
    track_id: Annotated[str, typer.Argument(metavar="TRACK_ID", help="Your id of the track, e.g. boat-7")],
    lon: Annotated[float, typer.Option(help="Longitude, degrees (WGS84)")],
    lat: Annotated[float, typer.Option(help="Latitude, degrees (WGS84)")],
    alt_m: Annotated[float | None, typer.Option(help="Altitude, metres")] = None,
    speed_mps: Annotated[float | None, typer.Option(help="Speed over ground, m/s")] = None,
    course_deg: Annotated[float | None, typer.Option(help="Course, degrees clockwise from true north")] = None,
    separation_m: Annotated[float | None, typer.Option(help="Separation this track requires, metres")] = None,
    t: Annotated[str | None, typer.Option("--t", help="Time of the position, RFC 3339; default: now")] = None,
    party: Annotated[str, typer.Option(envvar="DECONF_PARTY", help="Your party's id (DECONF_PARTY)")] = "",
    secret: Annotated[
        str, typer.Option(envvar="DECONF_MQTT_SECRET", help="Your MQTT signing secret (DECONF_MQTT_SECRET)")
    ] = "",
    broker: Annotated[
        str, typer.Option(envvar="DECONF_MQTT_URL", help="The broker (DECONF_MQTT_URL)")
    ] = DEFAULT_BROKER,
    prefix: Annotated[
        str, typer.Option(envvar="DECONF_MQTT_TOPIC_PREFIX", help="Topic prefix (DECONF_MQTT_TOPIC_PREFIX)")
    ] = "deconf",
) -> None:
    """Publish one signed position report of TRACK_ID to the broker, as any publisher of your party would."""
    if not party or not secret:
        err.print("[red]Pass --party and --secret[/red] (or set DECONF_PARTY and DECONF_MQTT_SECRET).")
        raise typer.Exit(2)
    report: dict[str, Any] = {"t": t or format_time(utcnow()), "lon": lon, "lat": lat}
    extra = {"alt_m": alt_m, "speed_mps": speed_mps, "course_deg": course_deg, "separation_m": separation_m}
    report.update({k: v for k, v in extra.items() if v is not None})
    topic = topic_for(prefix, party, track_id)
    payload = sign(secret, party, track_id, [report], int(time.time()))
    try:
        publish(broker, topic, json.dumps(payload).encode())
    except (ConnectionError, TimeoutError, ValueError) as exc:
        err.print(f"[red]Not published:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"published to {topic} (nonce {payload['nonce']}); `deconf mqtt status` shows what became of it")
