"""The channel's write path for the record and messages, in process, on a real SQLite file (group commit, fsync).

    .venv/bin/python bench/bench_channel.py [--seconds 5] [--clients 8]

Rows (each beside baselines measured in the same run, on the same store):

* ledger appends/s — writer jobs that each append one ledger entry (canonical JSON, SHA-256, Ed25519 sign, insert),
  submitted by `--clients` threads. Baselines: the same number of jobs each inserting one plain row (an event): the
  ceiling that group commit and fsync set; and the raw SHA-256 + Ed25519 sign in a loop (the cryptography's).
* messages relayed/s across two intermediaries — `POST /v1/messages`'s use case from sdf to saa over
  sdf–coalition–russia–saa (all links `auto`): route, digest, 4 ledger entries (sent, relayed ×2, delivered), 3
  events. Baseline: messages sent straight across one link (sdf → coalition: 2 entries, 2 events).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from deconfliction.bootstrap import wire
from deconfliction.config import load_settings
from deconfliction.domain.signing import Purpose, SigningKey, canonical, digest_of
from deconfliction.services import messages, parties
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox


def _rate(ctx: Context, make_job: Callable[[int], Callable[[Outbox], Any]], seconds: float, clients: int) -> float:
    """Jobs committed per second with `clients` threads each submitting and waiting, for `seconds`."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            ctx.write(make_job(k * 10_000_000 + i))
            i += 1
        done[k] = i

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def _raw_crypto_rate(seconds: float) -> float:
    key = SigningKey.generate()
    body = canonical({"seq": 1, "type": "message.relayed", "digest": "0" * 64, "prev": "0" * 64, "subject": ["x"]})
    n, stop = 0, time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < stop:
        key.sign(Purpose.LEDGER, hashlib.sha256(body).hexdigest())
        n += 1
    return n / (time.perf_counter() - t0)


def _channel(folder: Path) -> Context:
    settings = load_settings(env={}, overrides={"db": str(folder / "bench.db"), "admin_token": "bench-admin"})
    ctx = wire(settings).ctx
    for pid in ("sdf", "coalition", "russia", "saa"):
        parties.create_party(ctx, pid, pid.upper(), None)
    for a, b in (("sdf", "coalition"), ("coalition", "russia"), ("russia", "saa")):
        parties.add_link(ctx, a, b, "auto")
    return ctx


def measure(seconds: float, clients: int) -> list[tuple[str, float, str, float]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="deconf-bench-") as folder:
        ctx = _channel(Path(folder))
        try:

            def event(i: int) -> Callable[[Outbox], Any]:
                at = ctx.clock()
                return lambda out: out.tx.append_event("sdf", "bench.event", {"i": i}, at)

            plain = _rate(ctx, event, seconds, clients)

            def append(i: int) -> Callable[[Outbox], Any]:
                at = ctx.clock()
                return lambda out: out.record("bench.appended", "server", (str(i),), digest_of({"i": i}), at)

            appends = _rate(ctx, append, seconds, clients)
            raw = _raw_crypto_rate(seconds)
            rows.append(("ledger appends/s (committed)", appends, "jobs/s writing one plain row", plain))
            rows.append(("ledger appends/s (committed)", appends, "raw SHA-256 + Ed25519 sign/s", raw))

            def body(to: str) -> Callable[[int], Callable[[Outbox], Any]]:
                return lambda i: messages.send(ctx, "sdf", {"to": to, "subject": f"bench {i}", "body": "x" * 200})

            relayed = _rate(ctx, body("saa"), seconds, clients)
            direct = _rate(ctx, body("coalition"), seconds, clients)
            rows.append(("messages relayed/s via 2 intermediaries", relayed, "messages/s across one link", direct))
            with ctx.store.read() as tx:
                head = tx.ledger_head()
            rows.append(("ledger entries written in this run", float(head[0] if head else 0), "", 0.0))
        finally:
            ctx.close()
    return rows


def run(console: Console, seconds: float, clients: int) -> None:
    table = Table(title=f"The record and messages ({clients} client threads, {seconds:g} s each, SQLite, fsync)")
    for column in ("figure", "value", "baseline", "baseline value", "ratio"):
        table.add_column(column, justify="right" if column in ("value", "baseline value", "ratio") else "left")
    for name, value, base_name, base in measure(seconds, clients):
        ratio = f"{value / base:.2f}" if base else ""
        table.add_row(name, f"{value:,.0f}", base_name, f"{base:,.0f}" if base else "", ratio)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args(argv)
    run(Console(), args.seconds, args.clients)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
