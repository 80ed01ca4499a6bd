"""Agreed deconfliction lines between two parties: the terms proposed, their digest, and their lifecycle.

A line is proposed by one party to another (`with`), saying which of the two keeps to which side and with what
tolerance; the other accepts or rejects it; either withdraws it. Only an accepted line binds. The geometry of sides
is in line_sides.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.geodesy import Vec3
from deconfliction.domain.geometry import Shape, parse_geometry
from deconfliction.domain.line_sides import Crossing, Keep, LineGeometry
from deconfliction.domain.numbers import finite_float
from deconfliction.domain.parties import check_party_id
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import format_time

LINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SALT = re.compile(r"^[0-9a-f]{32}$")
SUBJECT_PREFIX = "line:"  # a line conflict's side b names the line as "line:<id>" where a declaration id would be
_FIELDS = ("with", "geometry", "left", "right", "tolerance_m", "id", "salt", "signature")


class LineStatus(StrEnum):
    PROPOSED = "proposed"  # awaiting the other party's answer; binds no one
    ACCEPTED = "accepted"  # binds both parties
    REJECTED = "rejected"  # the other party declined it (final)
    WITHDRAWN = "withdrawn"  # either party withdrew it, proposed or accepted (final)


@dataclass(frozen=True, slots=True)
class LineLimits:
    max_vertices: int = 10_000
    max_tolerance_m: float = 100_000.0


@dataclass(frozen=True, slots=True)
class LineTerms:
    """What a proposal says: between whom, where, who keeps to which side, how far across is tolerated."""

    proposer: str
    partner: str  # the party it is proposed to: `with` in the API
    shape: Shape  # a LineString
    left: str
    right: str
    tolerance_m: float
    _sides: LineGeometry | None = field(default=None, compare=False, repr=False)

    @property
    def sides(self) -> LineGeometry:
        """The line ready for side tests (built on first use, then kept)."""
        if self._sides is None:
            object.__setattr__(self, "_sides", LineGeometry(self.shape))
        assert self._sides is not None
        return self._sides

    def keep(self, party: str) -> Keep:
        return Keep.LEFT if party == self.left else Keep.RIGHT

    def other(self, party: str) -> str:
        return self.partner if party == self.proposer else self.proposer

    def crossing(self, party: str, shape: Shape, radius_m: float) -> Crossing | None:
        """The rule: a shape of `party` grown by radius_m crosses the line when it reaches the other party's side
        farther than the tolerance (strictly). None when it does not (or lies beyond the line's reach)."""
        found = self.sides.reach(shape, radius_m, self.keep(party), beyond_m=self.tolerance_m)
        return found if found is not None and found.depth_m > self.tolerance_m else None

    def across(self, party: str, shape: Shape, radius_m: float) -> Crossing | None:
        """How far a shape of `party` grown by radius_m reaches across, tolerated or not (negative: it stays that far
        short of the line). None when it lies beyond the line's reach."""
        return self.sides.reach(shape, radius_m, self.keep(party))

    def depth_bounds(self, party: str, v: Vec3) -> tuple[float, float] | None:
        """Cheap bounds on how far the point at unit vector v of `party` lies across (see LineGeometry)."""
        return self.sides.depth_bounds(v, self.keep(party))


@dataclass(frozen=True, slots=True)
class Proposal:
    """A validated `POST /v1/lines` body; the signature is checked against the proposer's key by the service."""

    terms: LineTerms
    id: str | None
    salt: str | None
    signature: object


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    terms: LineTerms
    salt: str
    status: LineStatus
    created_at: datetime
    updated_at: datetime
    proposal_signature: str | None = None  # the proposer's, purpose "message"
    answer_signature: str | None = None  # the other party's, purpose "ack", on accepting or rejecting
    answered_at: datetime | None = None
    withdrawn_by: str | None = None

    @property
    def subject(self) -> str:
        return SUBJECT_PREFIX + self.id

    def content(self) -> dict[str, Any]:
        """What the digest covers. The salt keeps the record from confirming a guess of the geometry."""
        t = self.terms
        return {
            "id": self.id,
            "salt": self.salt,
            "proposer": t.proposer,
            "with": t.partner,
            "geometry": t.shape.geojson(),
            "left": t.left,
            "right": t.right,
            "tolerance_m": t.tolerance_m,
        }

    @property
    def digest(self) -> str:
        """Lowercase hex SHA-256 of the content's RFC 8785 JSON: what the proposer and the other party sign."""
        return digest_of(self.content())

    def involves(self, party: str) -> bool:
        return party in (self.terms.proposer, self.terms.partner)

    def binds(self, party: str) -> bool:
        return self.status is LineStatus.ACCEPTED and self.involves(party)

    def answered(self, status: LineStatus, signature: str | None, at: datetime) -> Line:
        return replace(self, status=status, answer_signature=signature, answered_at=at, updated_at=at)

    def withdrawn(self, party: str, at: datetime) -> Line:
        return replace(self, status=LineStatus.WITHDRAWN, withdrawn_by=party, updated_at=at)

    def view(self) -> dict[str, Any]:
        """The line as its two parties see it (no one else sees it at all)."""
        content = self.content()
        return {
            "id": self.id,
            "status": self.status.value,
            **{k: content[k] for k in ("proposer", "with", "left", "right", "geometry", "tolerance_m", "salt")},
            "digest": self.digest,
            "proposal_signature": self.proposal_signature,
            "answer_signature": self.answer_signature,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "answered_at": None if self.answered_at is None else format_time(self.answered_at),
            "withdrawn_by": self.withdrawn_by,
        }


def parse_proposal(proposer: str, body: object, limits: LineLimits) -> Proposal:
    """Validate a `POST /v1/lines` body; every error names its field."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object with with, geometry, left, right, tolerance_m", field="")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not a known member of a line proposal", field=unknown[0])
    if "with" not in body:
        raise InvalidInput("with: name the party the line is proposed to", field="with")
    partner = check_party_id(body["with"], "with")
    if partner == proposer:
        raise InvalidInput("with: a line is agreed with another party, not with oneself", field="with")
    shape = _parse_line_geometry(body.get("geometry"), limits)
    left, right = _sides(body, proposer, partner)
    tolerance_m = _tolerance(body.get("tolerance_m", 0.0), limits)
    line_id, salt, signature = body.get("id"), body.get("salt"), body.get("signature")
    if line_id is not None and (not isinstance(line_id, str) or not LINE_ID.match(line_id)):
        raise InvalidInput(
            "id must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", field="id"
        )
    if salt is not None and (not isinstance(salt, str) or not SALT.match(salt)):
        raise InvalidInput("salt must be 32 lowercase hex characters (16 random bytes)", field="salt")
    if signature not in (None, "") and (line_id is None or salt is None):
        missing = "id" if line_id is None else "salt"
        raise InvalidInput(
            f"{missing}: a signed proposal chooses its id and salt, since the signed digest covers them",
            field=missing,
        )
    terms = LineTerms(proposer, partner, shape, left, right, tolerance_m)
    return Proposal(terms, line_id, salt, signature)


def _parse_line_geometry(obj: object, limits: LineLimits) -> Shape:
    if not isinstance(obj, dict):
        raise InvalidInput("geometry must be a GeoJSON LineString", field="geometry")
    if obj.get("type") != "LineString":
        raise InvalidInput(f"geometry type {obj.get('type')!r} is not LineString", field="geometry.type")
    shape = parse_geometry(obj, max_vertices=limits.max_vertices)
    LineGeometry(shape).check("geometry.coordinates")
    return shape


def _sides(body: dict[str, Any], proposer: str, partner: str) -> tuple[str, str]:
    """(left, right): the proposer and `with`, one each; one of them given is enough."""
    pair = (proposer, partner)
    given: dict[str, str] = {}
    for name in ("left", "right"):
        value = body.get(name)
        if value is None:
            continue
        if value not in pair:
            raise InvalidInput(f"{name} must be {proposer!r} or {partner!r}, the line's two parties", field=name)
        given[name] = value
    if not given:
        raise InvalidInput("left: say which party keeps to the left of the line (and which to the right)", field="left")
    if given.get("left") is not None and given.get("left") == given.get("right"):
        raise InvalidInput("right: left and right must be different parties", field="right")
    if "left" in given:
        return given["left"], partner if given["left"] == proposer else proposer
    return (partner if given["right"] == proposer else proposer), given["right"]


def _tolerance(value: object, limits: LineLimits) -> float:
    number = finite_float(value)
    if number is None:
        raise InvalidInput("tolerance_m must be a number of metres", field="tolerance_m")
    if not 0 <= number <= limits.max_tolerance_m:
        raise InvalidInput(f"tolerance_m must be between 0 and {limits.max_tolerance_m:g} metres", field="tolerance_m")
    return number
