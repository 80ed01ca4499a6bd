"""CLI for TAK clients: `deconf cert issue PARTY` (a client certificate from the channel's CA) and
`deconf cot export` (the caller's picture as Cursor-on-Target XML)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer

from deconfliction.adapters.certs import CLIENT_DAYS, ensure_authority, issue_client, write_bundle
from deconfliction.adapters.cot_server import tak_dir
from deconfliction.cli_commands import DEFAULT_URL, TokenOpt, UrlOpt, console, err
from deconfliction.config import SettingsError, load_settings
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.parties import check_party_id

cert_app = typer.Typer(
    help="Client certificates for TAK clients, issued by the channel's CA (mutual TLS on the CoT listener). "
    "Run on the server's host: the CA lives beside the database.",
    no_args_is_help=True,
)
cot_app = typer.Typer(help="Cursor-on-Target (TAK): the channel's picture as CoT XML.", no_args_is_help=True)


@cert_app.command("issue")
def cert_issue(
    party: Annotated[str, typer.Argument(metavar="PARTY", help="The party id: the certificate's common name.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder to write the files into (default: ./tak-PARTY).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days the certificate is valid.")] = CLIENT_DAYS,
    p12_password: Annotated[
        str | None,
        typer.Option("--p12-password", help="Password of the .p12 files (default: a random one, printed)."),
    ] = None,
    db: Annotated[str | None, typer.Option(help="The server's database; its CA is '<db>.tak/' (DECONF_DB).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="A TOML settings file (DECONF_CONFIG).")] = None,
) -> None:
    """Issue PARTY a client certificate: writes its key and certificate (PEM and .p12) and the CA certificate.

    The CA is created on first use, beside the database (or in `tak_dir`).

    A TAK client imports PARTY.p12 (its identity) and truststore.p12 (the CA); pytak takes the PEM files.

    Whoever holds the key speaks as PARTY on the CoT listener, until the party is suspended or withdrawn.
    """
    try:
        check_party_id(party, "PARTY")
        settings = load_settings(config_file=config, overrides={"db": db})
    except (InvalidInput, SettingsError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    folder = out or Path(f"tak-{party}")
    password = p12_password or secrets.token_urlsafe(12)
    ca = ensure_authority(tak_dir(settings))
    bundle = write_bundle(folder, party, issue_client(ca, party, days), ca, password)
    console.print(f"certificate for [bold]{party}[/bold], valid {days} days, written to {folder}/:")
    for label, path in (
        ("key (keep it secret)", bundle.key),
        ("certificate", bundle.cert),
        ("CA certificate", bundle.ca_cert),
        ("identity for TAK clients", bundle.p12),
        ("CA trust store for TAK clients", bundle.truststore),
    ):
        console.print(f"  {path.name:<22} {label}")
    if p12_password is None:
        console.print("password of the .p12 files (shown once):")
        print(password)


@cot_app.command("export")
def cot_export(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: standard output).")] = None,
    as_stream: Annotated[
        bool, typer.Option("--stream", help="Events back to back, as a TAK server streams them, not one document.")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Write the caller's picture as Cursor-on-Target XML: declarations it may see, its conflicts, its tracks."""
    if not token:
        err.print("[red]No token.[/red] Pass --token or set DECONF_TOKEN (a party's token).")
        raise typer.Exit(2)
    try:
        response = httpx.get(
            f"{url.rstrip('/')}/v1/cot",
            params={"stream": "true"} if as_stream else None,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60.0,
        )
    except httpx.TransportError as exc:
        err.print(f"[red]Cannot connect[/red] to {url}: {exc}")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            problem = response.json()
            err.print(f"[red]{response.status_code} {problem.get('title', '')}[/red]: {problem.get('detail', '')}")
        except ValueError:
            err.print(f"[red]{response.status_code}[/red]: {response.text[:500]}")
        raise typer.Exit(1)
    if out is None:
        sys.stdout.buffer.write(response.content)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(response.content)
        err.print(f"{response.content.count(b'<event ')} events written to {out}")
