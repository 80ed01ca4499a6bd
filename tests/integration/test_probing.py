"""Probing is seen (issue 13): a party whose brief declarations keep opening conflicts with the same declaration
hidden from it is reported to the owner, the admin and the record, and slowed — on SQLite and PostgreSQL, with a
clock the test moves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deconfliction.bootstrap import wire
from deconfliction.config import Settings
from deconfliction.domain.errors import RateLimited
from deconfliction.services import declarations, parties
from deconfliction.services.context import Context
from deconfliction.services.probing import ADMIN_STREAM
from tests.conftest import BOTH_BACKENDS, feature

pytestmark = BOTH_BACKENDS
START = datetime(2017, 9, 9, 5, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(settings: Settings, clock: Clock) -> Iterator[Context]:
    channel = wire(settings).ctx
    channel.clock = clock
    for pid in ("sdf", "saa"):
        parties.create_party(channel, pid, pid.upper(), None)
    yield channel
    channel.close()


def site(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return feature({"type": "Point", "coordinates": [lon, lat]}, kind="site", **props)


def events(ctx: Context, party: str, type_: str) -> list[dict[str, Any]]:
    with ctx.store.read() as tx:
        return [e.data for e in tx.events_after(party, 0, 1_000) if e.type == type_]


def probe(ctx: Context, clock: Clock, lon: float = 40.141, lat: float = 35.335) -> None:
    """saa declares a site that conflicts with sdf's hidden hospital, and cancels it two minutes later."""
    written = declarations.declare(ctx, "saa", site(lon, lat, separation_m=2000))
    assert written.conflicts, "the probe must conflict"
    clock.advance(120)
    declarations.cancel(ctx, "saa", written.declaration.id)
    clock.advance(120)


def test_six_brief_probes_tell_the_owner_the_admin_and_the_record_and_slow_the_prober(
    ctx: Context, clock: Clock
) -> None:
    hospital = declarations.declare(ctx, "sdf", site(40.1405, 35.3352, radius_m=100)).declaration
    for _ in range(5):
        probe(ctx, clock)
    assert events(ctx, "sdf", "disclosure.probing") == []
    probe(ctx, clock)
    [told] = events(ctx, "sdf", "disclosure.probing")
    assert told == {"party": "saa", "declaration": hospital.id, "count": 6, "since": "2017-09-09T05:00:00Z"}
    [admin] = events(ctx, ADMIN_STREAM, "disclosure.probing")
    assert admin == {**told, "owner": "sdf"}
    assert events(ctx, "saa", "disclosure.probing") == []  # the prober is not told it was seen
    with ctx.store.read() as tx:
        [entry] = [e for e in map(json.loads, tx.ledger_after(0, 10_000)) if e["type"] == "disclosure.probing"]
    assert entry["subject"] == ["saa"] and entry["detail"] == {"owner": "sdf", "count": 6}
    assert hospital.id not in str(entry)  # the record names no declaration
    # slowed: one declaration write a minute; cancelling is never slowed
    far = declarations.declare(ctx, "saa", site(45.0, 30.0)).declaration
    clock.advance(10)
    with pytest.raises(RateLimited) as refused:
        declarations.declare(ctx, "saa", site(45.1, 30.0))
    assert refused.value.retry_after_s == 50
    declarations.cancel(ctx, "saa", far.id)
    clock.advance(60)
    declarations.declare(ctx, "saa", site(45.1, 30.0))
    # sdf was never slowed; and after an hour without probes, neither is saa
    declarations.declare(ctx, "sdf", site(41.0, 36.0))
    declarations.declare(ctx, "sdf", site(41.1, 36.0))
    clock.advance(3600)
    declarations.declare(ctx, "saa", site(45.2, 30.0))
    declarations.declare(ctx, "saa", site(45.3, 30.0))


def test_long_lived_declarations_and_the_owners_own_edits_are_no_probes(ctx: Context, clock: Clock) -> None:
    hospital = declarations.declare(ctx, "sdf", site(40.1405, 35.3352, radius_m=100)).declaration
    for _ in range(8):  # saa's declaration stands 20 minutes each time: no probe
        written = declarations.declare(ctx, "saa", site(40.141, 35.335, separation_m=2000))
        clock.advance(1200)
        declarations.cancel(ctx, "saa", written.declaration.id)
    assert events(ctx, "sdf", "disclosure.probing") == []
    declarations.declare(ctx, "saa", site(40.141, 35.335, separation_m=2000))
    version = hospital.version
    for _ in range(8):  # the owner revising its own site ends the conflicts: saa did not end them
        feature_ = site(40.1405, 35.3352, radius_m=100)
        hospital = declarations.revise(ctx, "sdf", hospital.id, f'"{version}"', feature_).declaration
        version = hospital.version
        clock.advance(60)
    assert events(ctx, "sdf", "disclosure.probing") == []


def test_probes_of_a_declaration_shared_with_the_party_are_no_probes(ctx: Context, clock: Clock) -> None:
    declarations.declare(ctx, "sdf", site(40.1405, 35.3352, radius_m=100, audience="all"))
    for _ in range(7):
        probe(ctx, clock)
    assert events(ctx, "sdf", "disclosure.probing") == []
