"""GridIndex against brute force: the behavioural tests of test_index.py, run on both indexes."""

from __future__ import annotations

import math
import random
import threading

import pytest
from hypothesis import settings

from deconfliction.index import Box, SpatioTemporalIndex
from deconfliction.index.grid import GridIndex
from tests.unit.test_index import IndexMachine, Volume, _random_volume, brute_force

Index = SpatioTemporalIndex | GridIndex
IndexClass = type[SpatioTemporalIndex] | type[GridIndex]


@pytest.fixture(params=[SpatioTemporalIndex, GridIndex], ids=["rtree", "grid"])
def index_class(request: pytest.FixtureRequest) -> IndexClass:
    cls: IndexClass = request.param
    return cls


class GridIndexMachine(IndexMachine):
    """test_index.IndexMachine (inserts, updates, deletes, queries versus a dict) on GridIndex."""

    def __init__(self) -> None:
        super().__init__()
        self.index = GridIndex()  # type: ignore[assignment]


TestGridIndexMachine = GridIndexMachine.TestCase
TestGridIndexMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


def test_many_entries_through_splits_and_deletes(index_class: IndexClass) -> None:
    rng = random.Random(7)
    index, model = index_class(), {}
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


def test_bulk_load_equals_incremental_inserts(index_class: IndexClass) -> None:
    rng = random.Random(11)
    items = {key: _random_volume(rng) for key in range(2000)}
    loaded, inserted = index_class(), index_class()
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


def test_delete_of_a_missing_key_returns_false(index_class: IndexClass) -> None:
    index = index_class()
    assert not index.delete(1)
    index.insert(1, [(0.0, 0.0, 1.0, 1.0)], 0.0, 10.0, 0.0, 100.0)
    assert index.delete(1)
    assert not index.delete(1)
    assert len(index) == 0 and 1 not in index


def test_touching_windows_do_not_overlap_but_touching_bands_do(index_class: IndexClass) -> None:
    index = index_class()
    index.insert(1, [(0.0, 0.0, 1.0, 1.0)], 0.0, 10.0, 0.0, 100.0)
    box = [(1.0, 1.0, 2.0, 2.0)]  # touches at a corner: intersects
    assert index.candidates(box, 10.0, 20.0, 0.0, 100.0) == set()
    assert index.candidates(box, -5.0, 0.0, 0.0, 100.0) == set()
    assert index.candidates(box, 9.5, None, 100.0, None) == {1}
    assert index.candidates(box, 0.0, 10.0, 100.000001, None) == set()


def test_update_moves_every_box_of_a_key(index_class: IndexClass) -> None:
    index = index_class()
    west, east = (179.0, 0.0, 180.0, 1.0), (-180.0, 0.0, -179.0, 1.0)
    index.insert(5, [west, east], 0.0, None, 0.0, None)
    assert index.candidates([east], 1e9, 2e9, 50.0, 60.0) == {5}
    index.insert(5, [(10.0, 10.0, 11.0, 11.0)], 0.0, None, 0.0, None)
    assert index.candidates([east], 1e9, 2e9, 50.0, 60.0) == set()
    assert index.candidates([west], 1e9, 2e9, 50.0, 60.0) == set()
    assert len(index) == 1


def test_bulk_load_needs_an_empty_index_and_distinct_keys(index_class: IndexClass) -> None:
    index = index_class()
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
        ([(0.0, 0.0, 1.0, 1.0)], math.inf, None, 0.0, None),
    ],
)
def test_invalid_volumes_are_refused(
    index_class: IndexClass,
    boxes: list[Box],
    start_s: float,
    end_s: float | None,
    lower_m: float,
    upper_m: float | None,
) -> None:
    index = index_class()
    with pytest.raises(ValueError):
        index.insert(1, boxes, start_s, end_s, lower_m, upper_m)
    with pytest.raises(ValueError):
        index.candidates(boxes, start_s, end_s, lower_m, upper_m)
    with pytest.raises(ValueError):
        index.bulk_load([(1, boxes, start_s, end_s, lower_m, upper_m)])
    assert len(index) == 0


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1])
def test_keys_must_fit_in_64_bits(index_class: IndexClass, key: int) -> None:
    index = index_class()
    with pytest.raises(ValueError):
        index.insert(key, [(0.0, 0.0, 1.0, 1.0)], 0.0, 1.0, 0.0, None)


def test_extreme_keys(index_class: IndexClass) -> None:
    index = index_class()
    keys = [2**63 - 1, -(2**63), 0, -1]
    for key in keys:
        index.insert(key, [(0.0, 0.0, 1.0, 1.0)], 0.0, 1.0, 0.0, None)
    assert index.candidates([(0.5, 0.5, 0.5, 0.5)], 0.0, 1.0, 0.0, None) == set(keys)


def test_one_writer_many_readers(index_class: IndexClass) -> None:
    """Readers see either the old or the new entry of a key, never an error or a torn update."""
    index = index_class()
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


# ---- Shapes of every scale, edges of the world, cell boundaries ----


def _multiscale_volume(rng: random.Random) -> Volume:
    """A box from a metre to the whole world, often on round coordinates (cell edges)."""
    size = 10.0 ** rng.uniform(-5.0, 2.7)
    if rng.random() < 0.5:
        size = rng.choice([0.0, 0.05, 0.1, 0.2, 0.8, 3.2, 12.8, 51.2, 180.0, 360.0])
    step = rng.choice([1.0, 0.05, 0.025, 1e-3])
    lon = rng.uniform(-180.0, 180.0)
    lat = rng.uniform(-90.0, 90.0)
    if rng.random() < 0.5:
        lon, lat = round(lon / step) * step, round(lat / step) * step
    if rng.random() < 0.1:
        lon = rng.choice([-180.0, 180.0 - size])
    if rng.random() < 0.1:
        lat = rng.choice([-90.0, 90.0 - size * 0.5])
    width, height = size, size * rng.choice([0.25, 0.5, 1.0, 2.0])
    west = min(max(lon, -180.0), 180.0)
    south = min(max(lat, -90.0), 90.0)
    box = (west, south, min(west + width, 180.0), min(south + height, 90.0))
    start = float(rng.randrange(0, 10))
    end = None if rng.random() < 0.2 else start + rng.randrange(1, 5)
    lower = float(rng.randrange(0, 5)) * 100.0
    upper = None if rng.random() < 0.2 else lower + rng.randrange(0, 3) * 100.0
    return Volume((box,), start, end, lower, upper)


def test_shapes_of_every_scale_against_brute_force(index_class: IndexClass) -> None:
    rng = random.Random(21)
    model = {key: _multiscale_volume(rng) for key in range(1500)}
    loaded, inserted = index_class(), index_class()
    loaded.bulk_load((key, *volume.args()) for key, volume in model.items())
    for key, volume in model.items():
        inserted.insert(key, *volume.args())
    for _ in range(2000):
        key = rng.randrange(2000)
        if rng.random() < 0.3:
            assert loaded.delete(key) == (key in model)
            assert inserted.delete(key) == (key in model)
            model.pop(key, None)
        else:
            model[key] = _multiscale_volume(rng)
            loaded.insert(key, *model[key].args())
            inserted.insert(key, *model[key].args())
    assert len(loaded) == len(inserted) == len(model)
    for _ in range(400):
        query = _multiscale_volume(rng)
        expected = brute_force(model, query)
        assert loaded.candidates(*query.args()) == expected
        assert inserted.candidates(*query.args()) == expected


def test_huge_boxes_and_the_whole_world(index_class: IndexClass) -> None:
    index = index_class()
    world = (-180.0, -90.0, 180.0, 90.0)
    index.insert(1, [world], 0.0, None, 0.0, None)
    index.insert(2, [(-100.0, -60.0, 100.0, 60.0)], 0.0, None, 0.0, None)
    index.insert(3, [(10.0, 10.0, 10.01, 10.01)], 0.0, None, 0.0, None)
    index.insert(4, [(180.0, 90.0, 180.0, 90.0)], 0.0, None, 0.0, None)  # a point, a corner
    index.insert(5, [(-180.0, -90.0, -180.0, -90.0)], 0.0, None, 0.0, None)
    assert index.candidates([world], 0.0, 1.0, 0.0, None) == {1, 2, 3, 4, 5}
    assert index.candidates([(10.005, 10.005, 10.006, 10.006)], 0.0, 1.0, 0.0, 0.0) == {1, 2, 3}
    assert index.candidates([(179.9, 89.9, 180.0, 90.0)], 0.0, 1.0, 0.0, None) == {1, 4}
    assert index.candidates([(-180.0, -90.0, -180.0, -90.0)], 0.0, 1.0, 0.0, None) == {1, 5}
    assert index.candidates([(100.0, 60.0, 100.0, 60.0)], 0.0, 1.0, 0.0, None) == {1, 2}


def test_boxes_touching_the_antimeridian_and_the_poles(index_class: IndexClass) -> None:
    index = index_class()
    index.insert(1, [(179.99, 0.0, 180.0, 0.01)], 0.0, 1.0, 0.0, None)
    index.insert(2, [(-180.0, 0.0, -179.99, 0.01)], 0.0, 1.0, 0.0, None)
    index.insert(3, [(20.0, 89.99, 20.01, 90.0)], 0.0, 1.0, 0.0, None)
    index.insert(4, [(20.0, -90.0, 20.01, -89.99)], 0.0, 1.0, 0.0, None)
    assert index.candidates([(180.0, 0.0, 180.0, 0.0)], 0.0, 1.0, 0.0, None) == {1}
    assert index.candidates([(-180.0, 0.01, -180.0, 0.01)], 0.0, 1.0, 0.0, None) == {2}
    assert index.candidates([(20.01, 90.0, 21.0, 90.0)], 0.0, 1.0, 0.0, None) == {3}
    assert index.candidates([(19.0, -90.0, 20.0, -90.0)], 0.0, 1.0, 0.0, None) == {4}
    assert index.candidates([(-180.0, -90.0, 180.0, 90.0)], 0.5, 0.75, 0.0, 0.0) == {1, 2, 3, 4}


def test_many_declarations_in_one_place(index_class: IndexClass) -> None:
    """A crowded cell grows and shrinks; every entry stays findable."""
    index = index_class()
    box = (36.0, 30.0, 36.01, 30.01)
    for key in range(3000):
        index.insert(key, [box], float(key), float(key + 2), 0.0, None)
    for key in range(0, 3000, 2):
        assert index.delete(key)
    assert index.candidates([box], 100.0, 101.0, 0.0, None) == {99}
    assert index.candidates([box], 0.0, None, 0.0, None) == set(range(1, 3000, 2))
    for key in range(1, 3000, 2):
        assert index.delete(key)
    assert len(index) == 0
    assert index.candidates([box], 0.0, None, 0.0, None) == set()


def test_open_ended_and_extreme_windows(index_class: IndexClass) -> None:
    index = index_class()
    box = [(0.0, 0.0, 1.0, 1.0)]
    index.insert(1, box, -1e300, None, 0.0, None)
    index.insert(2, box, 1e300, None, 0.0, None)
    index.insert(3, box, 5e-324, 1e-323, 0.0, None)
    index.insert(4, box, -1e12, 0.0, 0.0, None)
    assert index.candidates(box, 0.0, 5e-324, 0.0, None) == {1}
    assert index.candidates(box, 0.0, 1e-323, 0.0, None) == {1, 3}
    assert index.candidates(box, -0.0, None, 0.0, None) == {1, 2, 3}
    assert index.candidates(box, -1.0, 0.0, 0.0, None) == {1, 4}
    assert index.candidates(box, 2e300, None, 0.0, None) == {1, 2}
