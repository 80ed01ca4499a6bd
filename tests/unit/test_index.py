"""The spatio-temporal index against a brute-force list of declarations."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from deconfliction.index import Box, SpatioTemporalIndex

INF = math.inf


@dataclass(frozen=True)
class Volume:
    boxes: tuple[Box, ...]
    start_s: float
    end_s: float | None
    lower_m: float
    upper_m: float | None

    def args(self) -> tuple[Sequence[Box], float, float | None, float, float | None]:
        return self.boxes, self.start_s, self.end_s, self.lower_m, self.upper_m


def overlaps(a: Volume, b: Volume) -> bool:
    """The rule written plainly: closed boxes, half-open windows, closed bands."""
    boxes = any(p[0] <= q[2] and q[0] <= p[2] and p[1] <= q[3] and q[1] <= p[3] for p in a.boxes for q in b.boxes)
    a_end = INF if a.end_s is None else a.end_s
    b_end = INF if b.end_s is None else b.end_s
    a_top = INF if a.upper_m is None else a.upper_m
    b_top = INF if b.upper_m is None else b.upper_m
    windows = a.start_s < b_end and b.start_s < a_end
    bands = a.lower_m <= b_top and b.lower_m <= a_top
    return boxes and windows and bands


def brute_force(model: dict[int, Volume], query: Volume) -> set[int]:
    return {key for key, volume in model.items() if overlaps(volume, query)}


# Small integer grids make touching edges, windows and bands common; the extremes check that the
# clamped time axis of the R-tree stays conservative.
_lon = st.sampled_from([-180.0, -179.5, -179.0, 0.0, 0.5, 1.0, 1.5, 2.0, 179.0, 179.5, 180.0])
_lat = st.sampled_from([-90.0, -1.0, 0.0, 0.5, 1.0, 2.0, 90.0])
_time = st.one_of(
    st.integers(0, 8).map(float),
    st.sampled_from([-1e300, -1e12, 1.7e9, 1.7e9 + 0.5, 1e12, 1e300, 5e-324]),
)
_altitude = st.integers(0, 4).map(lambda n: n * 100.0)


@st.composite
def plain_box(draw: st.DrawFn) -> Box:
    lon = sorted((draw(_lon), draw(_lon)))
    lat = sorted((draw(_lat), draw(_lat)))
    return (lon[0], lat[0], lon[1], lat[1])


@st.composite
def antimeridian_boxes(draw: st.DrawFn) -> tuple[Box, Box]:
    """A shape straddling ±180°, split by the caller into two boxes."""
    lat = sorted((draw(_lat), draw(_lat)))
    west = draw(st.sampled_from([179.0, 179.5, 180.0]))
    east = draw(st.sampled_from([-180.0, -179.5, -179.0]))
    return ((west, lat[0], 180.0, lat[1]), (-180.0, lat[0], east, lat[1]))


@st.composite
def volumes(draw: st.DrawFn) -> Volume:
    boxes = draw(st.one_of(plain_box().map(lambda b: (b,)), antimeridian_boxes()))
    start = draw(_time)
    end = draw(st.one_of(st.none(), _time.filter(lambda t: t > start)))
    lower = draw(_altitude)
    upper = draw(st.one_of(st.none(), _altitude.filter(lambda a: a >= lower)))
    return Volume(boxes, start, end, lower, upper)


_keys = st.integers(0, 12)


class IndexMachine(RuleBasedStateMachine):
    """Inserts, updates, deletes and queries on the index and on a dict, which must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.index = SpatioTemporalIndex()
        self.model: dict[int, Volume] = {}

    @initialize(items=st.dictionaries(_keys, volumes(), max_size=8))
    def load(self, items: dict[int, Volume]) -> None:
        self.index.bulk_load((key, *volume.args()) for key, volume in items.items())
        self.model.update(items)

    @rule(key=_keys, volume=volumes())
    def insert(self, key: int, volume: Volume) -> None:
        self.index.insert(key, *volume.args())
        self.model[key] = volume

    @rule(key=_keys)
    def delete(self, key: int) -> None:
        assert self.index.delete(key) == (key in self.model)
        self.model.pop(key, None)

    @rule(query=volumes())
    def candidates(self, query: Volume) -> None:
        assert self.index.candidates(*query.args()) == brute_force(self.model, query)

    @invariant()
    def same_keys(self) -> None:
        assert len(self.index) == len(self.model)
        assert all(key in self.index for key in self.model)


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=80, stateful_step_count=30, deadline=None)


def _random_volume(rng: random.Random) -> Volume:
    """A declaration of a few km in a 2°x2° region next to the antimeridian, hours long."""
    lon, lat = rng.uniform(178.5, 181.5), rng.uniform(-1.0, 1.0)
    half = rng.uniform(0.005, 0.05)
    lon = round(lon, 2)  # shared edges between neighbours
    lat = round(lat, 2)
    west, east = lon - half, lon + half
    south, north = lat - half, lat + half
    boxes: tuple[Box, ...]
    if west >= 180.0:
        boxes = ((west - 360.0, south, east - 360.0, north),)
    elif east > 180.0:
        boxes = ((west, south, 180.0, north), (-180.0, south, east - 360.0, north))
    else:
        boxes = ((west, south, east, north),)
    start = float(rng.randrange(0, 48)) * 3600.0
    end = None if rng.random() < 0.1 else start + rng.randrange(1, 12) * 3600.0
    lower = float(rng.randrange(0, 30)) * 100.0
    upper = None if rng.random() < 0.1 else lower + rng.randrange(0, 30) * 100.0
    return Volume(boxes, start, end, lower, upper)


def test_many_entries_through_splits_and_deletes() -> None:
    """Enough entries for the R-tree to split and condense nodes, checked against brute force."""
    rng = random.Random(7)
    index, model = SpatioTemporalIndex(), {}
    for key in range(3000):
        volume = _random_volume(rng)
        index.insert(key, *volume.args())
        model[key] = volume
    for _ in range(1500):
        key = rng.randrange(3000)
        if rng.random() < 0.5:
            assert index.delete(key) == (key in model)
            model.pop(key, None)
        else:
            volume = _random_volume(rng)
            index.insert(key, *volume.args())
            model[key] = volume
    assert len(index) == len(model)
    for _ in range(300):
        query = _random_volume(rng)
        assert index.candidates(*query.args()) == brute_force(model, query)


def test_bulk_load_equals_incremental_inserts() -> None:
    rng = random.Random(11)
    items = {key: _random_volume(rng) for key in range(2000)}
    loaded, inserted = SpatioTemporalIndex(), SpatioTemporalIndex()
    loaded.bulk_load((key, *volume.args()) for key, volume in items.items())
    for key, volume in items.items():
        inserted.insert(key, *volume.args())
    assert len(loaded) == len(inserted) == len(items)
    for _ in range(300):
        query = _random_volume(rng)
        expected = brute_force(items, query)
        assert loaded.candidates(*query.args()) == expected
        assert inserted.candidates(*query.args()) == expected
    # A bulk-loaded index keeps taking updates and deletes.
    for key in range(0, 2000, 3):
        assert loaded.delete(key)
        del items[key]
    for key in range(1, 2000, 3):
        items[key] = _random_volume(rng)
        loaded.insert(key, *items[key].args())
    for _ in range(100):
        query = _random_volume(rng)
        assert loaded.candidates(*query.args()) == brute_force(items, query)


def test_delete_of_a_missing_key_returns_false() -> None:
    index = SpatioTemporalIndex()
    assert not index.delete(1)
    index.insert(1, [(0.0, 0.0, 1.0, 1.0)], 0.0, 10.0, 0.0, 100.0)
    assert index.delete(1)
    assert not index.delete(1)
    assert len(index) == 0 and 1 not in index


def test_touching_windows_do_not_overlap_but_touching_bands_do() -> None:
    index = SpatioTemporalIndex()
    index.insert(1, [(0.0, 0.0, 1.0, 1.0)], 0.0, 10.0, 0.0, 100.0)
    box = [(1.0, 1.0, 2.0, 2.0)]  # touches at a corner: intersects
    assert index.candidates(box, 10.0, 20.0, 0.0, 100.0) == set()
    assert index.candidates(box, -5.0, 0.0, 0.0, 100.0) == set()
    assert index.candidates(box, 9.5, None, 100.0, None) == {1}
    assert index.candidates(box, 0.0, 10.0, 100.000001, None) == set()


def test_update_moves_every_box_of_a_key() -> None:
    index = SpatioTemporalIndex()
    west, east = (179.0, 0.0, 180.0, 1.0), (-180.0, 0.0, -179.0, 1.0)
    index.insert(5, [west, east], 0.0, None, 0.0, None)
    assert index.candidates([east], 1e9, 2e9, 50.0, 60.0) == {5}
    index.insert(5, [(10.0, 10.0, 11.0, 11.0)], 0.0, None, 0.0, None)
    assert index.candidates([east], 1e9, 2e9, 50.0, 60.0) == set()
    assert index.candidates([west], 1e9, 2e9, 50.0, 60.0) == set()
    assert len(index) == 1


def test_bulk_load_needs_an_empty_index_and_distinct_keys() -> None:
    index = SpatioTemporalIndex()
    item = (1, [(0.0, 0.0, 1.0, 1.0)], 0.0, 10.0, 0.0, None)
    with pytest.raises(ValueError, match="duplicate"):
        index.bulk_load([item, item])
    assert len(index) == 0
    index.bulk_load([item])
    with pytest.raises(ValueError, match="empty"):
        index.bulk_load([])


@pytest.mark.parametrize(
    ("boxes", "start_s", "end_s", "lower_m", "upper_m"),
    [
        ([], 0.0, 1.0, 0.0, None),
        ([(1.0, 0.0, 0.0, 1.0)], 0.0, 1.0, 0.0, None),
        ([(0.0, 0.0, 181.0, 1.0)], 0.0, 1.0, 0.0, None),
        ([(0.0, math.nan, 1.0, 1.0)], 0.0, 1.0, 0.0, None),
        ([(0.0, 0.0, 1.0, 1.0)], 1.0, 1.0, 0.0, None),
        ([(0.0, 0.0, 1.0, 1.0)], math.nan, 1.0, 0.0, None),
        ([(0.0, 0.0, 1.0, 1.0)], 0.0, 1.0, 10.0, 5.0),
    ],
)
def test_invalid_volumes_are_refused(
    boxes: list[Box], start_s: float, end_s: float | None, lower_m: float, upper_m: float | None
) -> None:
    index = SpatioTemporalIndex()
    with pytest.raises(ValueError):
        index.insert(1, boxes, start_s, end_s, lower_m, upper_m)
    with pytest.raises(ValueError):
        index.candidates(boxes, start_s, end_s, lower_m, upper_m)
    assert len(index) == 0


def test_one_writer_many_readers() -> None:
    """Readers see either the old or the new entry of a key, never an error or a torn update."""
    index = SpatioTemporalIndex()
    box = (0.0, 0.0, 0.1, 0.1)
    for key in range(200):
        index.insert(key, [box], 0.0, None, 0.0, None)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                assert index.candidates([box], 0.0, 1.0, 0.0, 1.0) == set(range(200))
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    rng = random.Random(3)
    for _ in range(3000):
        key = rng.randrange(200)
        index.insert(key, [box, (179.0, 0.0, 180.0, 1.0)], rng.uniform(-10, 0), None, 0.0, None)
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
