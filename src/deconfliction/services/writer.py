"""The single writer: every change to the channel runs here, one job at a time, with group commit.

Jobs queue up; the writer thread takes all that are waiting, runs each inside its own savepoint of one
transaction, commits once (one fsync for the whole group), and only then answers each caller. A job sees the
in-memory picture as left by the jobs before it — even those of the same group — so two writes can never miss
each other. If a job fails, its savepoint and its picture changes are undone and the others go on; if the commit
fails, every change of the group is undone and every caller gets the error: nothing is acknowledged that is not
on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from deconfliction.domain.declarations import Declaration
from deconfliction.domain.signing import Purpose
from deconfliction.domain.timewindow import format_time
from deconfliction.ledger.entry import Change, Detail, PartySignature
from deconfliction.services import idempotency
from deconfliction.services.chain import Chain
from deconfliction.services.picture import Picture
from deconfliction.storage.base import Store, Tx

T = TypeVar("T")
log = logging.getLogger("deconfliction.writer")
_MAX_GROUP = 256


class Outbox:
    """What one job does besides SQL: ledger entries, events to wake streams with, staged changes to the picture."""

    def __init__(self, tx: Tx, picture: Picture, chain: Chain) -> None:
        self.tx = tx
        self.picture = picture
        self.chain = chain
        self.parties: set[str] = set()
        self.last_change = 0  # the newest row this job added to the change feed (0: none)
        self._changed: set[tuple[str, str]] = set()
        self._undo: list[Callable[[], None]] = []
        self.after_commit: list[Callable[[], None]] = []

    def emit(self, party: str, type_: str, data: dict[str, Any], at: datetime) -> None:
        self.tx.append_event(party, type_, data, at)
        self.parties.add(party)

    def record(
        self,
        type_: str,
        actor: str,
        subject: tuple[str, ...],
        digest: str,
        at: datetime,
        detail: Detail | None = None,
        signed_by: tuple[str, str, Purpose, str] | None = None,
    ) -> dict[str, Any]:
        """Append a ledger entry for a state change of this job; `signed_by` is (party, public key, purpose,
        signature) when the party signed the digest. Undone with the job."""
        signature = None if signed_by is None else PartySignature(*signed_by)
        change = Change(format_time(at), type_, actor, subject, digest, detail or {}, signature)
        entry, undo = self.chain.append(self.tx, change)
        self.on_undo(undo)
        return entry

    def changed(self, kind: str, ref: str, at: datetime) -> None:
        """Note on the change feed that this job changed an object other workers hold in memory (see sync.py)."""
        if (kind, ref) not in self._changed:
            self._changed.add((kind, ref))
            self.last_change = self.tx.record_change(kind, ref, at)

    def on_undo(self, action: Callable[[], None]) -> None:
        """Run `action` if this job or its group's commit fails: it puts back what the job changed in memory.
        Actions run in reverse order of registration."""
        self._undo.append(action)

    def stage(self, declaration: Declaration) -> None:
        """Put a declaration's new state in the picture now; undone if the job or the commit fails."""
        previous = self.picture.declarations.get(declaration.key)
        self.changed("declaration", declaration.id, declaration.updated_at)
        self.picture.put(declaration)
        if previous is None:
            self.on_undo(lambda: self.picture.remove(declaration.key))
        else:
            self.on_undo(lambda: self.picture.put(previous))

    def undo(self) -> None:
        for action in reversed(self._undo):
            action()
        self._undo.clear()


def _quietly(action: Callable[[], None]) -> None:
    """Run an after-commit side effect (cache clear, stream wake-up); log, never raise, if it fails."""
    try:
        action()
    except Exception:
        log.exception("an after-commit action failed")


class _Refused(Exception):
    """A lone job failed: roll its transaction back and hand its error to the caller."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Outcome(Future[T]):
    """A job's answer. Its caller may stop waiting (a request or an event stream cancelled when its client goes
    away cancels the future it awaits): the job still runs — it was asked for, and a stream's record of what it
    showed must be kept — and its answer is dropped, rather than failing the writer and the rest of the group."""

    def set_result(self, result: T) -> None:
        try:
            super().set_result(result)
        except InvalidStateError:
            if not self.cancelled():
                raise

    def set_exception(self, exception: BaseException | None) -> None:
        try:
            super().set_exception(exception)
        except InvalidStateError:
            if not self.cancelled():
                raise


@dataclass
class _Job(Generic[T]):
    fn: Callable[[Outbox], T]
    future: Future[T] = field(default_factory=_Outcome)


class GroupHook(Protocol):
    """Keeps this process's memory whole when other processes write the same channel (services/sync.py)."""

    def before(self, tx: Tx) -> None:
        """At the start of a group, inside its write transaction (or a read one, to refresh): apply what others
        committed since."""

    def after(self, last_change: int) -> None:
        """The group committed; `last_change` is the newest change-feed row it wrote (0: none)."""


def _claiming(claim: idempotency.Claim, fn: Callable[[Outbox], T]) -> Callable[[Outbox], T]:
    """The job of a request with an Idempotency-Key: claims the key in its own transaction (services/idempotency.py).
    Only the request's first write job claims it; a failed job's claim is undone with it."""

    def job(out: Outbox) -> T:
        if claim.claimed:
            return fn(out)
        claim.take(out.tx)
        result = fn(out)
        claim.claimed = True
        return result

    return job


def _refresh(out: Outbox) -> None:
    """A marker job: asks the writer to apply what other processes committed, without writing anything."""


def _barrier(out: Outbox) -> None:
    """A marker job answered only once the writer has applied what other processes committed (caught_up)."""


class Writer:
    """Runs write jobs on one thread with group commit. Start it once; stop it at shutdown."""

    def __init__(self, store: Store, picture: Picture, chain: Chain, notify: Callable[[set[str]], None]) -> None:
        self.store = store
        self.picture = picture
        self.chain = chain
        self.notify = notify
        self.hook: GroupHook | None = None
        self._refresh_queued = False
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # figures for operators and benchmarks: groups committed, jobs run, seconds spent running jobs and committing
        self.groups = 0
        self.jobs = 0
        self.run_s = 0.0
        self.commit_s = 0.0

    def submit(self, fn: Callable[[Outbox], T]) -> Future[T]:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="deconf-writer", daemon=True)
                    self._thread.start()
        claim = idempotency.CURRENT.get()
        if claim is not None and not claim.claimed:
            fn = _claiming(claim, fn)
        job: _Job[T] = _Job(fn)
        self._queue.put(job)
        return job.future

    def run(self, fn: Callable[[Outbox], T]) -> T:
        """Submit a job and wait for its durable result (or its error)."""
        return self.submit(fn).result()

    def refresh(self) -> None:
        """Apply what other processes committed (soon, on the writer thread); used when one announces a write.
        Announcements come in bursts: one refresh waiting is enough for all of them."""
        with self._start_lock:
            if self._refresh_queued:
                return
            self._refresh_queued = True
        self.submit(_refresh)

    def caught_up(self, last_change: int) -> None:
        """Return once this process's memory holds every change up to `last_change` of the change feed — at once
        when it does already (one process; or nothing new). A read served from memory calls it first, so that a
        write another worker has answered is never missing from it."""
        seen = getattr(self.hook, "seen", None)
        if seen is None or seen >= last_change:
            return
        self.submit(_barrier).result()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group: list[_Job[Any]] = []
            barriers: list[_Job[Any]] = []
            self._take(first, group, barriers)
            self._gather(group, barriers)
            try:
                if group:
                    self._commit(group, barriers)
                else:  # only refreshes: apply the others' changes under a read snapshot, writing nothing
                    with self.store.read() as tx:
                        self._catch_up(tx)
            except BaseException as exc:  # a bug must not kill the writer and leave callers waiting forever
                log.exception("the writer failed on a group of %d jobs", len(group))
                for job in group + barriers:
                    if not job.future.done():
                        job.future.set_exception(exc)
            for job in barriers:  # the group (or the read) applied the others' changes first
                if not job.future.done():
                    job.future.set_result(None)

    def _take(self, job: _Job[Any], group: list[_Job[Any]], barriers: list[_Job[Any]]) -> None:
        """Add a job to the group; a refresh marker is answered at once instead: the group, or the read that a group
        of none makes, applies the others' changes anyway; a barrier is answered once it has."""
        if job.fn is _barrier:
            barriers.append(job)
            return
        if job.fn is not _refresh:
            group.append(job)
            return
        with self._start_lock:
            self._refresh_queued = False  # announcements from now on need another look
        job.future.set_result(None)

    def _gather(self, group: list[_Job[Any]], barriers: list[_Job[Any]]) -> None:
        """Add the jobs waiting now to `group` (in place), up to the group's limit."""
        while len(group) < _MAX_GROUP:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return
            if nxt is None:  # stopping: the loop sees it once this group is done
                self._queue.put(None)
                return
            self._take(nxt, group, barriers)

    def _catch_up(self, tx: Tx) -> None:
        """Another process may have written since this one last looked: take its ledger entries and the objects it
        changed (its declarations, tracks, lines, parties)."""
        self.chain.refresh(tx)
        if self.hook is not None:
            self.hook.before(tx)

    def _commit(self, group: list[_Job[Any]], barriers: list[_Job[Any]]) -> None:
        done: list[tuple[_Job[Any], Outbox, Any]] = []
        failed: list[tuple[_Job[Any], BaseException]] = []
        started = ran = time.perf_counter()
        try:
            with self.store.write() as tx:
                # Jobs that arrived while this one waited for the write lock (held by another worker) join the
                # group: the longer the wait, the larger the group, and it still costs one commit.
                self._gather(group, barriers)
                alone = len(group) == 1  # a job alone needs no savepoint: its failure rolls back the transaction
                self._catch_up(tx)
                for job in group:
                    out = Outbox(tx, self.picture, self.chain)
                    if not alone:
                        tx.savepoint()
                    try:
                        result = job.fn(out)
                    except Exception as exc:  # the caller gets it; the rest of the group goes on
                        out.undo()
                        if alone:
                            raise _Refused(exc) from exc
                        tx.rollback_to_savepoint()
                        failed.append((job, exc))
                        continue
                    if not alone:
                        tx.release_savepoint()
                    done.append((job, out, result))
                parties: set[str] = set().union(*(out.parties for _, out, _ in done))
                if parties or any(out.last_change for _, out, _ in done):
                    tx.announce(sorted(parties))  # other workers wake their streams and apply the change feed
                ran = time.perf_counter()
        except _Refused as refused:
            group[0].future.set_exception(refused.error)
            return
        except BaseException as exc:  # the commit failed: nothing of the group is on disk
            for _, out, _ in reversed(done):
                out.undo()
            for job, _, _ in done:
                job.future.set_exception(exc)
            for job, err in failed:
                job.future.set_exception(err)
            return
        self.groups += 1
        self.jobs += len(group)
        self.run_s += ran - started
        self.commit_s += time.perf_counter() - ran
        hook = self.hook
        if hook is not None:
            last_change = max((out.last_change for _, out, _ in done), default=0)
            _quietly(lambda: hook.after(last_change))
        for job, out, result in done:
            # The write is on disk: its caller gets its result even if a side effect below fails.
            job.future.set_result(result)
            for action in out.after_commit:
                _quietly(action)
        for job, err in failed:
            job.future.set_exception(err)
        if parties:
            _quietly(lambda: self.notify(parties))
