"""Need to know's price (issue 13): the false alarms coverings add, and the conflict check's latency with them.

    .venv/bin/python bench/bench_disclosure.py [--sizes 100000,1000000] [--queries 300] [--quick]

1. False alarms. A declaration hidden from the other party is compared as its covering (domain/covering.py). Every
   pair the exact rule finds is still found (a miss stops the run); the price is the pairs only the coverings bring
   within separation. Counted with every declaration hidden from every other party — the default audience — on the
   Deir ez-Zor scenario (all pairs) and on the benchmark's distribution (bench_index.generate: 0.5-5 km squares and
   sites over 1,000 x 1,000 km, 1-12 h windows over a week), at precisions of 100 m, 1 km and 5 km.
2. Latency. `Picture.conflicts_for` with coverings (every declaration hidden) beside the check as it was before
   coverings — exact boxes, exact rule (`ExactPicture` below) — on the same declarations and queries, at each size.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from importlib import resources
from itertools import combinations

import numpy as np
from rich.console import Console
from rich.table import Table

from bench_index import (
    NEW_PARTY,
    PARTIES,
    build_declarations,
    generate,
    percentiles_ms,
    progress_bar,
    query_boxes,
    rss_mb,
    time_each,
)
from deconfliction.domain.conflicts import Finding, assess, assess_shown
from deconfliction.domain.covering import DisclosureSteps
from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.timewindow import parse_time
from deconfliction.index import Box
from deconfliction.services.picture import Picture

console = Console(width=150)
PRECISIONS_M = (100.0, 1_000.0, 5_000.0)
POLICY = SeparationPolicy()


class ExactPicture(Picture):
    """The check as it was before coverings: entries grown by radius and own separation only, the exact rule."""

    def stored_boxes(self, spec: object) -> list[Box]:
        s = spec  # a DeclarationSpec
        return list(s.shape.boxes(s.radius_m + (s.separation_m or 0.0)))  # type: ignore[attr-defined]

    def _entry(self, d: Declaration) -> tuple[int, list[Box], float, float | None, float, float | None]:
        s = d.spec
        end = None if s.window.end is None else s.window.end_s
        return d.key, self.stored_boxes(s), s.window.start_s, end, s.altitude.lower_m, s.altitude.upper_m

    def conflicts_for(self, declaration: Declaration) -> list[tuple[Declaration, Finding]]:
        s = declaration.spec
        end = None if s.window.end is None else s.window.end_s
        keys = self.index.candidates(
            query_boxes(self.policy, declaration), s.window.start_s, end, s.altitude.lower_m, s.altitude.upper_m
        )
        found = []
        for key in sorted(keys):
            other = self.declarations.get(key)
            if other is None or other.party == declaration.party:
                continue
            finding = assess(declaration, other, self.policy)
            if finding is not None:
                found.append((other, finding))
        return found


def scenario_declarations(precision_m: float) -> list[Declaration]:
    data = json.loads((resources.files("deconfliction") / "scenario" / "deir_ez_zor.json").read_text("utf-8"))
    at = parse_time("2017-09-01T00:00:00Z", "at")
    out = []
    for i, item in enumerate(data["declarations"]):
        spec = replace(parse_feature(item["feature"], DeclarationLimits()), precision_m=precision_m)
        out.append(Declaration(i, f"s{i}", item["party"], 1, spec, DeclarationStatus.ACTIVE, at, at))
    return out


def scenario_row(precision_m: float) -> tuple[int, int, int]:
    """(exact pairs, covering pairs, missed) over every pair of the scenario's declarations of different parties."""
    steps = DisclosureSteps(precision_m=precision_m)
    decls = scenario_declarations(precision_m)
    shown = Picture(POLICY, steps=steps)
    exact = covered = missed = 0
    for a, b in combinations(decls, 2):
        if a.party == b.party:
            continue
        hit = assess(a, b, POLICY) is not None
        cover = shown_pair(shown, a, b)
        exact += hit
        covered += cover
        missed += hit and not cover
    return exact, covered, missed


def shown_pair(picture: Picture, a: Declaration, b: Declaration) -> bool:
    return assess_shown(a, b, picture.covering_of(a), picture.covering_of(b), POLICY) is not None


def distribution_row(n: int, queries: int, precision_m: float, seed: int) -> tuple[int, int, int]:
    """(exact pairs, covering pairs, missed) between `queries` new declarations and `n` stored ones."""
    rng = np.random.default_rng(seed)
    data, new = generate(rng, n), generate(rng, queries)
    stored, _ = build_declarations(data, False, f"{n:,} stored", lambda i: PARTIES[i % len(PARTIES)])
    asked, _ = build_declarations(new, False, f"{queries} new", lambda i: NEW_PARTY, key0=n)
    stored = [replace(d, spec=replace(d.spec, precision_m=precision_m)) for d in stored]
    asked = [replace(d, spec=replace(d.spec, precision_m=precision_m)) for d in asked]
    exact_pic, cover_pic = ExactPicture(POLICY), Picture(POLICY, steps=DisclosureSteps(precision_m=precision_m))
    exact_pic.load(stored)
    cover_pic.load(stored)
    exact = covered = missed = 0
    for d in asked:
        e = {o.key for o, _ in exact_pic.conflicts_for(d)}
        c = {o.key for o, _ in cover_pic.conflicts_for(d)}
        exact, covered, missed = exact + len(e), covered + len(c), missed + len(e - c)
    return exact, covered, missed


def false_alarms(args: argparse.Namespace) -> None:
    table = Table(title="False alarms: conflicts only the coverings open (every declaration hidden from the others)")
    for col in ("workload", "precision", "exact pairs (baseline)", "with coverings", "extra", "missed"):
        table.add_column(col, justify="right" if col != "workload" else "left")
    for precision in PRECISIONS_M:
        exact, covered, missed = scenario_row(precision)
        table.add_row("Deir ez-Zor scenario (7 declarations, all pairs)", f"{precision:g} m", str(exact), str(covered),
                      _extra(exact, covered), str(missed))  # fmt: skip
        if missed:
            raise SystemExit(f"a conflict was missed at {precision:g} m: coverings must be conservative")
    for precision in PRECISIONS_M:
        exact, covered, missed = distribution_row(args.fa_size, args.fa_queries, precision, seed=13)
        table.add_row(f"distribution: {args.fa_queries} new against {args.fa_size:,}", f"{precision:g} m",
                      str(exact), str(covered), _extra(exact, covered), str(missed))  # fmt: skip
        if missed:
            raise SystemExit(f"a conflict was missed at {precision:g} m: coverings must be conservative")
    console.print(table)


def _extra(exact: int, covered: int) -> str:
    return f"+{covered - exact} ({(covered - exact) / exact:.0%})" if exact else f"+{covered - exact}"


def latency(args: argparse.Namespace) -> None:
    table = Table(title="Conflict check with coverings beside the exact check of before (same run, same data)")
    for col in ("active", "check", "p50 ms", "p99 ms", "conflicts/query", "ratio p99", "RSS MB"):
        table.add_column(col, justify="left" if col in ("check",) else "right")
    for n in args.sizes:
        rng = np.random.default_rng(7)
        data, new = generate(rng, n), generate(rng, args.queries + 100)
        stored, _ = build_declarations(data, False, f"{n:,} stored", lambda i: PARTIES[i % len(PARTIES)])
        asked, _ = build_declarations(new, False, "new", lambda i: NEW_PARTY, key0=n)
        rows = []
        for label, picture in (("before: exact", ExactPicture(POLICY)), ("coverings (all hidden)", Picture(POLICY))):
            with progress_bar() as progress:
                task = progress.add_task(f"{label}: load {n:,}", total=1)
                picture.load(stored)
                progress.update(task, completed=1)
            for d in asked[:100]:  # warm-up
                picture.conflicts_for(d)
            found: list[int] = []
            check = picture.conflicts_for
            samples = time_each((lambda d=d, f=found, c=check: f.append(len(c(d)))) for d in asked[100:])
            rows.append((label, *percentiles_ms(samples), sum(found) / len(found)))
            del picture, check
        base_p99 = rows[0][2]
        for label, p50, p99, per in rows:
            table.add_row(f"{n:,}", label, f"{p50:.3f}", f"{p99:.3f}", f"{per:.2f}", f"{p99 / base_p99:.2f}x",
                          f"{rss_mb():.0f}")  # fmt: skip
        del stored
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="active declarations for the latency figures")
    parser.add_argument("--queries", type=int, default=300, help="timed new declarations per size")
    parser.add_argument("--fa-size", type=int, default=100_000, help="stored declarations for the false alarms")
    parser.add_argument("--fa-queries", type=int, default=2_000, help="new declarations for the false alarms")
    parser.add_argument("--quick", action="store_true", help="sizes 10000,100000; 500 false-alarm queries")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.fa_queries = "10000,100000", 500
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s]
    t0 = time.perf_counter()
    false_alarms(args)
    if not args.skip_latency:
        latency(args)
    console.print(f"bench_disclosure: {time.perf_counter() - t0:.0f} s", style="dim")


if __name__ == "__main__":
    main()
