"""The storage contract, on SQLite and on PostgreSQL alike: messages, notifications, views, webhooks, tracks, lines,
MQTT secrets, the change feed and idempotency keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from deconfliction.domain.conflicts import ConflictKind, ResolvedReason
from deconfliction.domain.geometry import parse_geometry
from deconfliction.domain.lines import Line, LineStatus, LineTerms
from deconfliction.domain.messages import Message, MessageContent, MessageStatus, Waiting
from deconfliction.domain.notifications import Notification
from deconfliction.domain.tracks import Report, Track, TrackStatus
from deconfliction.domain.webhooks import Webhook
from deconfliction.storage import postgres_tracks
from deconfliction.storage.base import Store
from deconfliction.storage.channel import View
from tests.conftest import BOTH_BACKENDS
from tests.storage.conftest import AT, INTEGRITY_ERRORS, add_parties
from tests.storage.test_store_contract import conflict

pytestmark = BOTH_BACKENDS
HOUR = timedelta(hours=1)


def message(message_id: str, sender: str, recipient: str, route: list[str], signature: str | None) -> Message:
    content = MessageContent(sender, recipient, "Positions", "East bank", ("d1",), AT.replace(microsecond=0) + HOUR)
    return Message.new(message_id, content, signature, route, AT)


def test_messages_are_listed_per_box_and_kept_in_place_when_they_move(store: Store) -> None:
    add_parties(store, "sdf", "coalition", "saa")
    sent = message("m1", "sdf", "saa", ["sdf", "coalition", "saa"], "sig-1")
    held = replace(sent, position=1, waiting=Waiting.REVIEW, waiting_on="coalition")
    other = message("m2", "sdf", "coalition", ["sdf", "coalition"], None)
    with store.write() as tx:
        tx.save_message(sent)
        tx.save_message(other)
        tx.save_message(held)  # an update: the message keeps its place (seq 1)
    with store.read() as tx:
        assert tx.get_message("m1") == held and tx.get_message("m9") is None
        assert tx.list_messages("sdf", "outbox", 10, None) == [(2, other), (1, held)]
        assert tx.list_messages("sdf", "outbox", 10, 2) == [(1, held)]
        assert tx.list_messages("sdf", "all", 1, None) == [(2, other)]
        assert tx.list_messages("coalition", "relay", 10, None) == [(1, held)]
        assert tx.list_messages("coalition", "all", 10, None) == [(1, held)]  # m2 has not reached it yet
        assert tx.list_messages("saa", "all", 10, None) == []
        assert tx.messages_waiting_on("coalition") == [held]
        assert tx.due_messages(AT, 10) == []
        assert [m.id for m in tx.due_messages(AT + 2 * HOUR, 10)] == ["m1", "m2"]
        assert tx.message_with_signature("sig-1") == "m1" and tx.message_with_signature("sig-2") is None
    delivered = replace(held, position=2, status=MessageStatus.DELIVERED, waiting=None, waiting_on=None)
    acked = replace(other, position=1, acked_at=AT + HOUR, ack_signature="ack", status=MessageStatus.ACKNOWLEDGED)
    with store.write() as tx:
        tx.save_message(delivered)
        tx.save_message(acked)
    with store.read() as tx:
        assert tx.list_messages("saa", "inbox", 10, None) == [(1, delivered)]
        assert tx.list_messages("coalition", "inbox", 10, None) == [(2, acked)]
        assert tx.list_messages("coalition", "all", 10, None) == [(2, acked), (1, delivered)]
        assert tx.messages_waiting_on("coalition") == []
        assert [m.id for m in tx.due_messages(AT + 2 * HOUR, 10)] == ["m1"]
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.save_message(message("m3", "sdf", "saa", ["sdf", "saa"], "sig-1"))  # a signature is accepted once


def notification(n: int, declaration: str, ack_by_h: float | None = 1) -> Notification:
    ack_by = None if ack_by_h is None else AT + ack_by_h * HOUR
    return Notification(f"n{n}", "saa", "sdf", declaration, 1, "digest", "salt", AT, ack_by)


def test_notifications_by_status_declaration_and_deadline(store: Store) -> None:
    add_parties(store, "sdf", "saa")
    n1, n2, n3, n4 = (
        notification(1, "d1", 2),
        notification(2, "d1", 1),
        notification(3, "d2", None),
        notification(4, "d2", 3),
    )
    with store.write() as tx:
        for n in (n1, n2, n3, n4):
            tx.save_notification(n)
        acked = replace(n1, acked_at=AT + HOUR, ack_signature="sig")
        overdue = replace(n4, overdue_at=AT + 4 * HOUR)
        tx.save_notification(acked)
        tx.save_notification(overdue)
    with store.read() as tx:
        assert tx.get_notification("n1") == acked and tx.get_notification("n9") is None

        def ids(status: str | None, before: int | None = None, limit: int = 10) -> list[tuple[int, str]]:
            return [(seq, n.id) for seq, n in tx.list_notifications("saa", status, limit, before)]

        assert ids(None) == [(4, "n4"), (3, "n3"), (2, "n2"), (1, "n1")]
        assert ids(None, before=3) == [(2, "n2"), (1, "n1")] and ids(None, limit=1) == [(4, "n4")]
        assert ids("pending") == [(3, "n3"), (2, "n2")]
        assert ids("overdue") == [(4, "n4")] and ids("acknowledged") == [(1, "n1")]
        assert ids("unacknowledged") == [(4, "n4"), (3, "n3"), (2, "n2")]
        assert tx.list_notifications("sdf", None, 10, None) == []
        assert tx.notifications_of_declaration("d1") == [acked, n2]
        assert tx.due_notifications(AT, 10) == []
        assert tx.due_notifications(AT + 5 * HOUR, 10) == [n2]  # acknowledged, overdue, no deadline: not due
    superseded = replace(n2, superseded_at=AT + HOUR)
    with store.write() as tx:
        tx.save_notification(superseded)
        assert [n.id for _, n in tx.list_notifications("saa", "superseded", 10, None)] == ["n2"]
        assert tx.due_notifications(AT + 5 * HOUR, 10) == []


def test_views_in_order(store: Store) -> None:
    views = [View("d1", "saa", "read", AT), View("d1", "coalition", "list", AT + HOUR), View("d2", "saa", "event", AT)]
    with store.write() as tx:
        tx.add_views(views)
        tx.add_views([])
    with store.read() as tx:
        assert tx.views_of("d1", 0, 10) == [(1, views[0]), (2, views[1])]
        assert tx.views_of("d1", 1, 10) == [(2, views[1])] and tx.views_of("d1", 0, 1) == [(1, views[0])]
        assert tx.views_of("d2", 0, 10) == [(3, views[2])] and tx.views_of("d3", 0, 10) == []


def test_webhooks_are_upserted_and_listed_while_live(store: Store) -> None:
    add_parties(store, "sdf", "saa")
    first = Webhook("w1", "sdf", "https://example.test/1", "secret-1", AT, 0)
    older = Webhook("w2", "saa", "https://example.test/2", "secret-2", AT - HOUR, 3)
    later = Webhook("w3", "sdf", "https://example.test/3", "secret-3", AT + HOUR, 0)
    same_time = Webhook("w0", "sdf", "https://example.test/0", "secret-0", AT, 0)
    with store.write() as tx:
        for w in (first, older, later, same_time):
            tx.save_webhook(w)
    with store.read() as tx:
        assert [w.id for w in tx.list_webhooks(None)] == ["w2", "w1", "w0", "w3"]  # by creation
        assert tx.list_webhooks("sdf") == [first, same_time, later] and tx.get_webhook("w9") is None
    failed = replace(first, cursor=5, failures=2, next_attempt_s=1504933212.5, last_error="boom",
                     last_delivered_at=AT + HOUR)  # fmt: skip
    with store.write() as tx:
        tx.save_webhook(failed)
        tx.save_webhook(replace(later, removed_at=AT + 2 * HOUR))
    with store.read() as tx:
        assert tx.get_webhook("w1") == failed
        assert [w.id for w in tx.list_webhooks("sdf")] == ["w1", "w0"]  # an update keeps its place
        got = tx.get_webhook("w3")
        assert got is not None and got.removed_at == AT + 2 * HOUR


def report(t_s: int, **motion: Any) -> Report:
    return Report(t_s * 1_000_000, 40.0 + t_s / 1000, 35.0, **motion)


def test_track_reports_are_kept_once_and_tracks_upserted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_tracks, "_BATCH", 2)  # PostgreSQL reads the live tracks in batches
    add_parties(store, "sdf", "saa")
    r1, r2, r3 = report(1, alt_m=120.5, speed_mps=50, course_deg=90.0), report(2), report(3, stale_us=9_000_000)
    with store.write() as tx:
        assert tx.insert_track_reports("sdf", "t1", [r1, r2, r1], AT) == 2
        assert tx.insert_track_reports("sdf", "t1", [r2, r3], AT) == 1
        assert tx.insert_track_reports("sdf", "t1", [], AT) == 0
    with store.read() as tx:
        assert tx.track_reports("sdf", "t1", 10) == [r3, r2, r1]
        assert tx.track_reports("sdf", "t1", 2) == [r3, r2] and tx.track_reports("saa", "t1", 10) == []
    ids = ["t1", "T3", "t-2", "t_4"]
    tracks = {i: Track("sdf", i, TrackStatus.ACTIVE, "api", r3, r2, 3, r1.t_us, AT) for i in ids}
    tracks["t_4"] = replace(tracks["t_4"], status=TrackStatus.REMOVED, previous=None)
    theirs = Track("saa", "a", TrackStatus.LOST, "mqtt", r1, None, 1, r1.t_us, AT)
    with store.write() as tx:
        for t in (*tracks.values(), theirs):
            tx.save_track(t)
        lost = replace(tracks["t1"], status=TrackStatus.LOST, updated_at=AT + HOUR)
        tx.save_track(lost)
        tracks["t1"] = lost
    with store.read() as tx:
        assert tx.get_track("sdf", "t1") == lost and tx.get_track("saa", "t1") is None
        assert tx.list_tracks("sdf", ["active", "lost"], 10) == [tracks[i] for i in ("T3", "t-2", "t1")]  # bytes
        assert tx.list_tracks("sdf", ["removed"], 10) == [tracks["t_4"]]
        assert tx.list_tracks("sdf", ["active", "lost"], 1) == [tracks["T3"]]
        assert tx.list_tracks("sdf", [], 10) == []
        assert list(tx.live_tracks()) == [theirs, tracks["T3"], tracks["t-2"], tracks["t1"]]  # by party, track


def test_open_track_conflicts(store: Store) -> None:
    ours = replace(conflict(1, ("sdf", "track:sdf/t1"), ("saa", "d2")), kind=ConflictKind.CONVERGENCE)
    theirs = replace(conflict(2, ("saa", "d2"), ("sdf", "track:sdf/t1")), kind=ConflictKind.LINE)
    declared = conflict(3, ("sdf", "track:sdf/t1"), ("saa", "d2"))  # proximity: between declarations
    resolved = replace(ours, id="c4").resolved(ResolvedReason.SEPARATED, AT)
    with store.write() as tx:
        for c in (ours, theirs, declared, resolved):
            tx.save_conflict(c)
    with store.read() as tx:
        assert tx.open_track_conflict_ids() == ["c1", "c2"]


def line(n: int, proposer: str, partner: str, status: LineStatus = LineStatus.PROPOSED) -> Line:
    shape = parse_geometry({"type": "LineString", "coordinates": [[40.0, 35.0], [40.1, 35.2 + n / 10]]})
    terms = LineTerms(proposer, partner, shape, proposer, partner, 50.0)
    return Line(f"l{n}", terms, f"salt-{n}", status, AT, AT, proposal_signature=f"sig-{n}")


def _line(found: Line | None) -> tuple[Any, ...]:
    assert found is not None
    t = found.terms
    return (found.id, t.proposer, t.partner, t.left, t.right, t.tolerance_m, t.shape.geojson(), found.salt,
            found.status, found.created_at, found.updated_at, found.proposal_signature, found.answer_signature,
            found.answered_at, found.withdrawn_by)  # fmt: skip


def test_lines_are_upserted_and_listed_for_both_parties(store: Store) -> None:
    add_parties(store, "sdf", "saa", "coalition")
    l1, l2, l3 = line(1, "sdf", "saa"), line(2, "coalition", "sdf"), line(3, "saa", "coalition")
    accepted = replace(l1, status=LineStatus.ACCEPTED, answer_signature="ans", answered_at=AT + HOUR,
                       updated_at=AT + HOUR)  # fmt: skip
    with store.write() as tx:
        for x in (l1, l2, l3):
            tx.save_line(x)
        tx.save_line(accepted)
        tx.save_line(replace(l2, status=LineStatus.ACCEPTED))
    with store.read() as tx:
        assert _line(tx.get_line("l1")) == _line(accepted) and tx.get_line("l9") is None
        assert [(s, x.id) for s, x in tx.list_lines("sdf", None, 10, None)] == [(2, "l2"), (1, "l1")]
        assert [x.id for _, x in tx.list_lines("sdf", None, 10, 2)] == ["l1"]
        assert [x.id for _, x in tx.list_lines("saa", "proposed", 10, None)] == ["l3"]
        assert [x.id for x in tx.accepted_lines_of("sdf")] == ["l1", "l2"]
        assert [x.id for x in tx.accepted_lines_of("coalition")] == ["l2"]
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.save_line(line(4, "sdf", "sdf"))


def test_mqtt_secrets(store: Store) -> None:
    add_parties(store, "sdf")
    with store.write() as tx:
        assert tx.mqtt_secret("sdf") is None
        tx.set_mqtt_secret("sdf", "first", AT)
        tx.set_mqtt_secret("sdf", "second", AT + HOUR)
    with store.read() as tx:
        assert tx.mqtt_secret("sdf") == ("second", AT + HOUR)


def test_the_change_feed_runs_in_commit_order_and_keeps_its_newest_row(store: Store) -> None:
    with store.write() as tx:
        assert (tx.last_change_seq(), tx.first_change_seq(), tx.prune_changes(AT + HOUR)) == (0, 0, 0)
        assert [tx.record_change("declaration", str(k), AT + k * HOUR) for k in (1, 2, 3)] == [1, 2, 3]
    with store.write() as tx:
        assert tx.record_change("track", "sdf/t1", AT + 4 * HOUR) == 4
        assert [(c.seq, c.kind, c.ref) for c in tx.changes_after(2, 10)] == [(3, "declaration", "3"),
                                                                            (4, "track", "sdf/t1")]  # fmt: skip
        assert [c.seq for c in tx.changes_after(0, 2)] == [1, 2]
        assert tx.prune_changes(AT + 2 * HOUR) == 1  # older than the cut-off: only the first
        assert (tx.first_change_seq(), tx.last_change_seq()) == (2, 4)
        assert tx.prune_changes(AT + 10 * HOUR) == 2  # the newest stays, whatever its age
        assert (tx.first_change_seq(), tx.last_change_seq()) == (4, 4)
        assert tx.record_change("lines", "", AT) == 5  # never given twice


def test_idempotency_keys_are_claimed_once(store: Store) -> None:
    with store.write() as tx:
        assert tx.claim_idempotency("scope", "key-1", "fp", AT) is True
        assert tx.claim_idempotency("scope", "key-1", "other", AT) is False
        assert tx.claim_idempotency("other-scope", "key-1", "fp", AT + HOUR) is True
        record = tx.get_idempotency("scope", "key-1")
        assert record is not None and (record.fingerprint, record.created_at) == ("fp", AT)
        assert (record.status, record.body, record.headers) == (None, None, None)
        assert tx.get_idempotency("scope", "key-2") is None
        tx.complete_idempotency("scope", "key-1", 201, b"\x00\xff{}", '{"Location":"/v1/x"}')
    with store.read() as tx:
        record = tx.get_idempotency("scope", "key-1")
        assert record is not None and (record.status, record.body, record.headers) == (
            201,
            b"\x00\xff{}",
            '{"Location":"/v1/x"}',
        )
    with store.write() as tx:
        assert tx.prune_idempotency(AT + timedelta(seconds=1)) == 1
        assert tx.get_idempotency("scope", "key-1") is None
        assert tx.get_idempotency("other-scope", "key-1") is not None
