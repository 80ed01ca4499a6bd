"""What each type of entry must say: who acts, what it is about, its detail, and the party signature it carries.

This is the table docs/ledger.md gives outside verifiers. The verifier checks every entry against it, and the chain
checks every entry before it stores it, so the server never records what its own verifier would refuse. Rules
that need the record before an entry (registered keys, links) are in `Registry`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deconfliction.domain.parties import PARTY_ID, RESERVED_PARTY_IDS
from deconfliction.domain.signing import Purpose, digest_of

RFC3339_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z")
ADMIN, SERVER, PARTY = "admin", "server", "party"  # who may act: the admin, the server, or a party
STRING, INTEGER, NULL = "string", "integer", "null"
JSON_TYPES = (STRING, INTEGER, "boolean", NULL)  # a detail member's allowed types; other names are allowed values
REGISTERING_TYPES = ("party.created", "party.updated")  # detail.public_key: the party's key from then on
LINK_TYPES = ("link.created", "link.updated", "link.removed")


class BadEntry(ValueError):
    """An entry (or line) that does not hold; `reason` says precisely why."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seq = seq


@dataclass(frozen=True, slots=True)
class Rule:
    """An entry type's form. `subject`: how many ids (0: one or more). `detail`: each member and the JSON types
    (or, for a string, the values) it may take — exactly these members. `purpose`: of the party signature it may
    carry (None: it carries none); `required_when_keyed`: the API refuses it unsigned from a party with a key."""

    actor: str
    subject: int
    detail: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    purpose: Purpose | None = None
    required_when_keyed: bool = False


def _rules() -> dict[str, Rule]:
    party_record = {"name": (STRING,), "status": ("active", "suspended", "withdrawn"), "public_key": (STRING, NULL)}
    link = {"a": (STRING,), "b": (STRING,), "relay": ("auto", "review")}
    version, party, pair = {"version": (INTEGER,)}, {"party": (STRING,)}, {"a": (STRING,), "b": (STRING,)}
    rules = {t: Rule(ADMIN, 1, party_record) for t in REGISTERING_TYPES}
    rules |= {t: Rule(ADMIN, 2, link) for t in LINK_TYPES}
    rules |= {f"declaration.{c}": Rule(PARTY, 1, version) for c in ("created", "updated", "cancelled")}
    rules |= {
        "declaration.notified": Rule(SERVER, 2, party | version),
        "declaration.unshared": Rule(PARTY, 1, party),
        "declarations.viewed": Rule(PARTY, 0, {"via": (STRING,), "count": (INTEGER,)}),
        "disclosure.probing": Rule(SERVER, 1, {"owner": (STRING,), "count": (INTEGER,)}),
        "notification.acknowledged": Rule(PARTY, 2, version, Purpose.ACK, required_when_keyed=True),
        "notification.overdue": Rule(SERVER, 2, party),
        "conflict.opened": Rule(SERVER, 1, pair),
        "conflict.acknowledged": Rule(PARTY, 1, {}, Purpose.ACK),
        "conflict.resolved": Rule(SERVER, 1, pair | {"reason": (STRING,)}),
        "message.sent": Rule(PARTY, 1, {"to": (STRING,)}, Purpose.MESSAGE),
        "message.held": Rule(SERVER, 1, party | {"waiting": (STRING, NULL), "on": (STRING, NULL)}),
        "message.relayed": Rule(PARTY, 1, party),
        "message.refused": Rule(PARTY, 1),
        "message.delivered": Rule(SERVER, 1, party),
        "message.read": Rule(PARTY, 1),
        "message.acknowledged": Rule(PARTY, 1, {}, Purpose.ACK, required_when_keyed=True),
        "message.overdue": Rule(SERVER, 1, {"status": (STRING,)}),
        "line.proposed": Rule(PARTY, 1, {"with": (STRING,)}, Purpose.MESSAGE),
        "line.accepted": Rule(PARTY, 1, {}, Purpose.AGREE),
        "line.rejected": Rule(PARTY, 1, {}, Purpose.ACK),
        "line.withdrawn": Rule(PARTY, 1),
        "dss.oir_created": Rule(PARTY, 1, version | {"state": (STRING,)}),
        "dss.oir_updated": Rule(PARTY, 1, version | {"state": (STRING,)}),
        "dss.constraint_created": Rule(PARTY, 1, version),
        "dss.constraint_updated": Rule(PARTY, 1, version),
        "dss.subscription_created": Rule(PARTY, 1, {"version": (STRING,)}),
        "dss.subscription_updated": Rule(PARTY, 1, {"version": (STRING,)}),
        "dss.availability_set": Rule(PARTY, 1, {"availability": (STRING,)}),
        "dss.report_made": Rule(PARTY, 1),
    }
    rules |= {f"dss.{kind}_deleted": Rule(PARTY, 1) for kind in ("oir", "constraint", "subscription")}
    rules |= {f"dss.{kind}_expired": Rule(SERVER, 1) for kind in ("oir", "constraint", "subscription")}
    return rules


RULES: dict[str, Rule] = _rules()


def json_type(value: Any) -> str:
    """The JSON type of a detail value, as the rules name it."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "boolean"
    return INTEGER if isinstance(value, int) else STRING if isinstance(value, str) else type(value).__name__


def check_time(at: Any, seq: int | None) -> None:
    """`at` is an RFC 3339 UTC time ending in Z that exists on the calendar (no 30 February, no hour 24)."""
    found = RFC3339_UTC.fullmatch(at) if isinstance(at, str) else None
    try:
        if found is None:
            raise ValueError("not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z")
        year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
        datetime(year, month, day, hour, minute, second)  # a calendar check only: raises for 30 February
    except ValueError as exc:
        raise BadEntry(f"at is not an RFC 3339 UTC time ending in Z: {exc}", seq) from None


def _check_actor(entry: dict[str, Any], rule: Rule, seq: int | None) -> None:
    actor = entry["actor"]
    if rule.actor == PARTY:
        if actor in RESERVED_PARTY_IDS or not PARTY_ID.fullmatch(actor):
            raise BadEntry(f"a {entry['type']} entry's actor is a party, not {actor!r}", seq)
    elif actor != rule.actor:
        raise BadEntry(f"a {entry['type']} entry's actor is {rule.actor!r}, not {actor!r}", seq)


def _check_detail(entry: dict[str, Any], rule: Rule, seq: int | None) -> None:
    detail: dict[str, Any] = entry["detail"]
    if set(detail) != set(rule.detail):
        raise BadEntry(
            f"a {entry['type']} entry's detail has the members {sorted(rule.detail)}, not {sorted(detail)}", seq
        )
    for name, allowed in rule.detail.items():
        value = detail[name]
        if (json_type(value) not in allowed) if allowed[0] in JSON_TYPES else (value not in allowed):
            raise BadEntry(f"detail.{name} of a {entry['type']} entry is {value!r}, not one of {allowed}", seq)


def _check_own_digest(entry: dict[str, Any], seq: int | None) -> None:
    """The digests an entry holds all the content of: a party's record, a link, a query of declarations."""
    type_, detail = entry["type"], entry["detail"]
    if type_ in REGISTERING_TYPES or type_ in LINK_TYPES:
        content = detail
    elif type_ == "declarations.viewed":
        content = {"viewer": entry["actor"], "declarations": entry["subject"], "via": detail["via"], "at": entry["at"]}
    else:
        return
    if digest_of(content) != entry["digest"]:
        raise BadEntry(f"the digest of a {type_} entry is not the digest of its content {content}", seq)


def _check_subject(entry: dict[str, Any], rule: Rule, seq: int | None) -> None:
    subject, type_, detail = entry["subject"], entry["type"], entry["detail"]
    if (len(subject) != rule.subject) if rule.subject else not subject:
        raise BadEntry(f"a {type_} entry is about {rule.subject or 'one or more'} ids, not {len(subject)}", seq)
    if type_ in REGISTERING_TYPES and (subject[0] in RESERVED_PARTY_IDS or not PARTY_ID.fullmatch(subject[0])):
        raise BadEntry(f"{subject[0]!r} is not a party id (admin and server are reserved)", seq)
    if type_ in LINK_TYPES and not (subject == [detail["a"], detail["b"]] and detail["a"] < detail["b"]):
        raise BadEntry(f"a {type_} entry's subject is [detail.a, detail.b], a before b", seq)
    if type_ == "declarations.viewed" and detail["count"] != len(subject):
        raise BadEntry(f"detail.count is {detail['count']}, but the entry names {len(subject)} declarations", seq)


def check_rules(entry: dict[str, Any], seq: int | None) -> None:
    """The entry (of the right shape) follows its type's rule; raises BadEntry. Needs nothing but the entry."""
    check_time(entry["at"], seq)
    rule = RULES.get(entry["type"])
    if rule is None:
        raise BadEntry(f"{entry['type']!r} is not a type of entry (docs/ledger.md lists them)", seq)
    _check_actor(entry, rule, seq)
    _check_detail(entry, rule, seq)
    _check_subject(entry, rule, seq)
    _check_own_digest(entry, seq)
    sig = entry["party_signature"]
    if sig is None:
        return
    if rule.purpose is None:
        raise BadEntry(f"a {entry['type']} entry carries no party signature", seq)
    if sig["purpose"] != rule.purpose.value:
        wanted = rule.purpose.value
        raise BadEntry(f"a {entry['type']} entry must carry a {wanted!r} signature, not {sig['purpose']!r}", seq)
    if sig["party"] != entry["actor"]:
        raise BadEntry(f"party_signature is by {sig['party']!r} but the actor is {entry['actor']!r}", seq)


@dataclass
class Registry:
    """What the record has said so far about parties (their keys) and links, for the rules that depend on it."""

    keys: dict[str, tuple[str | None, int]] = field(default_factory=dict)  # party -> (its key, the seq saying so)
    links: set[tuple[str, str]] = field(default_factory=set)

    def check(self, entry: dict[str, Any], seq: int) -> None:
        """The entry agrees with the record before it; raises BadEntry."""
        type_, actor, sig = entry["type"], entry["actor"], entry["party_signature"]
        if type_ == "party.created" and (party := entry["subject"][0]) in self.keys:
            raise BadEntry(f"party {party} is registered already (entry seq {self.keys[party][1]})", seq)
        if type_ in LINK_TYPES:
            self._check_link(entry, seq)
        if sig is not None:
            self._check_registered(sig, seq)
        elif RULES[type_].required_when_keyed:
            if actor not in self.keys:
                raise BadEntry(f"{actor} acknowledged, but no entry before this one registers {actor}", seq)
            key, since = self.keys[actor]
            if key is not None:
                raise BadEntry(
                    f"a {type_} entry by {actor} must be signed: {actor} has a registered key (entry seq {since})", seq
                )

    def _check_link(self, entry: dict[str, Any], seq: int) -> None:
        a, b = entry["subject"]
        for party in (a, b):
            if party not in self.keys:
                raise BadEntry(f"a link with {party}, but no entry before this one registers {party}", seq)
        exists = (a, b) in self.links
        if exists == (entry["type"] == "link.created"):
            raise BadEntry(f"{entry['type']}, but {a} and {b} are {'' if exists else 'not '}linked", seq)

    def _check_registered(self, sig: dict[str, str], seq: int) -> None:
        party = sig["party"]
        if party not in self.keys:
            raise BadEntry(f"{party} signed, but no entry before this one registers {party}", seq)
        key, since = self.keys[party]
        if key is None:
            raise BadEntry(f"{party} signed with a key, but has no registered key (entry seq {since})", seq)
        if sig["public_key"] != key:
            raise BadEntry(
                f"{party} signed with key {sig['public_key']}, not its registered key {key} (entry seq {since})", seq
            )

    def apply(self, entry: dict[str, Any], seq: int) -> None:
        """Take in what an entry that holds says."""
        type_ = entry["type"]
        if type_ in REGISTERING_TYPES:
            self.keys[entry["subject"][0]] = (entry["detail"]["public_key"], seq)
        elif type_ == "link.created":
            self.links.add((entry["subject"][0], entry["subject"][1]))
        elif type_ == "link.removed":
            self.links.discard((entry["subject"][0], entry["subject"][1]))
