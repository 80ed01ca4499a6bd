"""Messages between parties, relayed through intermediaries who may review but never alter what they pass on.

A message's content is fixed when it is sent: its digest (RFC 8785 + SHA-256, as the contract defines it) is what
the originator signs and what the recipient acknowledges. What changes as it travels is its place on the route
and the status of each hop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from deconfliction.domain.errors import InvalidInput, StateConflict
from deconfliction.domain.parties import PartyStatus, RelayMode
from deconfliction.domain.signing import digest_of
from deconfliction.domain.text import check_text
from deconfliction.domain.timewindow import format_time, parse_time

MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 20_000
MAX_REFS = 100
MAX_NOTE_CHARS = 2_000


class MessageStatus(StrEnum):
    QUEUED = "queued"  # on its way: moving, or waiting (see `waiting`)
    DELIVERED = "delivered"
    READ = "read"
    ACKNOWLEDGED = "acknowledged"  # received — never "approved"
    REFUSED = "refused"  # an intermediary declined to pass it on


class HopStatus(StrEnum):
    SENT = "sent"  # the originator's hop
    PENDING = "pending"  # not reached yet
    QUEUED = "queued"  # held here: awaiting this party's review, or the next party's return to active
    RELAYED = "relayed"
    REFUSED = "refused"
    DELIVERED = "delivered"
    READ = "read"
    ACKNOWLEDGED = "acknowledged"


class Waiting(StrEnum):
    REVIEW = "review"  # the holder must approve or refuse
    INACTIVE = "inactive"  # the next party on the route is suspended or withdrawn
    UNLINKED = "unlinked"  # the link to the next party was removed after the message was routed


def _text(value: object, field: str, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if required and not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} has {len(value)} characters; at most {limit} are allowed", field=field)
    return check_text(value, field)


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What the originator says, as signed: the object whose canonical digest the contract defines."""

    sender: str
    recipient: str
    subject: str
    body: str
    refs: tuple[str, ...] = ()
    ack_by: datetime | None = None

    @classmethod
    def parse(cls, sender: str, data: Mapping[str, Any]) -> MessageContent:
        to = data.get("to")
        if not isinstance(to, str) or not to:
            raise InvalidInput("to must name the recipient party", field="to")
        if to == sender:
            raise InvalidInput("a party cannot send a message to itself", field="to")
        refs = data.get("refs", [])
        if refs is None:
            refs = []
        if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
            raise InvalidInput("refs must be a list of declaration ids", field="refs")
        if len(refs) > MAX_REFS:
            raise InvalidInput(f"refs has {len(refs)} ids; at most {MAX_REFS} are allowed", field="refs")
        ack_by = data.get("ack_by")
        return cls(
            sender=sender,
            recipient=to,
            subject=_text(data.get("subject"), "subject", MAX_SUBJECT_CHARS),
            body=_text(data.get("body"), "body", MAX_BODY_CHARS, required=False),
            refs=tuple(refs),
            ack_by=None if ack_by is None else parse_time(ack_by, "ack_by").replace(microsecond=0),
        )

    def to_json(self) -> dict[str, Any]:
        """The digest object: `ack_by` omitted when absent, else UTC to the second."""
        out: dict[str, Any] = {
            "from": self.sender,
            "to": self.recipient,
            "subject": self.subject,
            "body": self.body,
            "refs": list(self.refs),
        }
        if self.ack_by is not None:
            out["ack_by"] = format_time(self.ack_by)
        return out

    @property
    def digest(self) -> str:
        return digest_of(self.to_json())


@dataclass(frozen=True, slots=True)
class Hop:
    party: str
    status: HopStatus
    at: datetime | None = None
    note: str | None = None  # an intermediary's note on approval, or its reason for refusing

    def to_json(self, role: str) -> dict[str, Any]:
        return {
            "party": self.party,
            "role": role,
            "status": self.status.value,
            "at": None if self.at is None else format_time(self.at),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Step:
    """One thing that happened to a message while it moved: recorded, and told to those concerned."""

    type: str  # message.relayed | message.held | message.delivered
    party: str  # who relayed it, who holds it, or who received it
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    content: MessageContent
    digest: str
    signature: str | None
    route: tuple[str, ...]
    position: int  # index in `route` of the party holding it
    status: MessageStatus
    hops: tuple[Hop, ...]
    created_at: datetime
    waiting: Waiting | None = None
    waiting_on: str | None = None  # the party whose action or return is awaited
    ack_signature: str | None = None
    acked_at: datetime | None = None
    overdue_at: datetime | None = None
    refused_by: str | None = None
    approved_at: int = -1  # the route position whose holder approved passing it on (kept while it waits)
    steps: tuple[Step, ...] = field(default=(), compare=False)

    @classmethod
    def new(
        cls, message_id: str, content: MessageContent, signature: str | None, route: list[str], at: datetime
    ) -> Message:
        hops = (Hop(route[0], HopStatus.SENT, at), *(Hop(p, HopStatus.PENDING) for p in route[1:]))
        return cls(message_id, content, content.digest, signature, tuple(route), 0, MessageStatus.QUEUED, hops, at)

    @property
    def holder(self) -> str:
        return self.route[self.position]

    @property
    def intermediaries(self) -> tuple[str, ...]:
        return self.route[1:-1]

    def reached(self, party: str) -> bool:
        """Whether the message has come to `party` (who may then see it)."""
        return party in self.route[: self.position + 1]

    def _hop(self, index: int, status: HopStatus, at: datetime, note: str | None = None) -> tuple[Hop, ...]:
        hops = list(self.hops)
        hops[index] = Hop(hops[index].party, status, at, note if note is not None else hops[index].note)
        return tuple(hops)

    def advance(
        self,
        statuses: Mapping[str, PartyStatus],
        relay_mode: Callable[[str, str], RelayMode | None],
        at: datetime,
    ) -> Message:
        """Move the message as far as it may go now; `steps` says what happened on the way.

        At each intermediary: a `review` link ahead holds it for the holder's decision unless the holder approved it
        already (`approve`); then a suspended or withdrawn next party holds it until that party is active again.
        The originator's own first link is never reviewed.
        """
        message, steps = self, []
        while message.status is MessageStatus.QUEUED:
            i = message.position
            here, ahead = message.route[i], message.route[i + 1]
            mode = relay_mode(here, ahead)
            if mode is None:
                if message.waiting is not Waiting.UNLINKED:
                    steps.append(Step("message.held", here, f"the link {here}–{ahead} was removed"))
                held = message.hops if i == 0 else message._hop(i, HopStatus.QUEUED, at)
                message = replace(message, waiting=Waiting.UNLINKED, waiting_on=ahead, hops=held)
                break
            if i > 0 and mode is RelayMode.REVIEW and message.approved_at != i:
                if message.waiting is not Waiting.REVIEW:
                    steps.append(Step("message.held", here, f"awaiting review by {here}"))
                message = replace(
                    message, waiting=Waiting.REVIEW, waiting_on=here, hops=message._hop(i, HopStatus.QUEUED, at)
                )
                break
            if statuses.get(ahead) is not PartyStatus.ACTIVE:
                reason = f"{ahead} is {statuses.get(ahead, 'unknown')}: the message waits until it is active again"
                if message.waiting is not Waiting.INACTIVE or message.waiting_on != ahead:
                    steps.append(Step("message.held", here, reason))
                held = message.hops if i == 0 else message._hop(i, HopStatus.QUEUED, at)
                message = replace(message, waiting=Waiting.INACTIVE, waiting_on=ahead, hops=held)
                break
            hops = list(message.hops if i == 0 else message._hop(i, HopStatus.RELAYED, at))
            if i > 0:
                steps.append(Step("message.relayed", here))
            if i + 1 == len(message.route) - 1:
                hops[i + 1] = Hop(ahead, HopStatus.DELIVERED, at)
                steps.append(Step("message.delivered", ahead))
                status = MessageStatus.DELIVERED
            else:
                status = MessageStatus.QUEUED
            message = replace(message, position=i + 1, hops=tuple(hops), status=status, waiting=None, waiting_on=None)
        return replace(message, steps=tuple(steps))

    def refuse(self, party: str, reason: str, at: datetime) -> Message:
        self._require_review_by(party)
        hops = self._hop(self.position, HopStatus.REFUSED, at, reason)
        return replace(
            self, status=MessageStatus.REFUSED, hops=hops, waiting=None, waiting_on=None, refused_by=party, steps=()
        )

    def approve(self, party: str, note: str | None, at: datetime) -> Message:
        """Note the approval on the holder's hop; `advance` then moves it on."""
        self._require_review_by(party)
        hops = self._hop(self.position, HopStatus.QUEUED, at, note)
        return replace(self, hops=hops, approved_at=self.position, waiting=None, waiting_on=None)

    def _require_review_by(self, party: str) -> None:
        if self.waiting is not Waiting.REVIEW or self.holder != party:
            raise StateConflict(f"message {self.id!r} is not awaiting review by {party!r}")

    def read_by_recipient(self, at: datetime) -> Message:
        if self.status is not MessageStatus.DELIVERED:
            return self
        return replace(self, status=MessageStatus.READ, hops=self._hop(len(self.route) - 1, HopStatus.READ, at))

    def acknowledged(self, signature: str | None, at: datetime) -> Message:
        if self.status not in (MessageStatus.DELIVERED, MessageStatus.READ):
            raise StateConflict(f"message {self.id!r} is {self.status.value}; only a delivered message is acknowledged")
        hops = self._hop(len(self.route) - 1, HopStatus.ACKNOWLEDGED, at)
        return replace(self, status=MessageStatus.ACKNOWLEDGED, hops=hops, ack_signature=signature, acked_at=at)

    def waiting_reason(self) -> str | None:
        if self.waiting is Waiting.REVIEW:
            return f"awaiting review by {self.waiting_on}"
        if self.waiting is Waiting.INACTIVE:
            return f"{self.waiting_on} is not active: the message waits until it is"
        if self.waiting is Waiting.UNLINKED:
            return f"the link from {self.holder} to {self.waiting_on} was removed: the message waits until it is back"
        return None

    def view(self) -> dict[str, Any]:
        """The message as its sender, recipient and the intermediaries that it reached see it."""
        last = len(self.route) - 1
        roles = ["originator", *["intermediary"] * (last - 1), "recipient"]
        c = self.content
        return {
            "id": self.id,
            "digest": self.digest,
            "from": c.sender,
            "to": c.recipient,
            "subject": c.subject,
            "body": c.body,
            "refs": list(c.refs),
            "ack_by": None if c.ack_by is None else format_time(c.ack_by),
            "signature": self.signature,
            "signed": self.signature is not None,
            "route": list(self.route),
            "status": self.status.value,
            "overdue": self.overdue_at is not None,
            "overdue_at": None if self.overdue_at is None else format_time(self.overdue_at),
            "waiting": None
            if self.waiting is None
            else {"on": self.waiting_on, "kind": self.waiting.value, "reason": self.waiting_reason()},
            "holder": self.holder,
            "hops": [hop.to_json(role) for hop, role in zip(self.hops, roles, strict=True)],
            "refused_by": self.refused_by,
            "acknowledgement": None
            if self.acked_at is None
            else {
                "at": format_time(self.acked_at),
                "signature": self.ack_signature,
                "signed": self.ack_signature is not None,
            },
            "created_at": format_time(self.created_at),
        }

    def to_record(self) -> dict[str, Any]:
        """Everything needed to rebuild the message (the store keeps it as one document)."""
        return {
            "id": self.id,
            "content": self.content.to_json(),
            "signature": self.signature,
            "route": list(self.route),
            "position": self.position,
            "status": self.status.value,
            "hops": [[h.party, h.status.value, None if h.at is None else format_time(h.at), h.note] for h in self.hops],
            "created_at": format_time(self.created_at),
            "waiting": None if self.waiting is None else self.waiting.value,
            "waiting_on": self.waiting_on,
            "ack_signature": self.ack_signature,
            "acked_at": None if self.acked_at is None else format_time(self.acked_at),
            "overdue_at": None if self.overdue_at is None else format_time(self.overdue_at),
            "refused_by": self.refused_by,
            "approved_at": self.approved_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Message:
        c = r["content"]

        def t(value: str | None) -> datetime | None:
            return None if value is None else parse_time(value, "stored time")

        content = MessageContent(c["from"], c["to"], c["subject"], c["body"], tuple(c["refs"]), t(c.get("ack_by")))
        return cls(
            id=r["id"],
            content=content,
            digest=content.digest,
            signature=r["signature"],
            route=tuple(r["route"]),
            position=r["position"],
            status=MessageStatus(r["status"]),
            hops=tuple(Hop(p, HopStatus(s), t(at), note) for p, s, at, note in r["hops"]),
            created_at=parse_time(r["created_at"], "stored time"),
            waiting=None if r["waiting"] is None else Waiting(r["waiting"]),
            waiting_on=r["waiting_on"],
            ack_signature=r["ack_signature"],
            acked_at=t(r["acked_at"]),
            overdue_at=t(r["overdue_at"]),
            refused_by=r["refused_by"],
            approved_at=r["approved_at"],
        )
