"""OGC API – Features over the caller's picture: four collections, read through the existing services, under the
same need-to-know rules as the rest of the API.

Each collection's items are GeoJSON Features with flat properties (one column each in a GIS attribute table, the
same columns on every feature). Parameters follow the standard: bad values are 400, not 422.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deconfliction.domain.declarations import Declaration
from deconfliction.domain.disclosure import may_see
from deconfliction.domain.errors import DomainError, InvalidInput, NotFound
from deconfliction.domain.numbers import parse_whole
from deconfliction.domain.timewindow import format_time, from_epoch_s, parse_time
from deconfliction.services import conflicts, declarations, lines, tracks
from deconfliction.services.context import Context
from deconfliction.storage.base import Box, DeclarationQuery

WORLD: Box = (-180.0, -90.0, 180.0, 90.0)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# Collections whose cursor is an offset into a list the store returns whole (no seq to page by): read at most this.
MAX_OFFSET = 100_000

COLLECTIONS: dict[str, tuple[str, str]] = {
    "declarations": (
        "Declarations",
        "Active declarations the caller may see: its own, and others' whose audience includes it.",
    ),
    "conflicts": (
        "Conflicts",
        "The caller's conflicts, each a point on the caller's own shape; never the other party's geometry.",
    ),
    "lines": ("Lines", "Agreed lines the caller proposed or was proposed, in any status."),
    "tracks": ("Tracks", "The latest position of each of the caller's own live tracks."),
}


class BadParameter(DomainError):
    """A query parameter OGC API – Features clients sent wrong: 400, as the standard asks."""


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    boxes: list[Box]
    start_s: float | None  # features active at or after this
    end_s: float | None  # features active at or before this
    limit: int
    cursor: int  # opaque to clients: a declaration key, a line seq, or an offset


@dataclass(frozen=True, slots=True)
class Page:
    features: list[dict[str, Any]]
    next_cursor: int | None


def collection_of(collection_id: str) -> tuple[str, str]:
    """(title, description), or 404."""
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r}; the collections are {', '.join(COLLECTIONS)}")
    return found


def _instant_s(text: str) -> float:
    try:
        return parse_time(text, "datetime").timestamp()
    except InvalidInput as exc:
        raise BadParameter(exc.detail, field="datetime") from None


def parse_datetime(value: str | None) -> tuple[float | None, float | None]:
    """OGC `datetime`: an instant, or an interval `start/end` whose open ends are `..` (or empty)."""
    if value is None:
        return None, None
    parts = value.split("/")
    if len(parts) == 1:
        instant = _instant_s(value)
        return instant, instant
    if len(parts) != 2:
        raise BadParameter(
            "datetime must be an instant or an interval start/end (`..` for an open end)", field="datetime"
        )
    start, end = (None if p in ("", "..") else _instant_s(p) for p in parts)
    if start is not None and end is not None and end < start:
        raise BadParameter("datetime: the interval's end is before its start", field="datetime")
    return start, end


def parse_limit(value: str | None, default: int, maximum: int) -> int:
    """1.. (a larger limit is served as the maximum, as the standard asks)."""
    if value is None:
        return min(default, maximum)
    if not (value.isascii() and value.isdigit()):
        raise BadParameter(f"limit {value!r} is not a whole number", field="limit")
    if len(value) > 19:  # beyond any int64: served as the maximum like any other large limit
        return maximum
    limit = int(value)
    if limit < 1:
        raise BadParameter("limit must be at least 1", field="limit")
    return min(limit, maximum)


def parse_cursor(value: str | None, field: str = "cursor") -> int:
    if value is None:
        return 0
    try:
        return parse_whole(value, field, "a whole number")
    except InvalidInput as exc:
        raise BadParameter(exc.detail, field=field) from None


def items(ctx: Context, party: str, collection_id: str, query: ItemsQuery) -> Page:
    """One page of a collection's items as `party` may see them."""
    collection_of(collection_id)
    return _READERS[collection_id](ctx, party, query)


def item(ctx: Context, party: str, collection_id: str, feature_id: str) -> dict[str, Any]:
    """One item, or 404 where `party` may not see it (exactly as for one that does not exist)."""
    collection_of(collection_id)
    if collection_id == "declarations":
        return declaration_feature(declarations.get_visible(ctx, party, feature_id).to_feature())
    if collection_id == "conflicts":
        return conflict_feature(conflicts.get_conflict(ctx, party, feature_id))
    if collection_id == "lines":
        return line_feature(lines.get_line(ctx, party, feature_id))
    return track_feature(tracks.get_track(ctx, party, feature_id))


# Features --------------------------------------------------------------------------------------------------------


def declaration_feature(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored declaration Feature, its properties flattened: altitude as two columns, the audience as text."""
    p = stored["properties"]
    audience = p["audience"]
    times = p.get("times")
    props = {
        "name": p["name"],
        "kind": p["kind"],
        "party": p["party"],
        "start": p["start"],
        "end": p["end"],
        "lower_m": p["altitude"]["lower_m"],
        "upper_m": p["altitude"]["upper_m"],
        "radius_m": p["radius_m"],
        "separation_m": p["separation_m"],
        "audience": audience if isinstance(audience, str) else ",".join(audience),
        "speed_mps": p.get("speed_mps"),
        "times": None if times is None else ",".join(times),
        "status": p["status"],
        "version": p["version"],
        "created_at": p["created_at"],
        "updated_at": p["updated_at"],
    }
    return {"type": "Feature", "id": stored["id"], "geometry": stored["geometry"], "properties": props}


def conflict_feature(view: dict[str, Any]) -> dict[str, Any]:
    """A conflict as its party sees it: a point on its own shape, never the other's geometry."""
    props = {
        "kind": view["kind"],
        "declaration": view["declaration"],
        "other_party": view["other_party"],
        "other_declaration": view["other_declaration"],
        "distance_m": view["distance_m"],
        "required_m": view["required_m"],
        "status": view["status"],
        "start": view["time"]["start"],
        "end": view["time"]["end"],
        "opened_at": view["opened_at"],
        "acknowledged_at": view["acknowledged_at"],
        "other_acknowledged": view["other_acknowledged"],
        "resolved_at": view["resolved_at"],
        "resolved_reason": view["resolved_reason"],
        "line": view["line"],
    }
    return {"type": "Feature", "id": view["id"], "geometry": view["location"], "properties": props}


def line_feature(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "proposer", "with", "left", "right", "tolerance_m", "created_at", "updated_at", "answered_at")
    props = {k: view[k] for k in keys} | {"withdrawn_by": view["withdrawn_by"]}
    return {"type": "Feature", "id": view["id"], "geometry": view["geometry"], "properties": props}


def track_feature(view: dict[str, Any]) -> dict[str, Any]:
    coordinates = view["position"]["coordinates"]
    keys = ("party", "status", "source", "t", "speed_mps", "course_deg", "motion", "separation_m", "stale")
    props = {k: view[k] for k in keys}
    props |= {"alt_m": coordinates[2] if len(coordinates) > 2 else None, "first_t": view["first_t"]}
    props |= {"reports": view["reports"], "updated_at": view["updated_at"]}
    point = {"type": "Point", "coordinates": coordinates[:2]}
    return {"type": "Feature", "id": view["id"], "geometry": point, "properties": props}


# Reading a page of each collection ----------------------------------------------------------------------------


def _declarations(ctx: Context, party: str, q: ItemsQuery) -> Page:
    # The store's boxes are the shapes grown by their radius and separation, as for GET /v1/declarations.
    end_s = None if q.end_s is None else math.nextafter(q.end_s, math.inf)  # the store's `start < end` is strict
    query = DeclarationQuery(
        viewer=party, boxes=q.boxes, start_s=q.start_s, end_s=end_s, after_key=q.cursor, limit=q.limit
    )
    found = declarations.list_visible(ctx, query)
    cursor = found[-1][0] if len(found) == q.limit else None
    return Page([declaration_feature(f) for _, f in found], cursor)


def _offset(q: ItemsQuery) -> int:
    if q.cursor > MAX_OFFSET:
        raise BadParameter(f"cursor {q.cursor} is past the last page", field="cursor")
    return q.cursor


def _conflicts(ctx: Context, party: str, q: ItemsQuery) -> Page:
    _offset(q)
    views = conflicts.list_conflicts(ctx, party, None, q.cursor + q.limit)
    page = views[q.cursor : q.cursor + q.limit]
    cursor = q.cursor + q.limit if len(views) == q.cursor + q.limit else None
    kept = [conflict_feature(v) for v in page if _conflict_matches(v, q)]
    return Page(kept, cursor)


def _conflict_matches(view: dict[str, Any], q: ItemsQuery) -> bool:
    lon, lat = view["location"]["coordinates"][:2]
    start = parse_time(view["time"]["start"], "start").timestamp()
    end = None if view["time"]["end"] is None else parse_time(view["time"]["end"], "end").timestamp()
    return _in_boxes([(lon, lat, lon, lat)], q.boxes) and _in_time(start, end, q)


def _lines(ctx: Context, party: str, q: ItemsQuery) -> Page:
    found = lines.list_lines(ctx, party, None, q.limit, q.cursor or None)
    cursor = found[-1][0] if len(found) == q.limit else None
    kept = [line_feature(line.view()) for _, line in found if _in_boxes(line.terms.shape.boxes(0.0), q.boxes)]
    return Page(kept, cursor)  # lines are timeless: `datetime` leaves them all


def _tracks(ctx: Context, party: str, q: ItemsQuery) -> Page:
    _offset(q)
    views = tracks.list_tracks(ctx, party, "live", q.cursor + q.limit)
    page = views[q.cursor : q.cursor + q.limit]
    cursor = q.cursor + q.limit if len(views) == q.cursor + q.limit else None
    kept = [track_feature(v) for v in page if _track_matches(v, q)]
    return Page(kept, cursor)


def _track_matches(view: dict[str, Any], q: ItemsQuery) -> bool:
    lon, lat = view["position"]["coordinates"][:2]
    t = parse_time(view["t"], "t").timestamp()
    return _in_boxes([(lon, lat, lon, lat)], q.boxes) and _in_time(t, t, q)


_READERS: dict[str, Callable[[Context, str, ItemsQuery], Page]] = {
    "declarations": _declarations,
    "conflicts": _conflicts,
    "lines": _lines,
    "tracks": _tracks,
}


def _in_boxes(own: Iterable[Box], boxes: list[Box]) -> bool:
    if not boxes:
        return True
    return any(a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3] for a in own for b in boxes)


def _in_time(start_s: float, end_s: float | None, q: ItemsQuery) -> bool:
    """Closed intervals meet: [start, end] (end None: open) and the query's."""
    if q.end_s is not None and start_s > q.end_s:
        return False
    return q.start_s is None or end_s is None or end_s >= q.start_s


# Extents ---------------------------------------------------------------------------------------------------------


def extent(ctx: Context, party: str, collection_id: str, cap: int) -> dict[str, Any]:
    """The spatial and temporal extent of what `party` may see in the collection (the world where it cannot tell)."""
    collection_of(collection_id)
    boxes: list[Box] = []
    times: list[tuple[float, float | None]] = []
    if collection_id == "declarations":
        # A copy of the picture's values: the writer thread may change the dict meanwhile.
        visible = [d for d in list(ctx.picture.declarations.values()) if may_see(d, party)]
        for d in visible:
            boxes.extend(d.spec.shape.boxes(0.0))
            times.append(_window_s(d))
    else:
        page = _READERS[collection_id](ctx, party, ItemsQuery([], None, None, cap, 0))
        if page.next_cursor is not None:
            return _extent_json([WORLD], [])
        for f in page.features:
            boxes.append(_feature_box(f["geometry"]))
            times.extend(_feature_times(collection_id, f["properties"]))
    return _extent_json(boxes, times)


def _window_s(d: Declaration) -> tuple[float, float | None]:
    w = d.spec.window
    return w.start_s, None if w.end is None else w.end_s


def _feature_box(geometry: dict[str, Any]) -> Box:
    points: list[list[float]] = []
    pending: list[Any] = [geometry["coordinates"]]
    while pending:
        item_ = pending.pop()
        if item_ and isinstance(item_[0], int | float):
            points.append(item_)
        else:
            pending.extend(item_)
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


def _feature_times(collection_id: str, props: dict[str, Any]) -> list[tuple[float, float | None]]:
    if collection_id == "conflicts":
        end = props["end"]
        return [(parse_time(props["start"], "start").timestamp(), None if end is None else _epoch(end))]
    if collection_id == "tracks":
        return [(_epoch(props["t"]), _epoch(props["t"]))]
    return []


def _epoch(text: str) -> float:
    return parse_time(text, "time").timestamp()


def _extent_json(boxes: list[Box], times: list[tuple[float, float | None]]) -> dict[str, Any]:
    bbox = WORLD
    if boxes:
        bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    interval: list[str | None] = [None, None]
    if times:
        interval[0] = format_time(from_epoch_s(min(t[0] for t in times)))
        ends = [t[1] for t in times]
        interval[1] = (
            None if any(e is None for e in ends) else format_time(from_epoch_s(max(e for e in ends if e is not None)))
        )
    return {
        "spatial": {"bbox": [list(bbox)], "crs": CRS84},
        "temporal": {"interval": [interval], "trs": "http://www.opengis.net/def/uri/ISO-8601/0/Gregorian"},
    }
