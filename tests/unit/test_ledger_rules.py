"""Each type's rule (ledger/rules.py, the table of docs/ledger.md): an entry the server sealed properly but that
breaks a rule the API enforces is refused, with a reason naming the rule; the server refuses to record one."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from deconfliction.bootstrap import Wired
from deconfliction.domain.signing import Purpose, digest_of
from deconfliction.ledger.entry import Change, Detail, PartySignature
from deconfliction.ledger.rules import RULES, check_time
from deconfliction.ledger.verify import Report, verify_bytes
from deconfliction.services.writer import Outbox
from tests.conftest import Api
from tests.unit.ledger_chain import MESSAGE_ID, SAA, SDF_NEW, Chain, build_chain

AT = "2030-01-07T11:00:00Z"
MSG = build_chain().entries[10]["digest"]


def extended(*changes: Change) -> Report:
    """The intact chain plus properly sealed entries, verified."""
    chain = build_chain()
    for change in changes:
        chain.add(change)
    return verify_bytes(chain.data(), chain.server.public_key_b64)


def change(type_: str, actor: str, subject: tuple[str, ...], detail: Detail, at: str = AT) -> Change:
    return Change(at, type_, actor, subject, MSG, detail)


def ack(party: str = "saa", signed: bool = False, type_: str = "message.acknowledged") -> Change:
    sig = PartySignature(party, SAA.public_key_b64, Purpose.ACK, SAA.sign(Purpose.ACK, MSG)) if signed else None
    subject = (MESSAGE_ID,) if type_.startswith("message") else ("n-1", "d-7c1f")
    detail: Detail = {} if type_.startswith("message") else {"version": 1}
    return replace(change(type_, party, subject, detail), party_signature=sig)


def party(party_id: str, key: str | None = None, type_: str = "party.created", actor: str = "admin") -> Change:
    detail: Detail = {"name": party_id.upper(), "status": "active", "public_key": key}
    return Change(AT, type_, actor, (party_id,), digest_of(detail), detail)


def link(a: str, b: str, type_: str = "link.created", relay: str = "auto") -> Change:
    detail: Detail = {"a": a, "b": b, "relay": relay}
    return Change(AT, type_, "admin", (a, b), digest_of(detail), detail)


def test_each_acknowledgement_the_api_requires_signed_must_be_signed() -> None:
    for type_ in ("message.acknowledged", "notification.acknowledged"):
        report = extended(ack("saa", signed=False, type_=type_))  # saa registered a key at seq 2
        assert report.failure is not None and report.failure.seq == 23
        assert report.failure.reason == f"a {type_} entry by saa must be signed: saa has a registered key (entry seq 2)"
        assert extended(ack("saa", signed=True, type_=type_)).ok
        assert extended(ack("coalition", signed=False, type_=type_)).ok  # coalition has no key
        report = extended(ack("russia", signed=False, type_=type_))
        assert report.failure is not None and "no entry before this one registers russia" in report.failure.reason


def test_a_key_registered_later_or_removed_decides_from_then_on() -> None:
    assert not extended(party("coalition", SDF_NEW.public_key_b64, "party.updated"), ack("coalition")).ok
    assert extended(party("saa", None, "party.updated"), ack("saa")).ok  # saa's key withdrawn: unsigned is right


BAD_ENTRIES = [  # sealed by the server, each breaking one rule; and the reason the verifier gives
    (change("message.teleported", "sdf", (MESSAGE_ID,), {}), "'message.teleported' is not a type of entry"),
    (change("message.read", "admin", (MESSAGE_ID,), {}), "entry's actor is a party, not 'admin'"),
    (change("message.read", "Sdf", (MESSAGE_ID,), {}), "entry's actor is a party, not 'Sdf'"),
    (change("message.delivered", "saa", (MESSAGE_ID,), {"party": "saa"}), "actor is 'server', not 'saa'"),
    (change("message.read", "saa", (MESSAGE_ID, "x"), {}), "is about 1 ids, not 2"),
    (change("declarations.viewed", "saa", (), {"via": "list", "count": 0}), "about one or more ids, not 0"),
    (change("message.read", "saa", (MESSAGE_ID,), {"late": False}), "has the members [], not ['late']"),
    (change("message.sent", "sdf", ("m-44",), {}), "has the members ['to'], not []"),
    (change("declaration.created", "sdf", ("d-1",), {"version": "1"}), "detail.version of a declaration"),
    (change("declaration.created", "sdf", ("d-1",), {"version": True}), "detail.version of a declaration"),
    (change("message.read", "saa", (MESSAGE_ID,), {}, at="2026-02-30T00:00:00Z"), "at is not an RFC 3339"),
    (party("admin"), "'admin' is not a party id (admin and server are reserved)"),
    (party("server"), "'server' is not a party id"),
    (party("new", actor="sdf"), "party.created entry's actor is 'admin', not 'sdf'"),
    (party("sdf"), "party sdf is registered already (entry seq 18)"),
    (replace(party("new"), digest=MSG), "not the digest of its content"),
    (replace(party("new"), detail={"name": "N", "status": "active"}), "no detail.public_key"),  # crashed the docs'
    (replace(party("new"), detail={"name": "N", "status": "active", "public_key": "AAAA"}), "not a raw 32-byte"),
    (replace(party("new"), detail={"name": "N", "status": "asleep", "public_key": None}), "detail.status"),
    (link("coalition", "sdf"), "link.created, but coalition and sdf are linked"),
    (link("saa", "sdf", "link.removed"), "link.removed, but saa and sdf are not linked"),
    (link("russia", "sdf"), "a link with russia, but no entry before this one registers russia"),
    (link("sdf", "saa"), "subject is [detail.a, detail.b], a before b"),
    (link("saa", "sdf", relay="sometimes"), "detail.relay"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ENTRIES)
def test_an_entry_that_breaks_its_types_rule_is_refused(bad: Change, reason: str) -> None:
    report = extended(bad)
    assert report.failure is not None and report.failure.seq == 23, report.failure
    assert reason in report.failure.reason


def test_a_party_signature_on_a_type_that_carries_none_is_refused() -> None:
    signed = ack("saa", signed=True)
    report = extended(replace(signed, type="message.read"))
    assert report.failure is not None and "a message.read entry carries no party signature" in report.failure.reason
    report = extended(replace(signed, type="message.sent", detail={"to": "sdf"}))
    assert report.failure is not None and "must carry a 'message' signature, not 'ack'" in report.failure.reason


def test_the_digest_of_a_query_is_checked_and_its_count_is_the_ids_it_names() -> None:
    good = Chain()
    good.entries = build_chain().entries
    good.viewed("saa", ("d-7c1f",), "export")
    assert verify_bytes(good.data(), good.server.public_key_b64).ok
    entry = dict(good.entries[-1])
    report = extended(
        Change(entry["at"], entry["type"], "saa", ("d-7c1f",), entry["digest"], {"via": "ogc", "count": 1})
    )
    assert report.failure is not None and "not the digest of its content" in report.failure.reason
    report = extended(
        Change(entry["at"], entry["type"], "saa", ("d-7c1f",), entry["digest"], {"via": "export", "count": 2})
    )
    assert report.failure is not None and "detail.count is 2, but the entry names 1" in report.failure.reason


@pytest.mark.parametrize(
    "at",
    ["2026-02-30T00:00:00Z", "2030-01-07T24:00:00Z", "2030-13-01T00:00:00Z", "2030-01-07T10:60:00Z",
     "2030-01-07T10:00:00+00:00", "2030-01-07 10:00:00Z", "2030-01-07T10:00:00.Z", "0000-01-01T00:00:00Z",
     "2030-01-07T10:00:00Z\n", 20300107],
)  # fmt: skip
def test_only_times_that_exist_are_times(at: object) -> None:
    with pytest.raises(ValueError, match="at is not an RFC 3339 UTC time"):
        check_time(at, 1)


def test_real_times_pass() -> None:
    for at in ("2028-02-29T23:59:59Z", "2030-01-07T10:00:00.250000Z", "2030-01-07T10:00:00.123456789Z"):
        check_time(at, 1)


def test_every_type_the_services_record_has_a_rule() -> None:
    """The rule table covers every type named in the source; a type added without a rule fails here early (and
    the chain refuses to record it)."""
    import re
    from pathlib import Path

    services = Path(__file__).resolve().parents[2] / "src" / "deconfliction" / "services"
    named = set()
    for path in services.glob("*.py"):
        named |= set(
            re.findall(
                r'"((?:party|link|declarations?|notification|conflict|message|line|dss)\.[a-z_]+)"', path.read_text()
            )
        )
    events_only = {"message.received", "message.updated", "message.review_requested", "declaration.shared",
                   "party.status_changed", "conflict.updated"}  # fmt: skip
    assert named - set(RULES) - events_only == set()


def test_the_server_refuses_to_record_an_entry_its_rules_refuse(wired: Wired) -> None:
    ctx = wired.ctx
    with ctx.store.read() as tx:
        before = tx.ledger_head()

    def job(out: Outbox) -> None:
        out.record("message.teleported", "server", ("m-1",), MSG, ctx.clock())

    with pytest.raises(RuntimeError, match=r"'message\.teleported' is not a type of entry"):
        ctx.write(job)
    with ctx.store.read() as tx:
        assert tx.ledger_head() == before


@pytest.mark.parametrize("party_id", ["admin", "server"])
def test_the_ids_the_record_names_its_actors_by_are_reserved(api: Api, party_id: str) -> None:
    r = api.call("admin", "POST", "/v1/parties", json={"id": party_id, "name": "Imposter"})
    assert r.status_code == 422 and r.json()["field"] == "id" and "reserved" in r.json()["detail"], r.text
    assert api.call("admin", "GET", "/v1/parties").json() == []


def test_an_id_with_a_trailing_newline_is_not_a_party_id(api: Api) -> None:
    r = api.call("admin", "POST", "/v1/parties", json={"id": "sdf\n", "name": "SDF"})
    assert r.status_code == 422 and r.json()["field"] == "id", r.text


def test_a_key_in_non_canonical_base64_is_refused_as_every_verifier_would(api: Api) -> None:
    canonical = SAA.public_key_b64
    other = canonical[:42] + chr(ord(canonical[42]) + 1) + "="  # the same 32 bytes, a padding bit set
    assert base64.b64decode(other) == base64.b64decode(canonical)
    r = api.call("admin", "POST", "/v1/parties", json={"id": "saa", "name": "SAA", "public_key": other})
    assert r.status_code == 422 and r.json()["field"] == "public_key" and "canonical" in r.json()["detail"], r.text
