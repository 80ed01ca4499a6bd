"""The storage contract, on SQLite and on PostgreSQL alike: parties, links, declarations, conflicts, events, the
record, savepoints and rollback, migrations. Every answer is compared with what it must be, so both backends give
the same one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from deconfliction.domain.conflicts import Conflict, ConflictKind, ConflictSide, ResolvedReason
from deconfliction.domain.declarations import DeclarationStatus
from deconfliction.domain.parties import Link, PartyStatus, RelayMode
from deconfliction.domain.timewindow import TimeWindow, parse_time
from deconfliction.storage import postgres, postgres_declarations, sqlite
from deconfliction.storage.base import DeclarationQuery, Store
from tests.conftest import BOTH_BACKENDS, square
from tests.storage.conftest import AT, INTEGRITY_ERRORS, Opener, add_parties, boxes_of, declaration, party

pytestmark = BOTH_BACKENDS

ACROSS_180 = {"type": "Polygon", "coordinates": [[[179.99, -0.01], [-179.99, -0.01], [-179.99, 0.01], [179.99, 0.01],
                                                  [179.99, -0.01]]]}  # fmt: skip


def test_parties_tokens_and_meta(store: Store) -> None:
    east = timezone(timedelta(hours=3))
    ids = ["sdf", "b_x", "b-x", "B", "a"]  # sorted byte by byte: 'B' < 'a', '-' < '_'
    with store.write() as tx:
        for n, party_id in enumerate(ids):
            tx.add_party(party(party_id, datetime(2017, 9, 9, 8, 0, n, 500 * n, tzinfo=east)))
        tx.add_token("hash-1", "sdf", AT)
        tx.set_meta("ledger.opened", "1")
        tx.set_meta("ledger.opened", "2")
    with store.read() as tx:
        assert [p.id for p in tx.list_parties()] == sorted(ids)
        got = tx.get_party("b-x")
        assert got == party("b-x", datetime(2017, 9, 9, 5, 0, 2, 1000, tzinfo=UTC))
        assert got is not None and got.created_at.tzinfo is UTC
        assert tx.get_party("nobody") is None
        assert tx.party_for_token("hash-1") == "sdf" and tx.party_for_token("hash-2") is None
        assert tx.get_meta("ledger.opened") == "2" and tx.get_meta("missing") is None
    with store.write() as tx:
        tx.update_party("sdf", PartyStatus.SUSPENDED, "key-b64", AT + timedelta(days=1))
    with store.read() as tx:
        assert tx.get_party("sdf") == replace(party("sdf"), status=PartyStatus.SUSPENDED, public_key="key-b64",
                                              created_at=datetime(2017, 9, 9, 5, 0, 0, tzinfo=UTC))  # fmt: skip
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.add_party(party("sdf"))
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.add_token("hash-3", "nobody", AT)  # a token names a known party


def test_links(store: Store) -> None:
    add_parties(store, "sdf", "coalition", "russia")
    with store.write() as tx:
        tx.add_link(Link("coalition", "sdf", RelayMode.AUTO, AT))
        tx.add_link(Link("coalition", "russia", RelayMode.REVIEW, AT))
    with store.read() as tx:
        assert tx.get_link("sdf", "coalition") == Link("coalition", "sdf", RelayMode.AUTO, AT)
        assert tx.get_link("sdf", "russia") is None
        assert [(k.a, k.b) for k in tx.list_links()] == [("coalition", "russia"), ("coalition", "sdf")]
    with store.write() as tx:
        tx.set_link(Link("coalition", "sdf", RelayMode.REVIEW, AT))
        tx.remove_link("russia", "coalition")
    with store.read() as tx:
        assert tx.list_links() == [Link("coalition", "sdf", RelayMode.REVIEW, AT)]
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.add_link(Link("sdf", "coalition", RelayMode.AUTO, AT))  # a link is stored in order, a < b


def _declarations(store: Store) -> None:
    add_parties(store, "sdf", "saa", "coalition")
    with store.write() as tx:
        assert tx.next_declaration_key() == 1
        for d in (
            declaration(1, "sdf", square(40.0, 35.0)),
            declaration(2, "saa", square(40.2, 35.0), audience="all", start="2017-10-01T00:00:00Z", end=None),
            declaration(3, "saa", square(10.0, 10.0), audience=["sdf"]),
            declaration(4, "coalition", square(40.0, 35.0), audience=["saa"], altitude={"lower_m": 0, "upper_m": 90}),
            declaration(5, "sdf", square(40.0, 35.0), status=DeclarationStatus.CANCELLED),
        ):
            tx.save_declaration(d, boxes_of(d))
        assert tx.next_declaration_key() == 6


def _keys(store: Store, viewer: str, **query: object) -> list[int]:
    with store.read() as tx:
        return [key for key, _ in tx.list_declarations(DeclarationQuery(viewer=viewer, **query))]


def test_declarations_are_listed_by_what_the_viewer_may_see_and_by_place_time_status_and_owner(store: Store) -> None:
    _declarations(store)
    assert _keys(store, "sdf") == [1, 2, 3]  # its own, shared with all, shared with it; not cancelled
    assert _keys(store, "saa") == [2, 3, 4]
    assert _keys(store, "coalition") == [2, 4]
    assert _keys(store, "sdf", status=None) == [1, 2, 3, 5]
    assert _keys(store, "sdf", status="cancelled") == [5]
    assert _keys(store, "sdf", party="saa") == [2, 3]
    assert _keys(store, "sdf", after_key=1, limit=1) == [2]
    assert _keys(store, "sdf", boxes=[(39.9, 34.9, 40.1, 35.1)]) == [1]
    assert _keys(store, "sdf", boxes=[(39.9, 34.9, 40.1, 35.1), (9.0, 9.0, 11.0, 11.0)]) == [1, 3]
    assert _keys(store, "sdf", boxes=[(0.0, 0.0, 1.0, 1.0)]) == []
    sept_20 = parse_time("2017-09-20T00:00:00Z", "t").timestamp()
    oct_1 = parse_time("2017-10-01T00:00:00Z", "t").timestamp()
    # windows are half-open: one that ends when the query starts, or starts when it ends, is not in it
    assert _keys(store, "sdf", start_s=sept_20) == [2]  # 2 is open-ended
    assert _keys(store, "sdf", end_s=oct_1) == [1, 3]
    assert _keys(store, "sdf", start_s=sept_20 - 1, end_s=oct_1 + 1) == [1, 2, 3]
    assert _keys(store, "sdf", start_s=oct_1 + 1e6, end_s=oct_1 + 2e6) == [2]
    assert _keys(store, "sdf", start_s=sept_20 - 1, end_s=sept_20 - 2) == [1, 3]  # an end before the start
    with store.read() as tx:
        listed = dict(tx.list_declarations(DeclarationQuery(viewer="sdf")))
        stored = tx.get_declaration("d2")
        assert stored is not None and listed[2] == stored.to_feature()  # the Feature as stored, as it is
        assert listed[2] == declaration(2, "saa", square(40.2, 35.0), audience="all", start="2017-10-01T00:00:00Z",
                                        end=None).to_feature()  # fmt: skip
        assert tx.get_declaration("d9") is None
        many = tx.get_declarations(["d3", "d9", "d1"])
        assert sorted(d.id for d in many) == ["d1", "d3"] and tx.get_declarations([]) == []
        one = tx.get_declaration("d1")
        assert one is not None and next(d for d in many if d.id == "d1").to_feature() == one.to_feature()


def test_a_new_version_replaces_place_time_and_audience(store: Store) -> None:
    _declarations(store)
    moved = declaration(1, "sdf", square(50.0, 50.0), version=2, audience=["coalition"], name="moved")
    unshared = declaration(3, "saa", square(10.0, 10.0), version=2, audience=["coalition"])
    with store.write() as tx:
        tx.save_declaration(moved, boxes_of(moved))
        tx.save_declaration(unshared, boxes_of(unshared))
    assert _keys(store, "sdf") == [1, 2]  # 3 is no longer shared with sdf
    assert _keys(store, "coalition") == [1, 2, 3, 4]
    assert _keys(store, "sdf", boxes=[(39.9, 34.9, 40.1, 35.1)]) == []
    assert _keys(store, "sdf", boxes=[(49.9, 49.9, 50.1, 50.1)]) == [1]
    with store.read() as tx:
        got = tx.get_declaration("d1")
        assert got is not None and got.version == 2 and got.to_feature() == moved.to_feature()
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.save_declaration(moved, boxes_of(moved))  # each version is kept once


def test_a_shape_across_180_is_found_from_either_side_and_not_between(store: Store) -> None:
    add_parties(store, "sdf")
    across = declaration(1, "sdf", ACROSS_180)
    assert len(boxes_of(across)) == 2
    with store.write() as tx:
        tx.save_declaration(across, boxes_of(across))
    assert _keys(store, "sdf", boxes=[(179.5, -1.0, 180.0, 1.0)]) == [1]
    assert _keys(store, "sdf", boxes=[(-180.0, -1.0, -179.5, 1.0)]) == [1]
    assert _keys(store, "sdf", boxes=[(0.0, -1.0, 1.0, 1.0)]) == []  # one box over all longitudes would say [1]


def test_visible_ids_and_the_active_declarations(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_declarations, "_BATCH", 2)  # PostgreSQL reads the active ones in batches
    _declarations(store)
    with store.read() as tx:
        assert tx.visible_declaration_ids("coalition", ["d1", "d2", "d3", "d4", "d5", "d9"]) == {"d2", "d4"}
        assert tx.visible_declaration_ids("sdf", []) == set()
        assert tx.count_active_declarations() == 4
        active = list(tx.active_declarations())
    assert [d.key for d in active] == [1, 2, 3, 4]
    assert active[3].to_feature() == declaration(4, "coalition", square(40.0, 35.0), audience=["saa"],
                                                 altitude={"lower_m": 0, "upper_m": 90}).to_feature()  # fmt: skip


def conflict(n: int, a: tuple[str, str], b: tuple[str, str], window: TimeWindow | None = None) -> Conflict:
    return Conflict(
        id=f"c{n}",
        kind=ConflictKind.PROXIMITY,
        a=ConflictSide(a[0], a[1], 1, (40.0, 35.0)),
        b=ConflictSide(b[0], b[1], 2, (40.25, 35.5)),
        distance_m=1234.5,
        required_m=5000,
        window=window or TimeWindow(AT, AT + timedelta(hours=1)),
        opened_at=AT,
    )


def test_conflicts_are_upserted_and_listed_per_side(store: Store) -> None:
    c1 = conflict(1, ("sdf", "d1"), ("saa", "d2"))
    c2 = conflict(2, ("saa", "d2"), ("coalition", "d4"), TimeWindow.instant(AT + timedelta(seconds=7)))
    c3 = conflict(3, ("sdf", "d1"), ("coalition", "d4"))
    own = conflict(4, ("sdf", "d1"), ("sdf", "d5"))
    with store.write() as tx:
        assert tx.conflicts_opened() == 0
        for c in (c1, c2, c3, own):
            tx.save_conflict(c)
    acked = c1.acknowledged_by("saa", AT + timedelta(minutes=1), "sig-saa")
    resolved = c3.resolved(ResolvedReason.CANCELLED, AT + timedelta(minutes=2))
    with store.write() as tx:
        assert tx.get_conflict("c2") == c2  # an instant stays an instant
        tx.save_conflict(acked)
        tx.save_conflict(resolved)
    with store.read() as tx:
        assert tx.get_conflict("c1") == acked and tx.get_conflict("c3") == resolved
        assert tx.get_conflict("c9") is None
        assert tx.conflicts_opened() == 4  # resolved ones included
        assert tx.open_conflicts_of_declaration("d1") == [acked, own]
        assert tx.open_conflicts_of_declaration("d4") == [c2]
        assert [c.id for c in tx.list_conflicts("sdf", None, 10)] == ["c3", "c1"]  # newest first; not its own
        assert [c.id for c in tx.list_conflicts("sdf", None, 1)] == ["c3"]
        assert [c.id for c in tx.list_conflicts("sdf", None, 10, before_seq=3)] == ["c1"]
        assert [c.id for c in tx.list_conflicts("saa", "open", 10)] == ["c2"]
        assert [c.id for c in tx.list_conflicts("saa", "acknowledged", 10)] == ["c1"]
        assert [c.id for c in tx.list_conflicts("sdf", "open", 10)] == ["c1"]  # saa acknowledged, not sdf
        assert [c.id for c in tx.list_conflicts("coalition", "resolved", 10)] == ["c3"]


def test_events_ids_follow_on_and_are_read_per_party(store: Store) -> None:
    with store.write() as tx:
        assert tx.append_event("sdf", "conflict.opened", {"id": "c1", "ü": ["é", 1.5, None]}, AT) == 1
        assert tx.append_event("saa", "conflict.opened", {"id": "c1"}, AT) == 2
        assert tx.append_event("sdf", "declaration.shared", {}, AT + timedelta(microseconds=1)) == 3
        tx.announce(["sdf", "saa"])
    with store.read() as tx:
        events = tx.events_after("sdf", 0, 10)
        assert [(e.id, e.party, e.type) for e in events] == [(1, "sdf", "conflict.opened"),
                                                            (3, "sdf", "declaration.shared")]  # fmt: skip
        assert events[0].data == {"id": "c1", "ü": ["é", 1.5, None]} and events[0].at == AT
        assert events[1].at == AT + timedelta(microseconds=1)
        assert [e.id for e in tx.events_after("sdf", 1, 10)] == [3]
        assert [e.id for e in tx.events_after("sdf", 0, 1)] == [1]
        assert tx.last_event_id("sdf") == 3 and tx.last_event_id("nobody") == 0
        assert tx.count_events_after("sdf", 0, 10) == 2 and tx.count_events_after("sdf", 1, 10) == 1
        assert tx.count_events_after("sdf", 0, 1) == 1 and tx.count_events_after("nobody", 0, 10) == 0


def test_the_record_comes_back_byte_for_byte(store: Store) -> None:
    entries = ['{"b":1,"a":"é  \\u00e9 ✓","n":1.0}', '{"seq":2,  "x":[1e400]}']  # not even canonical: kept as is
    with store.write() as tx:
        assert tx.ledger_head() is None
        tx.append_ledger(1, "h1", entries[0])
        tx.append_ledger(2, "h2", entries[1])
    with store.read() as tx:
        assert tx.ledger_head() == (2, "h2")
        assert tx.ledger_after(0, 10) == entries
        assert tx.ledger_after(1, 10) == entries[1:] and tx.ledger_after(0, 1) == entries[:1]
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.append_ledger(2, "h2b", "{}")


def test_declaration_digests(store: Store) -> None:
    _declarations(store)
    with store.write() as tx:
        assert tx.declaration_digest(1, 1) is None
        tx.save_declaration_digest(1, 1, "salt", "digest")
    with store.read() as tx:
        assert tx.declaration_digest(1, 1) == ("salt", "digest") and tx.declaration_digest(1, 2) is None


def test_a_savepoint_undoes_one_job_even_after_a_failed_statement(store: Store) -> None:
    with store.write() as tx:
        tx.add_party(party("a"))
        tx.savepoint()
        tx.add_party(party("b"))
        tx.rollback_to_savepoint()
        tx.savepoint()
        with pytest.raises(INTEGRITY_ERRORS):
            tx.add_party(party("a"))  # PostgreSQL aborts the transaction here; the savepoint rescues it
        tx.rollback_to_savepoint()
        tx.savepoint()
        tx.add_party(party("c"))
        tx.release_savepoint()
    with store.read() as tx:
        assert [p.id for p in tx.list_parties()] == ["a", "c"]


def test_a_failed_write_leaves_nothing_and_its_ids_are_given_again(store: Store) -> None:
    with store.write() as tx:
        assert tx.append_event("sdf", "x", {}, AT) == 1
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.add_party(party("x"))
        assert tx.append_event("sdf", "x", {}, AT) == 2
        assert tx.record_change("party", "x", AT) == 1
        raise RuntimeError("the job failed")
    with store.write() as tx:
        assert tx.get_party("x") is None
        assert tx.append_event("sdf", "x", {}, AT) == 2  # as SQLite's rowid: nothing was taken by the rollback
        assert tx.record_change("party", "x", AT) == 1


def test_migrations_are_the_same_versions_applied_once(opener: Opener) -> None:
    versions = [v for v, _ in sqlite.migrations()]
    assert [v for v, _ in postgres.migrations()] == versions == list(range(1, len(versions) + 1))
    first = opener()
    assert first.schema_version() == 0
    assert first.migrate() == versions
    assert first.migrate() == [] and opener().migrate() == []
    assert first.schema_version() == versions[-1]
