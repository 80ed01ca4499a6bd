"""The conflict rule and conflicts as each of their two parties sees them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from deconfliction.domain.convergence import approach_to_place, closest_approach, trajectory
from deconfliction.domain.covering import Covering, floor_to, growth_bound_m
from deconfliction.domain.declarations import Declaration, DeclarationSpec
from deconfliction.domain.geodesy import advance
from deconfliction.domain.geometry import nearest
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.signing import digest_of
from deconfliction.domain.timewindow import TimeWindow, format_time

LonLat = tuple[float, float]


class ConflictKind(StrEnum):
    PROXIMITY = "proximity"  # two declarations' shapes within the required separation
    CONVERGENCE = "convergence"  # moving things (timed routes, tracks) closing within separation at the same time
    LINE = "line"  # a bound party's declaration or track on the other side of an accepted line


class ConflictStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ResolvedReason(StrEnum):
    CANCELLED = "cancelled"  # one of the declarations was cancelled
    UPDATED = "updated"  # one of the declarations changed; a new conflict is opened if they still conflict
    SEPARATED = "separated"  # tracks that were converging no longer are (or one was lost)
    LINE_ENDED = "line_ended"  # the line was rejected or withdrawn


@dataclass(frozen=True, slots=True)
class Finding:
    """What the rule found for a pair: figures only, no identity yet."""

    distance_m: float
    required_m: float
    window: TimeWindow
    location_a: LonLat  # on a's grown shape, nearest b (for movers: where a is at the closest approach)
    location_b: LonLat
    kind: ConflictKind = ConflictKind.PROXIMITY
    uncertainty_a_m: float = 0.0  # how far from location_a the conflict may be: b was compared as its covering
    uncertainty_b_m: float = 0.0


def assess(a: Declaration, b: Declaration, policy: SeparationPolicy) -> Finding | None:
    """Apply the conflict rule to two declarations; None when they do not conflict.

    Different parties, overlapping time windows, overlapping altitude bands, and the geodesic distance between the
    shapes (each grown by its radius) strictly less than the required separation — or zero: shapes that overlap or
    touch always conflict, even when both state a separation of 0.
    """
    if a.party == b.party:
        return None
    sa, sb = a.spec, b.spec
    window = sa.window.overlap(sb.window)
    if window is None or not sa.altitude.overlaps(sb.altitude):
        return None
    required_m = policy.required_m(sa.kind, sa.separation_m, sb.kind, sb.separation_m)
    grow_m = sa.radius_m + sb.radius_m
    if sa.timing is not None or sb.timing is not None:
        return _convergence(sa, sb, window, required_m, grow_m)
    near = nearest(sa.shape, sb.shape, within_m=required_m + grow_m)
    if near is None:
        return None
    distance_m = max(0.0, near.distance_m - grow_m)
    if distance_m >= required_m and distance_m > 0:  # shapes that overlap conflict even at a separation of 0
        return None
    return Finding(distance_m, required_m, window, *_grown(near.on_a, near.on_b, near.distance_m, sa, sb))


def _grown(
    on_a: LonLat, on_b: LonLat, core_m: float, sa: DeclarationSpec, sb: DeclarationSpec
) -> tuple[LonLat, LonLat]:
    """The nearest point of each grown shape lies along the geodesic joining the cores' nearest points."""
    if core_m <= 0:
        return on_a, on_b
    return advance(on_a, on_b, min(sa.radius_m, core_m)), advance(on_b, on_a, min(sb.radius_m, core_m))


def _convergence(
    sa: DeclarationSpec, sb: DeclarationSpec, window: TimeWindow, required_m: float, grow_m: float
) -> Finding | None:
    """A timed route conflicts only through where it is when: the closest approach within the common window."""
    ta, tb = trajectory(sa), trajectory(sb)
    start_s = window.start_s
    # after every mover has arrived nothing moves: the distance is what it is at the last arrival
    last_s = max([start_s, *(t.times_s[-1] for t in (ta, tb) if t is not None)])
    end_s = min(window.end_s, last_s) if window.end is not None else last_s
    reach_m = required_m + grow_m if required_m + grow_m > 0 else 1e-6
    if ta is not None and tb is not None:
        found = closest_approach(ta, tb, start_s, end_s, reach_m)
        if found is None:
            return None
        on_a, on_b = found.on_a, found.on_b
    elif ta is not None:
        found = approach_to_place(ta, sb, start_s, end_s, reach_m)
        if found is None:
            return None
        on_a, on_b = found.on_a, found.on_b
    else:
        assert tb is not None
        found = approach_to_place(tb, sa, start_s, end_s, reach_m)
        if found is None:
            return None
        on_a, on_b = found.on_b, found.on_a
    distance_m = max(0.0, found.distance_m - grow_m)
    if distance_m >= required_m and distance_m > 0:
        return None
    at = TimeWindow.instant(datetime.fromtimestamp(round(found.t_s), UTC))
    return Finding(distance_m, required_m, at, *_grown(on_a, on_b, found.distance_m, sa, sb), ConflictKind.CONVERGENCE)


@dataclass(frozen=True, slots=True)
class ConflictSide:
    party: str
    declaration: str
    declaration_version: int
    location: LonLat
    acknowledged_at: datetime | None = None
    ack_signature: str | None = None  # the party's Ed25519 signature over the conflict's digest, when it signed
    uncertainty_m: float = 0.0  # how far the conflict may lie from `location`: the other side was hidden from this


@dataclass(frozen=True, slots=True)
class Conflict:
    id: str
    kind: ConflictKind
    a: ConflictSide
    b: ConflictSide
    distance_m: float
    required_m: float
    window: TimeWindow
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_reason: ResolvedReason | None = None
    resolved_by: str | None = None  # the party whose change or cancellation of its declaration ended it

    def side(self, party: str) -> tuple[ConflictSide, ConflictSide]:
        """(own side, other side) for a party of the conflict."""
        if self.a.party == party:
            return self.a, self.b
        if self.b.party == party:
            return self.b, self.a
        raise ValueError(f"party {party!r} is not in conflict {self.id}")

    @property
    def digest(self) -> str:
        """What an acknowledgement signs: the conflict's identity, its two parties, the versions of their
        declarations, and when it opened. Neither declaration's id nor geometry: the record, which every party
        reads, must not let anyone link a hidden declaration to the conflict."""
        return digest_of(
            {
                "conflict": self.id,
                "kind": self.kind.value,
                "a": {"party": self.a.party, "version": self.a.declaration_version},
                "b": {"party": self.b.party, "version": self.b.declaration_version},
                "opened_at": format_time(self.opened_at),
            }
        )

    def involves(self, party: str) -> bool:
        return party in (self.a.party, self.b.party)

    def status_for(self, party: str) -> ConflictStatus:
        if self.resolved_at is not None:
            return ConflictStatus.RESOLVED
        own, _ = self.side(party)
        return ConflictStatus.ACKNOWLEDGED if own.acknowledged_at else ConflictStatus.OPEN

    def acknowledged_by(self, party: str, at: datetime, signature: str | None = None) -> Conflict:
        if self.a.party == party:
            return replace(self, a=replace(self.a, acknowledged_at=at, ack_signature=signature))
        return replace(self, b=replace(self.b, acknowledged_at=at, ack_signature=signature))

    def resolved(self, reason: ResolvedReason, at: datetime, by: str | None = None) -> Conflict:
        return replace(self, resolved_at=at, resolved_reason=reason, resolved_by=by)

    def view_for(self, party: str, *, other_visible: bool) -> dict[str, Any]:
        """The conflict as `party` may see it: nothing of the other's geometry, the other's id only if visible."""
        own, other = self.side(party)
        lon, lat = own.location
        return {
            "id": self.id,
            "kind": self.kind.value,
            "declaration": own.declaration,
            "declaration_version": own.declaration_version,
            "other_party": other.party,
            "other_declaration": other.declaration if other_visible else None,
            "distance_m": round(self.distance_m, 1),
            "required_m": self.required_m,
            "time": {
                "start": format_time(self.window.start),
                "end": None if self.window.end is None else format_time(self.window.end),
            },
            "location": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            "location_uncertainty_m": own.uncertainty_m,
            "status": self.status_for(party).value,
            "opened_at": format_time(self.opened_at),
            "acknowledged_at": None if own.acknowledged_at is None else format_time(own.acknowledged_at),
            "other_acknowledged": other.acknowledged_at is not None,
            "resolved_at": None if self.resolved_at is None else format_time(self.resolved_at),
            "resolved_reason": None if self.resolved_reason is None else self.resolved_reason.value,
            "digest": self.digest,
            "signature": own.ack_signature,
            "line": self._line_id(),
        }

    def _line_id(self) -> str | None:
        """For a `line` conflict, the id of the line crossed (either side may hold it as `line:<id>`)."""
        if self.kind is not ConflictKind.LINE:
            return None
        for side in (self.a, self.b):
            if side.declaration.startswith("line:"):
                return side.declaration[len("line:") :]
        return None


def assess_shown(
    a: Declaration, b: Declaration, a_shown: Covering, b_shown: Covering, policy: SeparationPolicy
) -> Finding | None:
    """The conflict rule as need to know allows: each side compared as the *other* party may know it.

    `a_shown` is `(a.spec,)` when b's party may see a, else a's covering (domain/covering.py: one piece, or a timed
    route's pieces); `b_shown` likewise. The decision and every figure then depend on a hidden declaration only
    through its covering: the finding is the nearest of those between any two pieces. Where either side is hidden,
    each side's location is the point of its own exact shape nearest the other as shown (never a point built from
    the other's shape), and the distance is floored to the hidden side's precision.
    """
    found = [
        f
        for pa in a_shown
        for pb in b_shown
        if (f := assess(replace(a, spec=pa), replace(b, spec=pb), policy)) is not None
    ]
    if not found:
        return None
    finding = min(found, key=lambda f: (f.distance_m, f.window.start_s))
    a_hidden, b_hidden = not _exact(a_shown, a.spec), not _exact(b_shown, b.spec)
    if not (a_hidden or b_hidden):
        return finding
    precisions = [s[0].precision_m or 0.0 for s, hidden in ((a_shown, a_hidden), (b_shown, b_hidden)) if hidden]
    step_m = max(precisions)
    return replace(
        finding,
        distance_m=floor_to(finding.distance_m, step_m),
        location_a=_own_point(a.spec, b_shown),
        location_b=_own_point(b.spec, a_shown),
        uncertainty_a_m=growth_bound_m(b_shown[0].precision_m or step_m) if b_hidden else 0.0,
        uncertainty_b_m=growth_bound_m(a_shown[0].precision_m or step_m) if a_hidden else 0.0,
    )


def _exact(shown: Covering, spec: DeclarationSpec) -> bool:
    return len(shown) == 1 and shown[0] is spec


def _own_point(own: DeclarationSpec, other: Covering) -> LonLat:
    """The point of `own`'s shape nearest `other`'s (as shown; its nearest piece)."""
    nears = [nearest(own.shape, piece.shape) for piece in other]
    return min((n for n in nears if n is not None), key=lambda n: n.distance_m).on_a
