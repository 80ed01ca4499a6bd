"""All benchmarks in one run (`make bench`): conflict-check latency (ours, STRtree, PostGIS), the same check on the
PostgreSQL/PostGIS backend, the record and messages, the F3548 DSS beside the native API, webhook isolation, then HTTP
throughput.

    .venv/bin/python bench/run.py [--quick] [--active N] [--seconds S] [--sizes 10000,100000]

Each script prints its figures beside baselines it measures in the same run; see bench/README.md.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from common import machine_facts

HERE = Path(__file__).resolve().parent
console = Console()
if not console.is_terminal:  # piped or logged: wide enough for the children's tables
    console = Console(width=120)


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies under it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def run_step(title: str, cmd: list[str], timeout_s: float) -> int:
    """Run one bench script as a child sharing this terminal, so its output streams as it comes."""
    console.print(Rule(title))
    console.print(f"$ {shlex.join(_shown(c) for c in cmd)}", style="dim")
    t0 = time.monotonic()
    try:
        code = subprocess.run(cmd, cwd=HERE.parent, timeout=timeout_s, check=False).returncode
    except subprocess.TimeoutExpired:
        console.print(f"[red]{title}: stopped after {timeout_s:.0f} s[/red]")
        return 124
    console.print(f"{title}: exit {code} after {time.monotonic() - t0:.0f} s", style="dim")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller: index sizes 10k,100k; PostgreSQL backend at 100k; HTTP at 10k active for 5 s per scenario",
    )
    parser.add_argument("--sizes", help="index sizes (default 10000,100000,1000000; quick 10000,100000)")
    parser.add_argument("--active", type=int, help="HTTP: active declarations (default 100000; quick 10000)")
    parser.add_argument("--seconds", type=float, help="HTTP: measured seconds per scenario (default 10; quick 5)")
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--skip-postgis", action="store_true", help="skip the check on the PostgreSQL backend")
    parser.add_argument("--skip-workers", action="store_true", help="skip declares/s with 1 and 4 workers")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-record", action="store_true", help="skip the ledger and message figures")
    parser.add_argument("--skip-movement", action="store_true", help="skip the live-track figures")
    parser.add_argument("--skip-browser", action="store_true", help="skip the map's live-conflict latency")
    parser.add_argument("--skip-dss", action="store_true", help="skip the F3548 DSS's intents beside the native API")
    parser.add_argument("--skip-webhooks", action="store_true", help="skip webhook delays beside hostile webhooks")
    parser.add_argument(
        "--skip-disclosure", action="store_true", help="skip need to know's price: false alarms and check latency"
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or ("10000,100000" if args.quick else "10000,100000,1000000")
    active = args.active or (10_000 if args.quick else 100_000)
    seconds = args.seconds or (5.0 if args.quick else 10.0)

    console.print(f"$ {shlex.join([_shown(sys.executable), *sys.argv])}")
    for key, value in machine_facts().items():
        console.print(f"  {key:<7} {value}")
    console.print("  Figures are only comparable as ratios to the baselines printed beside them.", style="dim")

    codes = []
    index_script = HERE / "bench_index.py"
    if args.skip_index:
        pass
    elif index_script.exists():
        codes.append(
            run_step(
                "index: conflict-check latency",
                [sys.executable, str(index_script), "--sizes", sizes],
                timeout_s=3_600,
            )
        )
    else:
        console.print(Rule("index: conflict-check latency"))
        console.print("[yellow]bench/bench_index.py is not there yet; skipped[/yellow]")
    if not args.skip_postgis:
        codes.append(
            run_step(
                "PostgreSQL/PostGIS backend: the service's check and box list beside raw PostGIS",
                [
                    sys.executable,
                    str(HERE / "bench_postgis.py"),
                    "--sizes",
                    "100000" if args.quick else "1000000",
                    "--keep-db",  # loading 1M takes minutes: the database is kept and reused
                ],
                timeout_s=3_600,
            )
        )
    if not args.skip_workers:
        codes.append(
            run_step(
                "several workers: durable declares/s with 1 and 4 workers, SQLite and PostgreSQL",
                [
                    sys.executable,
                    str(HERE / "bench_workers.py"),
                    "--seconds",
                    "4" if args.quick else "8",
                    "--clients",
                    "32",
                ],
                timeout_s=1_800,
            )
        )
    if not args.skip_record:
        codes.append(
            run_step(
                "the record: seal and verify entries",
                [sys.executable, str(HERE / "bench_ledger.py"), "--entries", "2000" if args.quick else "5000"],
                timeout_s=600,
            )
        )
        codes.append(
            run_step(
                "the record and messages: committed appends, messages relayed",
                [sys.executable, str(HERE / "bench_channel.py"), "--seconds", "2" if args.quick else "5"],
                timeout_s=600,
            )
        )
    if not args.skip_movement:
        codes.append(
            run_step(
                "movement: position reports ingested with CPA evaluation, report-to-warning latency",
                [
                    sys.executable,
                    str(HERE / "bench_tracks.py"),
                    "--seconds",
                    "2" if args.quick else "5",
                    "--clients",
                    "64",
                ],
                timeout_s=1_800,
            )
        )
    if not args.skip_browser:
        codes.append(
            run_step(
                "the map: a conflict reaching the other party's browser, beside a plain SSE client",
                [sys.executable, str(HERE / "bench_browser.py"), "--rounds", "10" if args.quick else "30"],
                timeout_s=600,
            )
        )
    if not args.skip_dss:
        codes.append(
            run_step(
                "F3548 DSS: intent creations/s with key checks and query latency, beside the native API",
                [
                    sys.executable,
                    str(HERE / "bench_dss.py"),
                    "--sizes",
                    "2000,10000" if args.quick else "10000,100000",
                    "--seconds",
                    "4" if args.quick else "10",
                    "--no-facts",
                ],
                timeout_s=3_600,  # filling 100k intents the first time takes minutes; the database is cached
            )
        )
    if not args.skip_dss:
        codes.append(
            run_step(
                "F3548 DSS under InterUSS's prober: heavy-traffic concurrent scenario at 10, 30, 100 workers",
                [sys.executable, str(HERE / "bench_dss_prober.py"), "--workers", "10,30,100", "--no-facts"],
                timeout_s=1_800,
            )
        )
    if not args.skip_disclosure:
        disclosure = [sys.executable, str(HERE / "bench_disclosure.py"), "--sizes", sizes.split(",", 1)[-1]]
        codes.append(
            run_step(
                "need to know: false alarms coverings add (100 m, 1 km, 5 km) and the check beside the exact one",
                [*disclosure, "--quick"] if args.quick else disclosure,
                timeout_s=3_600,
            )
        )
        codes.append(
            run_step(
                "need to know: what a hostile party learns of ten hidden sites, attack by attack",
                [sys.executable, str(HERE / "bench_red_team.py"), "--sites", "10"],
                timeout_s=1_200,
            )
        )
    if not args.skip_webhooks:
        codes.append(
            run_step(
                "webhooks: an honest party's delivery delay with 3 and 30 hostile webhooks, beside none",
                [sys.executable, str(HERE / "bench_webhooks.py"), "--rounds", "3" if args.quick else "5", "--no-facts"],
                timeout_s=600,
            )
        )
    if not args.skip_http:
        codes.append(
            run_step(
                "HTTP: declare throughput",
                [
                    sys.executable,
                    str(HERE / "bench_http.py"),
                    "--active",
                    str(active),
                    "--seconds",
                    f"{seconds:g}",
                    "--no-facts",
                ],
                timeout_s=1_800,
            )
        )
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
