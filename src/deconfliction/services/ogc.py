"""OGC API – Features over the caller's picture: four collections, read through the existing services, under the
same need-to-know rules as the rest of the API.

Each collection's items are GeoJSON Features with flat properties (services/ogc_features.py: one column each in a
GIS attribute table). Parameters follow the standard: bad values are 400, not 422; what `bbox` and `datetime`
select is services/ogc_match.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from deconfliction.domain.declarations import Declaration
from deconfliction.domain.disclosure import may_see
from deconfliction.domain.errors import DomainError, InvalidInput, NotFound
from deconfliction.domain.numbers import parse_whole
from deconfliction.domain.timewindow import format_time, from_epoch_s, parse_time
from deconfliction.services import conflicts, declarations, lines, tracks
from deconfliction.services.context import Context
from deconfliction.services.ogc_features import conflict_feature, declaration_feature, line_feature, track_feature
from deconfliction.services.ogc_match import band_meets, geometry_meets, time_meets
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

# Properties an items request may filter on by equality (`?party=sdf`), as Part 1 recommends (/rec/core/fc-filters):
# the text columns a GIS user picks from; GDAL sends its `-where "party = 'sdf'"` as such a parameter.
QUERYABLES: dict[str, tuple[str, ...]] = {
    "declarations": ("name", "kind", "party"),
    "conflicts": ("kind", "status", "other_party", "declaration"),
    "lines": ("status", "proposer", "with"),
    "tracks": ("status", "source"),
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
    heights_m: tuple[float, float] | None = None  # a six-number bbox's bottom and top
    properties: dict[str, str] = field(default_factory=dict)  # queryables: each property equal to its value

    def meets(self, feature: dict[str, Any], start_s: float | None, end_s: float | None) -> bool:
        """A feature's properties, geometry and time (start None: timeless) meet the query."""
        p = feature["properties"]
        if any(p.get(name) != value for name, value in self.properties.items()):
            return False
        if start_s is not None and not time_meets(start_s, end_s, self.start_s, self.end_s):
            return False
        return geometry_meets(feature["geometry"], self.boxes)


@dataclass(frozen=True, slots=True)
class Page:
    features: list[dict[str, Any]]
    next_cursor: int | None
    first: bool  # the first page: with no next one, it holds every match

    @property
    def number_matched(self) -> int | None:
        """How many items match in all (what the caller may see, filtered), where it is known without reading any
        further: one page holding them all. Elsewhere None: counting would read every match again."""
        return len(self.features) if self.first and self.next_cursor is None else None


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


# Reading a page of each collection ----------------------------------------------------------------------------


Found = Iterator[tuple[int, dict[str, Any]]]  # (the cursor just after an item, the item as a Feature), in order
# A read for a page first asks for `limit` items; each further read of the same page twice as many, up to this:
# a page the filters thin out costs a few reads, not one per `limit` items scanned.
MAX_BATCH = 10_000


def _fill(q: ItemsQuery, found: Found, matches: Callable[[dict[str, Any]], bool]) -> Page:
    """Up to `limit` matching items from the cursor on, reading until the page is full or none is left.

    A page the filters emptied would end the reading of clients that stop at an empty page (GDAL does), though
    more matches follow: so a page holds `limit` matches unless there are no more."""
    kept: list[dict[str, Any]] = []
    for after, feature in found:
        if matches(feature):
            kept.append(feature)
            if len(kept) == q.limit:
                return Page(kept, after, q.cursor == 0)
    return Page(kept, None, q.cursor == 0)


def _sizes(q: ItemsQuery) -> Iterator[int]:
    size = q.limit
    while True:
        yield size
        size = min(size * 2, max(q.limit, MAX_BATCH))


def _keyset(q: ItemsQuery, read: Callable[[int, int], list[tuple[int, dict[str, Any]]]]) -> Found:
    """Items after the cursor through the store's keys: `read(after, n)` gives the n next (key, Feature)."""
    after = q.cursor
    for size in _sizes(q):
        found = read(after, size)
        yield from found
        if len(found) < size:
            return
        after = found[-1][0]


def _offsets(q: ItemsQuery, read: Callable[[int], list[dict[str, Any]]], feature: Callable[..., Any]) -> Found:
    """Items of a list the store returns from its start (`read(n)`: its first n), paged by offset."""
    if q.cursor > MAX_OFFSET:
        raise BadParameter(f"cursor {q.cursor} is past the last page", field="cursor")
    offset = q.cursor
    for size in _sizes(q):
        if offset > MAX_OFFSET:
            return
        views = read(offset + size)
        for i, view in enumerate(views[offset:], start=offset + 1):
            yield i, feature(view)
        if len(views) < offset + size:
            return
        offset += size


def _declarations(ctx: Context, party: str, q: ItemsQuery) -> Page:
    # The store selects by the shapes grown by their radius and separation, as for GET /v1/declarations: a
    # superset. The standard selects by the geometry itself (and the altitude band, given heights).
    end_s = None if q.end_s is None else math.nextafter(q.end_s, math.inf)  # the store's `start < end` is strict
    owner = q.properties.get("party")  # read through the store's index rather than filtered after

    def read(after: int, size: int) -> list[tuple[int, dict[str, Any]]]:
        query = DeclarationQuery(
            viewer=party, boxes=q.boxes, start_s=q.start_s, end_s=end_s, party=owner, after_key=after, limit=size
        )
        return [(key, declaration_feature(f)) for key, f in declarations.list_visible(ctx, query)]

    def matches(feature: dict[str, Any]) -> bool:
        p = feature["properties"]
        return band_meets(p["lower_m"], p["upper_m"], q.heights_m) and q.meets(feature, None, None)

    return _fill(q, _keyset(q, read), matches)


def _conflicts(ctx: Context, party: str, q: ItemsQuery) -> Page:
    def matches(feature: dict[str, Any]) -> bool:
        p = feature["properties"]
        start, end = _epoch(p["start"]), None if p["end"] is None else _epoch(p["end"])
        return q.meets(feature, start, end)  # a conflict has no altitude of its own: heights leave it

    return _fill(q, _offsets(q, lambda n: conflicts.list_conflicts(ctx, party, None, n), conflict_feature), matches)


def _lines(ctx: Context, party: str, q: ItemsQuery) -> Page:
    def read(after: int, size: int) -> list[tuple[int, dict[str, Any]]]:
        return [
            (seq, line_feature(line.view())) for seq, line in lines.list_lines(ctx, party, None, size, after or None)
        ]

    # lines are timeless and have no altitude: `datetime` and heights leave them all
    return _fill(q, _keyset(q, read), lambda f: q.meets(f, None, None))


def _tracks(ctx: Context, party: str, q: ItemsQuery) -> Page:
    def matches(feature: dict[str, Any]) -> bool:
        p = feature["properties"]
        t = _epoch(p["t"])
        return band_meets(p["alt_m"], p["alt_m"], q.heights_m) and q.meets(feature, t, t)

    return _fill(q, _offsets(q, lambda n: tracks.list_tracks(ctx, party, "live", n), track_feature), matches)


_READERS: dict[str, Callable[[Context, str, ItemsQuery], Page]] = {
    "declarations": _declarations,
    "conflicts": _conflicts,
    "lines": _lines,
    "tracks": _tracks,
}


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
