"""The warnings a track's report raises: other parties' tracks it converges with (closest point of approach within
the horizon) and other parties' declared places whose separation zone it enters (time to entry).

Each finder returns, per pair, the warning to open — or None for a pair already warned of that still holds (kept
until 5 % beyond its separation, so that nothing flaps at the edge). The candidates come from the TrackPicture's grid
and the declarations' index; the exact geodesic checks (domain/cpa.py) run only where the screens cannot decide.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from deconfliction.domain.cpa import cap_boxes, closest_approach, may_reach, path_reaches, time_to_entry
from deconfliction.domain.declarations import Kind
from deconfliction.domain.geodesy import LonLat, advance
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


def track_findings(
    picture: TrackPicture, track: Track, now_s: float, held: Collection[Pair]
) -> dict[Pair, Found | None]:
    """Other parties' active tracks that come within separation of `track` within the horizon (now included), with
    the figures of the closest approach; None for a pair already warned of that still holds (kept until 5 % beyond
    its separation). The exact check runs only where the screen cannot decide."""
    motion = track.motion()
    found: dict[Pair, Found | None] = {}
    for key, lower_m, upper_m in sorted(picture.screened(track.key, now_s)):
        other = picture.tracks[key]
        pair = track_pair(track.key, key)
        if _vertically_apart(track, other, picture.vertical_m):
            continue  # 4D: aircraft a flight level apart pass safely; a warning held ends with it
        required = picture.required_m(track, other)
        warned = pair in held
        limit = required * KEEP if warned else required
        if lower_m >= limit:
            continue
        if warned and upper_m < limit:
            found[pair] = None  # certainly still converging: no need to measure
            continue
        approach = closest_approach(motion, other.motion(), now_s, picture.horizon_s)
        if approach.distance_m < limit or approach.distance_m == 0.0:
            found[pair] = (
                None
                if warned
                else Found(
                    other.party,
                    other.subject,
                    0,
                    approach.distance_m,
                    required,
                    approach.t_s,
                    approach.on_a,
                    approach.on_b,
                )
            )
    return found


def _vertically_apart(a: Track, b: Track, vertical_m: float) -> bool:
    """Both tracks report an altitude, and they are at least `vertical_m` apart (a track without one may be at any)."""
    alt_a, alt_b = a.latest.alt_m, b.latest.alt_m
    return alt_a is not None and alt_b is not None and abs(alt_a - alt_b) >= vertical_m


def place_findings(
    declarations: Picture, policy: SeparationPolicy, picture: TrackPicture, track: Track, now_s: float,
    held: Collection[Pair],
) -> dict[Pair, Found | None]:  # fmt: skip
    """Other parties' declared places (untimed) whose separation zone the track enters within the horizon, with the
    time of entry; None for a place already warned of that the track's path still reaches (5 % margin).

    A track is a mover: when neither side states a separation, the default between the place's kind and a route
    applies. A track without altitude is taken to be at every altitude.
    """
    motion, sep, alt = track.motion(), track.latest.separation_m, track.latest.alt_m
    end_s = now_s + picture.horizon_s
    if not len(declarations) and not picture.pairs_of(track.key):
        return {}
    # the path lies within its length of where the track is now
    boxes = cap_boxes(*motion.at(now_s), motion.speed_mps * picture.horizon_s + policy.reach_m(Kind.ROUTE, sep))
    keys = declarations.index.candidates(boxes, now_s, end_s, -1e9 if alt is None else alt, alt)
    keys |= {pair[2] for pair in held if pair[0] == "place" and isinstance(pair[2], int)}
    found: dict[Pair, Found | None] = {}
    for key in sorted(keys):
        place = declarations.declarations.get(key)
        if place is None or place.party == track.party or place.spec.timing is not None:
            continue
        s = place.spec
        start, end = max(now_s, s.window.start_s), min(end_s, s.window.end_s)
        if end < start or (alt is not None and not s.altitude.lower_m <= alt <= s.altitude.top_m):
            continue
        required = policy.required_m(s.kind, s.separation_m, Kind.ROUTE, sep)
        zone_m = required + s.radius_m
        if not may_reach(motion, s.shape, zone_m * KEEP, start, end):
            continue
        pair = place_pair(track.key, key)
        warned = picture.open.get(pair)
        if warned is not None and warned.b.declaration_version == place.version:
            if path_reaches(motion, s.shape, zone_m * KEEP, start, end) is not None:
                found[pair] = None
            continue
        entry = time_to_entry(motion, s.shape, zone_m, start, end)
        if entry is not None:
            on_place = advance(entry.on_place, entry.at, min(s.radius_m, entry.distance_m))
            distance_m = max(0.0, entry.distance_m - s.radius_m)
            found[pair] = Found(
                place.party, place.id, place.version, distance_m, required, entry.t_s, entry.at, on_place
            )
    return found
