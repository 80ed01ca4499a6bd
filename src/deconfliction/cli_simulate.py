"""`deconf simulate`: movers reporting live positions to a channel, and the warnings they raise."""

from __future__ import annotations

from typing import Annotated

import typer

from deconfliction.cli_commands import DEFAULT_URL, UrlOpt, console, err
from deconfliction.client import ApiError
from deconfliction.simulate import DEIR_EZ_ZOR, run


def _tokens(pairs: list[str]) -> dict[str, str]:
    tokens = {}
    for pair in pairs:
        party, sep, token = pair.partition("=")
        if not sep or not party or not token:
            err.print(f"[red]--as {pair!r}:[/red] write it PARTY=TOKEN, e.g. --as sdf=dcf_…")
            raise typer.Exit(2)
        tokens[party] = token
    return tokens


def simulate_cmd(
    as_: Annotated[
        list[str],
        typer.Option(
            "--as",
            metavar="PARTY=TOKEN",
            help="Report the movers of PARTY with its token; repeat for each party (the scenario's movers belong "
            "to coalition, russia, sdf and saa; movers of parties not given are left out).",
        ),
    ],
    ticks: Annotated[int, typer.Option(min=1, help="How many reports each mover sends.")] = 60,
    interval_s: Annotated[float, typer.Option(min=0.0, help="Seconds between reports.")] = 1.0,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Move the Deir ez-Zor scenario's aircraft and convoys live: each reports its position every INTERVAL_S
    seconds (POST /v1/tracks/{id}/positions); the closest-point-of-approach warnings they raise are printed as they
    come, and reach both parties as events."""
    tokens = _tokens(as_)
    seen: set[str] = set()
    try:
        for tick in run(url, tokens, DEIR_EZ_ZOR, ticks=ticks, interval_s=interval_s):
            for w in tick.warnings:
                if w["id"] in seen:
                    continue
                seen.add(w["id"])
                console.print(
                    f"{tick.elapsed_s:6.1f} s  {tick.mover.track_id} ({tick.mover.party}) ⟷ {w['other_party']}: "
                    f"closest approach {w['distance_m']:.0f} m (< {w['required_m']:.0f} m) at "
                    f"{w['time']['start']}"
                )
    except ApiError as exc:
        err.print(f"[red]{exc.status} {exc.title}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    console.print(f"{ticks} reports from each mover; {len(seen)} warnings raised.")
