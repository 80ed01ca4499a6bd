"""The single writer: group commit, isolation of failing jobs, nothing acknowledged that is not on disk."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from deconfliction.bootstrap import Wired, wire
from deconfliction.config import Settings
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.parties import Party, PartyStatus
from deconfliction.services import conflicts, declarations, parties
from deconfliction.services.writer import Outbox
from tests.conftest import BOTH_BACKENDS, feature, square

AT = datetime(2017, 9, 9, tzinfo=UTC)


@BOTH_BACKENDS
def test_concurrent_conflicting_pairs_are_all_told_to_both_sides(wired: Wired) -> None:
    ctx = wired.ctx
    for p in ("sdf", "saa"):
        parties.create_party(ctx, p, p, None)
    pairs = 150
    jobs = [("sdf" if i % 2 == 0 else "saa", i // 2) for i in range(2 * pairs)]

    def declare(job: tuple[str, int]) -> None:
        party, n = job
        lon = 36 + (n % 50) * 0.2
        lat = 30 + (n // 50) * 0.2
        declarations.declare(ctx, party, feature(square(lon + (0.005 if party == "saa" else 0), lat)))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(declare, jobs))
    sdf = conflicts.list_conflicts(ctx, "sdf", None, 10_000)
    saa = conflicts.list_conflicts(ctx, "saa", None, 10_000)
    assert len(sdf) == len(saa) == pairs
    assert {c["id"] for c in sdf} == {c["id"] for c in saa}
    assert ctx.writer.jobs >= 2 * pairs + 2


@BOTH_BACKENDS
def test_a_failing_job_does_not_undo_the_others_of_its_group(wired: Wired) -> None:
    ctx = wired.ctx
    gate = threading.Event()

    def blocker(out: Outbox) -> str:
        gate.wait(10)  # hold the writer so that the next three jobs queue up as one group
        return "first"

    def add(party_id: str) -> object:
        def job(out: Outbox) -> str:
            out.tx.add_party(Party(party_id, party_id, PartyStatus.ACTIVE, None, AT))
            return party_id

        return job

    def broken(out: Outbox) -> None:
        out.tx.add_party(Party("half", "half", PartyStatus.ACTIVE, None, AT))
        raise InvalidInput("refused half-way")

    first = ctx.writer.submit(blocker)
    while ctx.writer._queue.qsize():  # the blocker has been taken: the next jobs will form their own group
        threading.Event().wait(0.01)
    futures = [ctx.writer.submit(add("one")), ctx.writer.submit(broken), ctx.writer.submit(add("two"))]
    gate.set()
    assert first.result(10) == "first"
    assert futures[0].result(10) == "one" and futures[2].result(10) == "two"
    with pytest.raises(InvalidInput):
        futures[1].result(10)
    assert [p.id for p in parties.list_parties(ctx)] == ["one", "two"]  # nothing of the broken job remains


def test_a_failed_commit_answers_every_job_with_the_error_and_unstages_the_picture(settings: Settings) -> None:
    wired = wire(settings)
    ctx = wired.ctx
    parties.create_party(ctx, "sdf", "SDF", None)
    gate, running = threading.Event(), threading.Event()

    def hold(out: Outbox) -> None:  # holds the writer while the next two jobs queue up
        running.set()
        gate.wait(10)

    held = ctx.writer.submit(hold)
    running.wait(10)

    def breaks_at_commit(out: Outbox) -> None:
        # a deferred foreign-key violation: every statement succeeds, the COMMIT itself fails
        out.tx.c.execute("PRAGMA defer_foreign_keys = ON")  # type: ignore[attr-defined]
        out.tx.add_token("f" * 64, "nobody", AT)

    doomed = ctx.writer.submit(breaks_at_commit)
    pending = ThreadPoolExecutor(1).submit(declarations.declare, ctx, "sdf", feature(square(40, 35)))
    while ctx.writer._queue.qsize() < 2:  # both queued behind the held job: they form one group
        threading.Event().wait(0.01)
    gate.set()
    held.result(10)
    with pytest.raises(Exception, match="FOREIGN KEY"):
        doomed.result(10)
    with pytest.raises(Exception, match="FOREIGN KEY"):
        pending.result(10)
    assert len(ctx.picture) == 0
    ok = declarations.declare(ctx, "sdf", feature(square(40, 35)))  # the writer goes on
    assert len(ctx.picture) == 1 and ok.declaration.version == 1
    ctx.close()
    reopened = wire(settings)
    assert len(reopened.ctx.picture) == 1
    reopened.ctx.close()


@BOTH_BACKENDS
def test_a_failing_side_effect_neither_loses_the_answer_nor_stops_the_writer(wired: Wired) -> None:
    ctx = wired.ctx

    def job(out: Outbox) -> str:
        out.tx.add_party(Party("kept", "kept", PartyStatus.ACTIVE, None, AT))
        out.after_commit.append(lambda: 1 / 0)  # type: ignore[func-returns-value, misc]
        return "committed"

    assert ctx.writer.run(job) == "committed"
    parties.create_party(ctx, "next", "Next", None)  # the writer goes on
    assert [p.id for p in parties.list_parties(ctx)] == ["kept", "next"]


def test_a_caller_that_stops_waiting_neither_fails_its_group_nor_loses_its_write(wired: Wired) -> None:
    """A request or event stream cancelled while its write is queued (its client went away) cancels the future it
    awaits. The write still happens and the others of its group get their answers — before, the writer hit
    InvalidStateError answering it, logged a failure and answered the rest of the group with that error."""
    ctx = wired.ctx
    gate, running = threading.Event(), threading.Event()

    def hold(out: Outbox) -> None:  # holds the writer while the next two jobs queue up as one group
        running.set()
        gate.wait(10)

    def add(party_id: str) -> Callable[[Outbox], str]:
        def job(out: Outbox) -> str:
            out.tx.add_party(Party(party_id, party_id, PartyStatus.ACTIVE, None, AT))
            return party_id

        return job

    held = ctx.writer.submit(hold)
    running.wait(10)
    given_up, waited = ctx.writer.submit(add("gone")), ctx.writer.submit(add("kept"))
    while ctx.writer._queue.qsize() < 2:
        threading.Event().wait(0.01)
    assert given_up.cancel()  # what asyncio.wrap_future does when the awaiting task is cancelled
    gate.set()
    held.result(10)
    assert waited.result(10) == "kept"
    assert [p.id for p in parties.list_parties(ctx)] == ["gone", "kept"]
    assert ctx.writer.run(add("after")) == "after"  # and the writer goes on
