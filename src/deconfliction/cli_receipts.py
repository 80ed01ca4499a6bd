"""CLI commands for what a party receives: `ack` (messages, notifications, conflicts), `notifications`, `webhook`.

An acknowledgement always means "received" (or, for a conflict, "seen"); never "approved". It is signed here, on the
caller's machine, with the key the admin registered for the party.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deconfliction.cli_commands import DEFAULT_URL, TokenOpt, UrlOpt, _call, _conflict_id, _unique, console, err
from deconfliction.cli_messages import LIST_LIMIT, Box, IdArg, KeyOpt, _load_key, _message_id, _post
from deconfliction.client import ApiError
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.messages import MessageContent
from deconfliction.domain.signing import Purpose

webhook_app = typer.Typer(
    help="Have your events POSTed to a URL of yours, signed with HMAC-SHA256 and retried until delivered.",
    no_args_is_help=True,
)


class NotificationStatus(StrEnum):
    PENDING = "pending"
    OVERDUE = "overdue"
    ACKNOWLEDGED = "acknowledged"
    SUPERSEDED = "superseded"
    UNACKNOWLEDGED = "unacknowledged"


def _ack_target(url: str, token: str, given: str, notification: bool, conflict: bool) -> tuple[str, str]:
    """(what, path) of the object to acknowledge, its id resolved from a unique prefix."""
    if notification and conflict:
        err.print("[red]Choose one:[/red] --notification or --conflict (neither: a message).")
        raise typer.Exit(2)
    if conflict:
        return "conflict", f"/v1/conflicts/{_conflict_id(url, token, given)}"
    if notification:
        ids = [n["id"] for n in _call(url, token, "GET", "/v1/notifications", params={"limit": LIST_LIMIT})]
        full = given if len(given) >= 36 else _unique(given, ids, "your notifications", "deconf notifications")
        return "notification", f"/v1/notifications/{full}"
    return "message", f"/v1/messages/{_message_id(url, token, given, Box.INBOX)}"


def _check_message_digest(m: dict[str, Any]) -> None:
    """Sign only what was shown: the digest must be that of the message's content."""
    fields = {"to": m["to"], "subject": m["subject"], "body": m["body"], "refs": m["refs"], "ack_by": m["ack_by"]}
    try:
        same = MessageContent.parse(m["from"], fields).digest == m["digest"]
    except InvalidInput:
        same = False
    if not same:
        err.print(
            f"[red]The server's digest of message {m['id']} is not that of its content:[/red] not signing. "
            "Report it to the channel's operator."
        )
        raise typer.Exit(1)


def ack_cmd(
    item: IdArg,
    key: KeyOpt = None,
    notification: Annotated[
        bool, typer.Option("--notification", help="ID is a notification of a declaration shared with you")
    ] = False,
    conflict: Annotated[bool, typer.Option("--conflict", help="ID is a conflict warning")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Acknowledge a message delivered to you (the default), a notification (--notification) or a conflict
    (--conflict). It says "received" ("seen", for a conflict): never "approved"; it permits nothing.

    With --key it is signed over the object's digest.
    A party with a registered key must sign for messages and notifications; for a conflict, signing is optional.
    """
    signer = _load_key(key)
    what, path = _ack_target(url, token, item, notification, conflict)
    found = _call(url, token, "GET", path)
    acked_at = found.get("acknowledged_at") or (found.get("acknowledgement") or {}).get("at")
    if acked_at:
        console.print(f"{what} {found['id']} was acknowledged already, at {acked_at}")
        return
    body = None
    if signer is not None:
        if what == "message":
            _check_message_digest(found)
        body = {"signature": signer.sign(Purpose.ACK, found["digest"])}

    def hint(exc: ApiError) -> str | None:
        if signer is None and "signature" in exc.detail:
            flag = "" if what == "message" else f" --{what}"
            return f"Sign it with your key: deconf ack {item}{flag} --key YOUR_KEY.pem (or set DECONF_KEY)."
        return None

    done = _post(url, token, f"{path}/ack", body, hint)
    signed = "signed" if signer is not None else "unsigned"
    meaning = "seen" if what == "conflict" else "received"
    console.print(f"{what} {done['id']} acknowledged ({signed}): {meaning} — not approved")


def notifications_cmd(
    status: Annotated[
        NotificationStatus | None,
        typer.Option(help="unacknowledged means pending and overdue together; superseded: a newer version came"),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """List the declarations shared with you that you are to acknowledge (`deconf ack ID --notification`), newest
    first."""
    params: dict[str, Any] = {"limit": LIST_LIMIT}
    if status is not None:
        params["status"] = status.value
    found = _call(url, token, "GET", "/v1/notifications", params=params)
    if not found:
        console.print("no notifications")
        return
    table = Table("id", "declaration", "from", "version", "status", "ack by", "acknowledged", "signed")
    for n in found:
        table.add_row(
            n["id"][:8],
            n["declaration"][:8],
            n["from"],
            str(n["version"]),
            n["status"],
            n["ack_by"] or "",
            n["acknowledged_at"] or "no",
            "yes" if n["signed"] else "",
        )
    console.print(table)


@webhook_app.command("add")
def webhook_add(
    target: Annotated[str, typer.Argument(metavar="URL", help="An http(s) URL that receives your events as POSTs")],
    secret: Annotated[
        str | None, typer.Option(help="The HMAC key, at least 16 characters; generated when omitted")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Register a webhook: your events from now on are POSTed to URL, signed (X-Deconf-Signature: HMAC-SHA256 of
    "<X-Deconf-Timestamp>.<body>") and retried with backoff; drop repeats by X-Deconf-Event-Id."""
    hook = _call(url, token, "POST", "/v1/webhooks", json={"url": target, "secret": secret})
    console.print(f"webhook [bold]{hook['id']}[/bold] registered for {escape(hook['url'])}; its secret (shown once):")
    print(hook["secret"])


@webhook_app.command("list")
def webhook_list(url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """List your webhooks and how their deliveries go."""
    hooks = _call(url, token, "GET", "/v1/webhooks")
    if not hooks:
        console.print("no webhooks")
        return
    table = Table("id", "url", "delivered through event", "failures", "last error", "last delivered")
    for h in hooks:
        failures = f"{h['failures']} (paused)" if h.get("paused") else str(h["failures"])
        cells = (h["url"], str(h["delivered_through"]), failures, h["last_error"] or "")
        table.add_row(h["id"][:8], *(escape(c) for c in cells), h["last_delivered_at"] or "")
    console.print(table)


@webhook_app.command("remove")
def webhook_remove(hook: IdArg, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """Remove one of your webhooks: nothing more is POSTed to it."""
    ids = [h["id"] for h in _call(url, token, "GET", "/v1/webhooks")] if len(hook) < 36 else []
    full = hook if len(hook) >= 36 else _unique(hook, ids, "your webhooks", "deconf webhook list")
    _call(url, token, "DELETE", f"/v1/webhooks/{full}")
    console.print(f"webhook {full} removed")
