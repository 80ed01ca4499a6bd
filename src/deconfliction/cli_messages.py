"""CLI commands for messages: `keygen`, `send`, `inbox`, `message`, `relay` (acknowledging is in cli_receipts.py).

Signing happens here, on the caller's machine: the private key never goes to the server, which only checks
signatures against the public key the admin registered for the party.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.exceptions import UnsupportedAlgorithm
from rich.markup import escape
from rich.table import Table

from deconfliction.cli_commands import DEFAULT_URL, TokenOpt, UrlOpt, _call, _unique, console, err
from deconfliction.client import ApiError, Client
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.messages import MessageContent
from deconfliction.domain.signing import Purpose, SigningKey

DEFAULT_KEY_FILE = "deconf-key.pem"
LIST_LIMIT = 1000  # the server's default page_limit_max: enough to find an id by its prefix

KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        envvar="DECONF_KEY",
        metavar="PEM_FILE",
        help="Your Ed25519 private key (`deconf keygen`) to sign with (DECONF_KEY).",
    ),
]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="An id, or a unique prefix of one (as the tables show)")]

relay_app = typer.Typer(
    help="Decide on a message awaiting your review as an intermediary: pass it on (`approve`) or stop it (`refuse`). "
    "Neither changes what it says.",
    no_args_is_help=True,
)


class Box(StrEnum):
    INBOX = "inbox"
    OUTBOX = "outbox"
    RELAY = "relay"
    ALL = "all"


def _post(url: str, token: str, path: str, body: Any, hint: Callable[[ApiError], str | None]) -> Any:
    """POST like `_call` does, then say what to do about the server's error when `hint` knows."""
    if not token:
        return _call(url, token, "POST", path)  # says how to pass a token, and exits 2
    try:
        with Client(url, token) as client:
            return client.post(path, body)
    except ApiError as exc:
        err.print(f"[red]{exc.status} {escape(exc.title)}[/red]: {escape(exc.detail)}")
        if (said := hint(exc)) is not None:
            err.print(said)
        raise typer.Exit(1) from None


def _load_key(path: Path | None) -> SigningKey | None:
    if path is None:
        return None
    try:
        return SigningKey.from_pem(path.read_bytes())
    except OSError as exc:
        err.print(f"[red]Cannot read the key file {escape(str(path))}:[/red] {escape(exc.strerror or str(exc))}")
    except (ValueError, TypeError, UnsupportedAlgorithm):
        err.print(
            f"[red]{escape(str(path))} does not hold an unencrypted Ed25519 private key in PEM.[/red] "
            "Make one with `deconf keygen`."
        )
    raise typer.Exit(2)


def keygen_cmd(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FILE", help="Where to write the private key (PEM, mode 0600)")
    ] = Path(DEFAULT_KEY_FILE),
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists (its old key is lost)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the public key (for scripts)")] = False,
) -> None:
    """Generate an Ed25519 key pair for signing your messages and acknowledgements.

    The private key goes to FILE, readable by you only; it never leaves this machine.
    The public key is printed (base64) for the admin to register with your party.
    Once it is registered, your acknowledgements of messages and notifications must be signed (`deconf ack --key`);
    your messages may be (`deconf send --key`).
    """
    key = SigningKey.generate()
    try:
        if force:
            out.unlink(missing_ok=True)  # a new file, so that it is created with mode 0600 whatever the old one had
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        err.print(
            f"[red]{escape(str(out))} exists already;[/red] it may hold a key registered with the channel. "
            "Choose another file with -o, or pass --force to replace it."
        )
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"[red]Cannot write {escape(str(out))}:[/red] {escape(exc.strerror or str(exc))}")
        raise typer.Exit(2) from None
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_pem())
    if quiet:
        print(key.public_key_b64)
        return
    console.print(f"private key written to {escape(str(out))} (mode 0600): keep it secret; it never leaves here.")
    console.print("public key:")
    print(key.public_key_b64)
    console.print(  # soft_wrap: the commands stay whole, to copy
        f"register it (admin token): deconf party add ID NAME --public-key {key.public_key_b64}\n"
        f'or, for a party that exists: PATCH /v1/parties/ID with {{"public_key": "{key.public_key_b64}"}}',
        soft_wrap=True,
    )


def _message_id(url: str, token: str, given: str, box: Box) -> str:
    if len(given) >= 36:
        return given
    ids = [m["id"] for m in _call(url, token, "GET", "/v1/messages", params={"box": box.value, "limit": LIST_LIMIT})]
    return _unique(given, ids, f"the messages of your {box.value}", f"deconf inbox --box {box.value}")


def _body_text(body: str | None, body_file: Path | None) -> str:
    if body is not None and body_file is not None:
        err.print("[red]Give the text once:[/red] --body TEXT or --body-file FILE, not both.")
        raise typer.Exit(2)
    if body_file is None:
        return body or ""
    if str(body_file) == "-":
        return sys.stdin.read()
    try:
        return body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]Cannot read {escape(str(body_file))}:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _declaration_ids(url: str, token: str, refs: list[str]) -> list[str]:
    """Full ids of the declarations named by `refs` (a unique prefix is enough, as in `deconf cancel`)."""
    if all(len(r) >= 36 for r in refs):
        return refs
    features = _call(url, token, "GET", "/v1/declarations", params={"limit": LIST_LIMIT})["features"]
    ids = [f["id"] for f in features]
    return [_unique(r, ids, "the declarations you may see", "deconf declarations") for r in refs]


def _where(message: dict[str, Any]) -> str:
    waiting = message.get("waiting")
    reason = f" — {waiting['reason']}" if waiting else ""
    return f"{message['status']}{reason}"


def send_cmd(
    to: Annotated[str, typer.Argument(metavar="TO", help="The recipient party's id")],
    subject: Annotated[str, typer.Argument(help="One line, at most 200 characters")],
    body: Annotated[str | None, typer.Option("--body", metavar="TEXT", help="The message's text")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", metavar="FILE", help="Read the text from FILE ('-': standard input)")
    ] = None,
    refs: Annotated[
        list[str] | None,
        typer.Option("--ref", metavar="DECL_ID", help="A declaration the message is about (repeat for more)"),
    ] = None,
    ack_by: Annotated[
        str | None,
        typer.Option(
            "--ack-by", metavar="RFC3339", help="Ask for an acknowledgement by then, e.g. 2017-09-10T12:00:00Z"
        ),
    ] = None,
    key: KeyOpt = None,
    as_party: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="DECONF_PARTY",
            metavar="PARTY",
            help="Your party's id (DECONF_PARTY): what you sign names it as the sender; needed with --key.",
        ),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Send a message to a party. It travels the shortest path of links; an intermediary on a `review` link holds
    it until someone there approves or refuses it, and none can change what it says.

    With --key and --as you sign it: the signature covers sender, recipient, subject, text, refs and ack-by.
    Then the recipient, and anyone holding the record, can prove it came from you unaltered.
    """
    data: dict[str, Any] = {"to": to, "subject": subject, "body": _body_text(body, body_file)}
    data["refs"] = _declaration_ids(url, token, refs or [])
    if ack_by is not None:
        data["ack_by"] = ack_by
    signer = _load_key(key)
    if signer is not None:
        if not as_party:
            err.print(
                "[red]Signing needs your party id:[/red] the signed content names its sender. Pass --as PARTY or set "
                "DECONF_PARTY (the party your token belongs to)."
            )
            raise typer.Exit(2)
        try:
            content = MessageContent.parse(as_party, data)
        except InvalidInput as exc:
            err.print(f"[red]Cannot send this:[/red] {escape(exc.detail)}")
            raise typer.Exit(2) from None
        data["signature"] = signer.sign(Purpose.MESSAGE, content.digest)

    def hint(exc: ApiError) -> str | None:
        if signer is None or "signature" not in exc.detail:
            return None
        return (
            f"You signed as {as_party!r} with {key}: check that {as_party!r} is the party of your token and that the "
            "public key registered for it is this key's (`deconf keygen` printed it)."
        )

    sent = _post(url, token, "/v1/messages", data, hint)
    signed = f"signed by {sent['from']}" if sent["signed"] else "unsigned"
    console.print(f"message [bold]{sent['id']}[/bold] sent to {sent['to']} ({signed})")
    console.print(f"route:  {' → '.join(sent['route'])}")
    console.print(f"status: {escape(_where(sent))}")


def inbox_cmd(
    box: Annotated[
        Box,
        typer.Option(
            help="inbox: delivered to you; outbox: sent by you; relay: awaiting your review as an intermediary; "
            "all: every message you sent, received or relayed"
        ),
    ] = Box.INBOX,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only messages not acknowledged by their ack-by deadline")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """List the messages in one of your boxes, newest first (ids by their first 8 characters)."""
    params: dict[str, Any] = {"box": box.value, "limit": LIST_LIMIT}
    if overdue:
        params["overdue"] = "true"
    messages = _call(url, token, "GET", "/v1/messages", params=params)
    if not messages:
        console.print(f"no {'overdue ' if overdue else ''}messages in your {box.value} box")
        return
    table = Table("id", "from", "to", "subject", "status", "overdue", "waiting", "created")
    for m in messages:
        waiting = m["waiting"]["reason"] if m["waiting"] else ""
        overdue_flag = "OVERDUE" if m["overdue"] else ""
        row = (m["id"][:8], m["from"], m["to"], m["subject"], m["status"], overdue_flag, waiting, m["created_at"])
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def _signature(party: str, signature: str | None) -> str:
    return "none (unsigned)" if signature is None else f"by {party}, Ed25519: {signature}"


def _show_message(m: dict[str, Any]) -> None:
    console.print(f"message [bold]{m['id']}[/bold]: {m['from']} → {m['to']}, {escape(_where(m))}")
    console.print(f"subject: {escape(m['subject'])}")
    if m["refs"]:
        console.print(f"refs:    {', '.join(m['refs'])}")
    if m["ack_by"]:
        late = f" — OVERDUE since {m['overdue_at']}" if m["overdue"] else ""
        console.print(f"ack by:  {m['ack_by']}{late}")
    console.print(f"digest:    {m['digest']}")
    console.print(f"signature: {_signature(m['from'], m['signature'])}", soft_wrap=True)
    if m["refused_by"]:
        reason = next((h["note"] for h in m["hops"] if h["status"] == "refused"), None) or ""
        console.print(f"[red]refused by {m['refused_by']}:[/red] {escape(reason)}")
    if m["body"]:
        console.print()
        console.print(escape(m["body"]), soft_wrap=True)
        console.print()
    hops = Table("party", "role", "status", "at", "note", title="route, hop by hop")
    for h in m["hops"]:
        hops.add_row(h["party"], h["role"], h["status"], h["at"] or "", escape(h["note"] or ""))
    console.print(hops)
    ack = m["acknowledgement"]
    if ack is None:
        console.print(f"not acknowledged by {m['to']}")
    else:
        console.print(f"acknowledged by {m['to']} at {ack['at']}: received — not approved")
        console.print(f"its signature: {_signature(m['to'], ack['signature'])}", soft_wrap=True)


def message_cmd(message: IdArg, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """Show one message: what it says, its route hop by hop (who relayed or refused it when, their notes), its
    digest, whether it is signed, and whether the recipient acknowledged it. Opening a message delivered to you
    marks it read, which its sender sees."""
    full = _message_id(url, token, message, Box.ALL)
    _show_message(_call(url, token, "GET", f"/v1/messages/{full}"))


@relay_app.command("approve")
def relay_approve(
    message: IdArg,
    note: Annotated[str | None, typer.Option("--note", metavar="TEXT", help="A note the sender sees")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Pass on a message awaiting your review (see `deconf inbox --box relay`); it goes on unchanged."""
    full = _message_id(url, token, message, Box.RELAY)
    m = _call(url, token, "POST", f"/v1/messages/{full}/relay", json={"decision": "approve", "note": note})
    console.print(f"message {m['id']} approved and passed on: {escape(_where(m))} (holder: {m['holder']})")


@relay_app.command("refuse")
def relay_refuse(
    message: IdArg,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why; the sender is told it")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Stop a message awaiting your review; it goes no further and its sender is told your reason."""
    if not reason.strip():
        err.print("[red]--reason must say why:[/red] the sender is told it.")
        raise typer.Exit(2)
    full = _message_id(url, token, message, Box.RELAY)
    m = _call(url, token, "POST", f"/v1/messages/{full}/relay", json={"decision": "refuse", "note": reason})
    console.print(f"message {m['id']} refused; {m['from']} is told your reason: {escape(reason)}")
