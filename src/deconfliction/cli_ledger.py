"""CLI commands for the record: `deconf ledger export|verify` and `deconf proof [make] ENTRY|check PROOF_FILE`."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from typer.core import TyperGroup

from deconfliction.cli_commands import DEFAULT_URL, TokenOpt, UrlOpt, _call, console, err
from deconfliction.client import ApiError, Client
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.signing import public_key_from_b64
from deconfliction.ledger.entry import line
from deconfliction.ledger.proof import check_proof, make_proof
from deconfliction.ledger.rules import BadEntry
from deconfliction.ledger.verify import Report, Verifier

PAGE_LIMIT = 1000

ledger_app = typer.Typer(
    help="The record: export it from a server (`export`), verify an export offline (`verify`).", no_args_is_help=True
)


class _MakeByDefault(TyperGroup):
    """`deconf proof ENTRY …` means `deconf proof make ENTRY …`; `deconf proof check …` stays itself."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["make", *args]
        return super().parse_args(ctx, args)


proof_app = typer.Typer(
    cls=_MakeByDefault,
    help="Proofs that a party sent, received, was notified of or acknowledged something, checkable offline. "
    "`deconf proof ENTRY` is short for `deconf proof make ENTRY`.",
    no_args_is_help=True,
)


def _progress(*columns: Any) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), *columns, console=err, transient=True)


def _write_page(page: Any, out: BinaryIO, verifier: Verifier, after: int, head: dict[str, Any]) -> int:
    """Write one page of entries; the seq of the last one."""
    if not isinstance(page, list):
        raise ValueError(f"the server answered {type(page).__name__}, not a list of entries")
    for entry in page:
        seq = entry.get("seq") if isinstance(entry, dict) else None
        if not isinstance(seq, int) or seq <= after:
            raise ValueError(f"after seq {after} the server sent an entry with seq {seq!r}")
        if seq == head.get("seq") and entry.get("hash") != head.get("hash"):
            raise ValueError(f"entry {seq} does not have the hash the server gave as its head, {head.get('hash')}")
        data = line(entry)
        out.write(data)
        verifier.feed(data)
        after = seq
    return after


def _download(url: str, token: str, out: BinaryIO, verifier: Verifier, head: dict[str, Any]) -> int:
    """Page through `GET /v1/ledger` into `out`; how many entries were written."""
    after = 0
    total = head["seq"]
    with Client(url, token) as client, _progress(MofNCompleteColumn(), TimeRemainingColumn()) as progress:
        task = progress.add_task("exporting", total=total)
        while True:
            page = client.get("/v1/ledger", params={"after": after, "limit": PAGE_LIMIT})
            if not page:
                if after < total:
                    raise ValueError(f"the server's head is seq {total}, but its pages end at seq {after}")
                return after
            after = _write_page(page, out, verifier, after, head)
            progress.update(task, completed=after, total=max(total, after))


def _served(url: str, token: str) -> tuple[str, dict[str, Any]]:
    """The server's key and head, as it states them."""
    key = (_call(url, token, "GET", "/v1/ledger/key") or {}).get("public_key")
    head = _call(url, token, "GET", "/v1/ledger/head") or {}
    if not isinstance(key, str) or not isinstance(head.get("seq"), int) or not isinstance(head.get("hash"), str):
        err.print("[red]The server did not give its ledger key and head[/red] (GET /v1/ledger/key, /v1/ledger/head).")
        raise typer.Exit(1)
    return key, head


@ledger_app.command("export")
def ledger_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write: one entry per line")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Export the whole record to a file (written atomically) and print its head hash and the server key."""
    key, head = _served(url, token)
    verifier = Verifier(key)
    if not output.resolve().parent.is_dir():
        err.print(f"[red]{escape(str(output.parent))} is not a directory.[/red]")
        raise typer.Exit(2)
    fd, temp = tempfile.mkstemp(dir=output.resolve().parent, prefix=f".{output.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            count = _download(url, token, out, verifier, head)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, output)
    except (ApiError, ValueError) as exc:
        Path(temp).unlink(missing_ok=True)
        err.print(f"[red]Export failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    report = verifier.finish()
    console.print(f"exported {count} entries to {escape(str(output))}")
    if count == 0:
        console.print("the record is empty: nothing to note down yet")
        return
    if not report.ok:
        err.print(f"[red]The exported record does not verify:[/red] {escape(str(report.failure))}")
        raise typer.Exit(1)
    console.print(f"head:       seq {report.head_seq} hash [bold]{report.head_hash}[/bold]")
    console.print(f"server key: [bold]{key}[/bold]")
    console.print(
        "Note both down somewhere the server cannot reach; later, check an export with\n"
        f"  deconf ledger verify {escape(str(output))} --key {key} --head {report.head_hash}"
    )


def _check_key(key: str) -> str:
    try:
        public_key_from_b64(key.strip(), "--key")
    except (InvalidInput, ValueError):
        err.print("[red]--key is not a raw Ed25519 public key in base64[/red] (what `deconf ledger export` printed)")
        raise typer.Exit(2) from None
    return key.strip()


def _verify_file(file: Path, key: str, head: str | None) -> Report:
    verifier = Verifier(key, head)
    try:
        with file.open("rb") as f, _progress(DownloadColumn()) as progress:
            task = progress.add_task("verifying", total=file.stat().st_size)
            for raw in f:  # binary files split on b"\n" only
                if verifier.feed(raw) is not None:
                    break
                progress.advance(task, len(raw))
    except FileNotFoundError:
        err.print(f"[red]{escape(str(file))} does not exist.[/red]")
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"[red]Cannot read {escape(str(file))}:[/red] {escape(exc.strerror or str(exc))}")
        raise typer.Exit(2) from None
    return verifier.finish()


@ledger_app.command("verify")
def ledger_verify(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="An export (`deconf ledger export -o FILE`)")],
    key: Annotated[str, typer.Option("--key", help="The server's public key (base64), as you noted it down")],
    head: Annotated[
        str | None, typer.Option("--head", help="The head hash you noted down: the last entry must have it")
    ] = None,
) -> None:
    """Verify an export offline: every line canonical, every link, hash and signature; exit 1 naming the first bad."""
    report = _verify_file(file, _check_key(key), head)
    if not report.ok:
        err.print(f"[red]NOT VERIFIED[/red] — {escape(str(report.failure))}")
        if report.entries:
            err.print(f"entries 1 to {report.entries} hold (hash of seq {report.entries}: {report.head_hash})")
        raise typer.Exit(1)
    console.print(
        f"[green]VERIFIED[/green] — {report.entries} entries, seq 1 to {report.head_seq}: every line canonical, "
        "every entry linked to the one before, every hash and server signature valid, every party signature "
        "valid and made with that party's registered key, every entry of its type's rule (docs/ledger.md)."
    )
    console.print(f"head: seq {report.head_seq} hash {report.head_hash}")
    if head is None:
        console.print(
            "Compare the head with the one you noted down (or pass --head): entries removed from the end "
            "cannot show otherwise.",
            style="dim",
        )


@proof_app.command("make")
def proof_make(
    entry: Annotated[int, typer.Argument(metavar="ENTRY", min=1, help="The entry's seq in the record")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the proof here (else stdout)")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Print a self-contained proof of one entry, checkable offline with the declaration or message in hand."""
    served = _call(url, token, "GET", f"/v1/ledger/{entry}")
    key = _call(url, token, "GET", "/v1/ledger/key")["public_key"]
    try:
        proof = make_proof(served, key)
    except BadEntry as exc:
        err.print(f"[red]The server's entry {entry} is not a ledger entry:[/red] {escape(exc.reason)}")
        raise typer.Exit(1) from None
    result = check_proof(proof, None, key)
    if not result.ok:
        err.print(f"[red]The server's entry {entry} does not check:[/red] {escape('; '.join(result.problems))}")
        raise typer.Exit(1)
    text = json.dumps(proof, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"{escape(result.statement)}\nproof written to {escape(str(output))}")


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        err.print(f"[red]{what} {escape(str(path))} does not exist.[/red]")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]Cannot read {what} {escape(str(path))}:[/red] {escape(str(exc))}")
    except json.JSONDecodeError as exc:
        err.print(f"[red]{what} {escape(str(path))} is not valid JSON:[/red] {escape(str(exc))}")
    raise typer.Exit(2)


@proof_app.command("check")
def proof_check(
    proof_file: Annotated[Path, typer.Argument(metavar="PROOF_FILE", help="A proof (`deconf proof ENTRY -o FILE`)")],
    content: Annotated[
        Path | None,
        typer.Option(
            "--content",
            help="JSON of what the entry is about: the message (content or as the API returned it), or "
            '{"declaration": <Feature>, "salt": …}; see docs/ledger.md',
        ),
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="The server's public key you noted down")] = None,
) -> None:
    """Check a proof offline; with --content, also that it is about exactly that declaration or message."""
    proof = _load_json(proof_file, "Proof")
    held = None if content is None else _load_json(content, "Content")
    result = check_proof(proof, held, None if key is None else _check_key(key))
    verdict = "[green]PROOF HOLDS[/green]" if result.ok else "[red]PROOF DOES NOT HOLD[/red]"
    console.print(f"{verdict} — {escape(result.statement)}" if result.statement else verdict)
    for text in result.checks:
        console.print(f"  [green]✓[/green] {escape(text)}")
    for text in result.problems:
        console.print(f"  [red]✗[/red] {escape(text)}")
    for text in result.notes:
        console.print(f"  note: {escape(text)}", style="dim")
    if not result.ok:
        raise typer.Exit(1)
