"""Two wired workers on one database: each applies the other's writes; pruning, and reloading when too far behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from deconfliction.bootstrap import Wired, wire
from deconfliction.config import Settings
from deconfliction.services import declarations, parties
from deconfliction.services.sync import FeedPruner, Sync
from tests.conftest import BOTH_BACKENDS, feature, square

pytestmark = BOTH_BACKENDS


@pytest.fixture
def other(settings: Settings, wired: Wired) -> Iterator[Wired]:
    """A second worker on the same database, started after the first."""
    second = wire(settings)
    yield second
    second.ctx.close()


def _sync(w: Wired) -> Sync:
    assert isinstance(w.ctx.writer.hook, Sync)
    return w.ctx.writer.hook


def test_a_worker_sees_the_others_declaration_before_its_own_write(wired: Wired, other: Wired) -> None:
    parties.create_party(wired.ctx, "sdf", "SDF", None)
    parties.create_party(wired.ctx, "saa", "SAA", None)
    first = declarations.declare(wired.ctx, "sdf", feature(square(40.2, 35.3)))
    assert first.declaration.key not in other.ctx.picture.declarations  # not written through it: not seen yet
    second = declarations.declare(other.ctx, "saa", feature(square(40.2, 35.3)))
    assert [c.b.party for c in second.conflicts] == ["sdf"]  # the catch-up under the lock found it
    assert first.declaration.key in other.ctx.picture.declarations
    # and back: the first worker applies the second's declaration, and a cancel, on its next write or refresh
    wired.ctx.writer.refresh()
    wired.ctx.writer.run(lambda out: None)
    assert second.declaration.key in wired.ctx.picture.declarations
    assert _sync(wired).applied >= 1


def test_pruning_keeps_the_newest_change_and_forgets_old_keys(wired: Wired) -> None:
    parties.create_party(wired.ctx, "sdf", "SDF", None)
    for i in range(3):
        declarations.declare(wired.ctx, "sdf", feature(square(40 + i, 35.3)))
    with wired.ctx.store.write() as tx:
        assert tx.claim_idempotency("scope", "k", "f", wired.ctx.clock())
        before = tx.last_change_seq()
    later = wired.ctx.clock() + timedelta(days=2)
    dropped_changes, dropped_keys = FeedPruner(wired.ctx).prune(later)
    assert dropped_changes >= 2 and dropped_keys == 1
    with wired.ctx.store.read() as tx:
        assert tx.first_change_seq() == tx.last_change_seq() == before
        assert tx.get_idempotency("scope", "k") is None


def test_a_worker_behind_the_pruned_feed_reloads_everything(wired: Wired, other: Wired) -> None:
    parties.create_party(wired.ctx, "sdf", "SDF", None)
    written = [declarations.declare(wired.ctx, "sdf", feature(square(40 + i, 35.3))) for i in range(3)]
    declarations.cancel(wired.ctx, "sdf", written[0].declaration.id)
    FeedPruner(wired.ctx).prune(wired.ctx.clock() + timedelta(days=1))  # the rows `other` needed are gone
    later = declarations.declare(wired.ctx, "sdf", feature(square(45, 35.3)))  # `other` is behind the oldest kept
    written.append(later)
    other.ctx.writer.refresh()
    other.ctx.writer.run(lambda out: None)
    assert _sync(other).reloads == 1
    assert set(other.ctx.picture.declarations) == {w.declaration.key for w in written[1:]}
