"""The DSS's entities in memory: found by 4-D intersection; a new document on the same volumes (a notification index
moving) replaces the old one without touching the index; new volumes move it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deconfliction.domain.f3548.volumes import Volume, parse_volume4d
from deconfliction.services.dss_picture import Entity, VolumeSet


def volume(lat: float, lng: float) -> Volume:
    raw: dict[str, Any] = {
        "volume": {"outline_circle": {"center": {"lat": lat, "lng": lng}, "radius": {"value": 500, "units": "M"}}},
        "time_start": {"value": "2030-01-01T00:00:00Z", "format": "RFC3339"},
        "time_end": {"value": "2030-01-01T01:00:00Z", "format": "RFC3339"},
    }
    return parse_volume4d(raw, "v", require_time=True, require_altitude=False)


def test_a_new_document_on_the_same_volumes_keeps_the_index_and_new_volumes_move_it() -> None:
    here, there = volume(10.0, 10.0), volume(20.0, 20.0)
    subs = VolumeSet()
    first = Entity("s1", "uss-a", {"notification_index": 0}, (here,))
    assert subs.put(first) is None
    bumped = replace(first, doc={"notification_index": 1})
    assert subs.put(bumped) is first
    assert len(subs.index) == 1
    assert subs.intersecting([here]) == [bumped]
    moved = replace(bumped, volumes=(there,))
    assert subs.put(moved) is bumped
    assert len(subs.index) == 1
    assert subs.intersecting([here]) == [] and subs.intersecting([there]) == [moved]
    assert subs.remove("s1") is moved and len(subs.index) == 0
