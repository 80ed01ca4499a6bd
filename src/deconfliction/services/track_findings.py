"""The warnings a track's report raises: other parties' tracks it converges with (closest point of approach within
the horizon), other parties' declared places whose separation zone it enters (time to entry), and other parties'
timed routes whose scheduled position it comes within separation of at the same time.

Each finder returns, per pair, the warning to open — or None for a pair already warned of that still holds (kept
until 5 % beyond its separation, so that nothing flaps at the edge). The candidates come from the TrackPicture's grid
and the declarations' index; the exact geodesic checks (domain/cpa.py) run only where the screens cannot decide.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Literal

from deconfliction.domain.convergence import Trajectory, trajectory
from deconfliction.domain.convergence import closest_approach as closest_approach_between
from deconfliction.domain.covering import floor_to, growth_bound_m, point_shape, widen_window
from deconfliction.domain.cpa import (
    Motion,
    cap_boxes,
    closest_approach,
    may_reach,
    motion_trajectory,
    path_reaches,
    time_to_entry,
)
from deconfliction.domain.declarations import Declaration, Kind
from deconfliction.domain.disclosure import may_see
from deconfliction.domain.geodesy import LonLat, advance
from deconfliction.domain.geometry import nearest
from deconfliction.domain.separation import SeparationPolicy
from deconfliction.domain.tracks import Track
from deconfliction.services.picture import Picture
from deconfliction.services.track_picture import KEEP, Pair, TrackPicture, place_pair, track_pair


@dataclass(frozen=True, slots=True)
class Found:
    """A warning to open: the other side, the figures, and where each side is at the time they concern."""

    other_party: str
    other_subject: str  # "track:<id>" or a declaration id
    other_version: int
    distance_m: float
    required_m: float
    t_s: float
    on_own: LonLat
    on_other: LonLat
    uncertainty_m: float = 0.0  # how far from on_own the warning may lie: the other side was compared as shown
    other_uncertainty_m: float = 0.0  # the same for the other side's location (the track compared as shown)


def track_findings(
    picture: TrackPicture, track: Track, now_s: float, held: Collection[Pair]
) -> dict[Pair, Found | None]:
    """Other parties' active tracks that come within separation of `track` within the horizon (now included), with
    the figures of the closest approach; None for a pair already warned of that still holds (kept until 5 % beyond
    its separation). The exact check runs only where the screen cannot decide.

    Each track is compared as other parties may know it — its fix at the centre of its cell at the track precision
    (`TrackPicture.shown_motion`) — with the separation grown by both cells' reach, so that no pair converging
    exactly is missed and no answer tells a party more of the other track than its cell."""
    motion, shown = track.motion(), picture.shown_motion(track)
    grow_m = 2 * picture.shown_reach_m
    found: dict[Pair, Found | None] = {}
    for key, lower_m, upper_m in sorted(picture.screened(track.key, now_s)):
        other = picture.tracks[key]
        pair = track_pair(track.key, key)
        if _vertically_apart(track, other, picture.vertical_m):
            continue  # 4D: aircraft a flight level apart pass safely; a warning held ends with it
        required = picture.required_m(track, other)
        warned = pair in held
        limit = (required * KEEP if warned else required) + grow_m
        if lower_m >= limit + grow_m:
            continue  # the shown fixes lie within grow_m of the exact ones: they cannot come within the limit
        if warned and upper_m < limit - grow_m:
            found[pair] = None  # certainly still converging: no need to measure
            continue
        approach = closest_approach(shown, picture.shown_motion(other), now_s, picture.horizon_s)
        if approach.distance_m < limit or approach.distance_m == 0.0:
            found[pair] = None if warned else _track_found(picture, motion, other, required, approach.t_s,
                                                           approach.distance_m - grow_m)  # fmt: skip
    return found


def _track_found(
    picture: TrackPicture, motion: Motion, other: Track, required_m: float, t_s: float, distance_m: float
) -> Found:
    """A warning between two tracks: each side's location is where it is itself at the closest approach."""
    step_m = picture.precision_m
    return Found(
        other.party,
        other.subject,
        0,
        floor_to(distance_m, step_m),
        required_m,
        t_s,
        motion.at(t_s),
        other.motion().at(t_s),
        2 * picture.shown_reach_m,
        2 * picture.shown_reach_m,
    )


def _vertically_apart(a: Track, b: Track, vertical_m: float) -> bool:
    """Both tracks report an altitude, and they are at least `vertical_m` apart (a track without one may be at any)."""
    alt_a, alt_b = a.latest.alt_m, b.latest.alt_m
    return alt_a is not None and alt_b is not None and abs(alt_a - alt_b) >= vertical_m


def place_findings(
    declarations: Picture, policy: SeparationPolicy, picture: TrackPicture, track: Track, now_s: float,
    held: Collection[Pair],
) -> dict[Pair, Found | None]:  # fmt: skip
    """Other parties' declarations the track comes too close to within the horizon: untimed places whose separation
    zone it enters (with the time of entry), timed routes whose scheduled position it comes within separation of at
    the same time (with the time of closest approach); None for a declaration already warned of that still holds (5 %
    margin).

    A track is a mover: when neither side states a separation, the default between the declaration's kind and a
    route applies. A track without altitude is taken to be at every altitude.
    """
    motion, sep, alt = track.motion(), track.latest.separation_m, track.latest.alt_m
    end_s = now_s + picture.horizon_s
    if not len(declarations) and not picture.pairs_of(track.key):
        return {}
    # the path lies within its length of where the track is now
    boxes = cap_boxes(*motion.at(now_s), motion.speed_mps * picture.horizon_s + policy.reach_m(Kind.ROUTE, sep))
    keys = declarations.index.candidates(boxes, now_s, end_s, -1e9 if alt is None else alt, alt)
    keys |= {pair[2] for pair in held if pair[0] == "place" and isinstance(pair[2], int)}
    path: list[Trajectory] = []  # the track's path as a Trajectory, made once if a timed route needs it
    found: dict[Pair, Found | None] = {}
    for key in sorted(keys):
        place = declarations.declarations.get(key)
        if place is None:
            continue
        finding = shown_finding(declarations, policy, picture, track, place, now_s, path)
        if finding is not False:
            found[place_pair(track.key, key)] = finding
    return found


def shown_finding(
    declarations: Picture, policy: SeparationPolicy, picture: TrackPicture, track: Track, place: Declaration,
    now_s: float, path: list[Trajectory] | None = None,
) -> Found | Literal[False] | None:  # fmt: skip
    """`declaration_finding` against the declaration as the track's party may know it: exactly when in its
    audience, else its covering (the earliest warning of its pieces) — then the distance is floored to the
    declaration's precision, and the owner's location is the point of its own exact shape nearest the track."""
    if may_see(place, track.party):
        return declaration_finding(policy, picture, track, place, now_s, path)
    if not _may_reach_covering(declarations, policy, picture, track, place, now_s):
        return False
    shown = declarations.as_known_by(place, track.party)
    findings = [declaration_finding(policy, picture, track, piece, now_s, path) for piece in shown]
    if None in findings:
        return None  # held, and still reached
    found = [f for f in findings if isinstance(f, Found)]
    if not found:
        return False
    finding = min(found, key=lambda f: (f.t_s, f.distance_m))
    step_m = shown[0].spec.precision_m or declarations.steps.precision_m
    near = nearest(place.spec.shape, point_shape(picture.shown_motion(track).at(finding.t_s)))
    return replace(
        finding,
        distance_m=floor_to(finding.distance_m, step_m),
        on_other=finding.on_other if near is None else near.on_a,
        uncertainty_m=growth_bound_m(step_m),
    )


def _may_reach_covering(
    declarations: Picture, policy: SeparationPolicy, picture: TrackPicture, track: Track, place: Declaration,
    now_s: float,
) -> bool:  # fmt: skip
    """False only when the track cannot come near the declaration's covering within the horizon: its exact shape
    lies farther than the covering's growth bound beyond the zone. An implication that spares making coverings."""
    s, bound = place.spec, declarations.bound_m(place, track.party)
    window = widen_window(s.window, declarations.steps.time_s)
    start, end = max(now_s, window.start_s), min(now_s + picture.horizon_s, window.end_s)
    sep = track.latest.separation_m
    required = policy.required_m(s.kind, None if s.separation_m is None else s.separation_m + bound, Kind.ROUTE, sep)
    zone_m = (required + s.radius_m + bound + picture.shown_reach_m) * KEEP
    return end >= start and may_reach(picture.shown_motion(track), s.shape, zone_m, start, end)


def declaration_finding(
    policy: SeparationPolicy, picture: TrackPicture, track: Track, place: Declaration, now_s: float,
    path: list[Trajectory] | None = None,
) -> Found | Literal[False] | None:  # fmt: skip
    """One declaration of another party against `track` (see `place_findings`): the warning to open, None for one
    already warned of that still holds, False for none. `path` caches the track's path as a Trajectory. The track is
    compared as its owner's counterpart may know it (`TrackPicture.shown_motion`), the zone grown by its cell's
    reach."""
    motion, sep, alt = picture.shown_motion(track), track.latest.separation_m, track.latest.alt_m
    grow_m, exact = picture.shown_reach_m, track.motion()
    s = place.spec
    if place.party == track.party or not place.active:
        return False
    start, end = max(now_s, s.window.start_s), min(now_s + picture.horizon_s, s.window.end_s)
    if end < start or (alt is not None and not s.altitude.lower_m <= alt <= s.altitude.top_m):
        return False
    required = policy.required_m(s.kind, s.separation_m, Kind.ROUTE, sep)
    if not may_reach(motion, s.shape, (required + s.radius_m + grow_m) * KEEP, start, end):
        return False
    warned = picture.open.get(place_pair(track.key, place.key))
    held = warned is not None and warned.b.declaration_version == place.version
    route = trajectory(s)
    if route is None:
        found = _place_finding(motion, place, required + grow_m, start, end, held)
    else:
        path = [] if path is None else path
        if not path:
            path.append(motion_trajectory(motion, now_s, now_s + picture.horizon_s))
        found = _route_finding(path[0], route, place, required + grow_m, start, end, held)
    if not isinstance(found, Found):
        return found
    step_m = picture.precision_m
    return replace(
        found,
        distance_m=floor_to(found.distance_m - grow_m, step_m),
        required_m=required,
        on_own=exact.at(found.t_s),
        other_uncertainty_m=grow_m,
    )


def _place_finding(
    motion: Motion, place: Declaration, required_m: float, start_s: float, end_s: float, held: bool
) -> Found | Literal[False] | None:
    """An untimed place: the track's first entry into its zone; None when held and still reached; False: none."""
    s = place.spec
    zone_m = required_m + s.radius_m
    if held:
        return None if path_reaches(motion, s.shape, zone_m * KEEP, start_s, end_s) is not None else False
    entry = time_to_entry(motion, s.shape, zone_m, start_s, end_s)
    if entry is None:
        return False
    on_place = advance(entry.on_place, entry.at, min(s.radius_m, entry.distance_m))
    distance_m = max(0.0, entry.distance_m - s.radius_m)
    return Found(place.party, place.id, place.version, distance_m, required_m, entry.t_s, entry.at, on_place)


def _route_finding(
    path: Trajectory, route: Trajectory, place: Declaration, required_m: float, start_s: float, end_s: float,
    held: bool,
) -> Found | Literal[False] | None:  # fmt: skip
    """A timed route: the closest approach of the track's path and the route's scheduled position, if within the
    separation plus the route's radius; None when held and still within 5 % beyond it; False: none."""
    zone_m = required_m + place.spec.radius_m
    reach_m = (zone_m * KEEP if held else zone_m) or 1e-6  # touching counts even with a zone of 0
    approach = closest_approach_between(path, route, start_s, end_s, reach_m)
    if approach is None:
        return False
    if held:
        return None
    distance_m = max(0.0, approach.distance_m - place.spec.radius_m)
    return Found(
        place.party, place.id, place.version, distance_m, required_m, approach.t_s, approach.on_a, approach.on_b
    )
