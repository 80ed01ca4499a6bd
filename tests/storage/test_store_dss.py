"""The DSS entities' storage, on each backend: documents by kind and id, replaced whole, deleted, read back as
written (the F3548 services build their picture from them at start-up)."""

from __future__ import annotations

import pytest

from deconfliction.storage.base import Store
from deconfliction.storage.dss import DssDoc
from tests.conftest import BOTH_BACKENDS
from tests.storage.conftest import AT, INTEGRITY_ERRORS

pytestmark = BOTH_BACKENDS

OIR = {
    "id": "2f8343be-6482-4d1b-a474-16847e01af1e",
    "version": 1,
    "ovn": "2f8343be-6482-4d1b-a474-16847e01af1e_0190c7e0-7a4c-7bd2-9b7c-58ff16e8c2f1",
    "extents": [{"volume": {"outline_circle": {"center": {"lat": 35.3, "lng": 40.1}, "radius": {"value": 1000.5}}}}],
    "name": "unicode ✓ and \u00e9",
}


def test_documents_are_kept_whole_by_kind_and_id(store: Store) -> None:
    with store.write() as tx:
        tx.save_dss(DssDoc("oir", OIR["id"], "uss-a", OIR), AT)
        tx.save_dss(DssDoc("subscription", OIR["id"], "uss-a", {"same id": "another kind"}), AT)
    with store.read() as tx:
        got = tx.get_dss("oir", OIR["id"])
        assert got == DssDoc("oir", OIR["id"], "uss-a", OIR)
        assert tx.get_dss("constraint", OIR["id"]) is None
        assert [d.kind for d in tx.get_dss_many("subscription", [OIR["id"], "missing"])] == ["subscription"]
        assert len(tx.all_dss("oir")) == 1 and tx.all_dss("report") == []
    changed = {**OIR, "version": 2}
    with store.write() as tx:
        tx.save_dss(DssDoc("oir", OIR["id"], "uss-a", changed), AT)
    with store.read() as tx:
        assert tx.get_dss("oir", OIR["id"]) == DssDoc("oir", OIR["id"], "uss-a", changed)
    with store.write() as tx:
        tx.delete_dss("oir", OIR["id"])
    with store.read() as tx:
        assert tx.get_dss("oir", OIR["id"]) is None and tx.get_dss("subscription", OIR["id"]) is not None


def test_many_ids_at_once(store: Store) -> None:
    ids = [f"id-{i:05d}" for i in range(1_203)]  # past SQLite's batch of 500 and its variable limit
    with store.write() as tx:
        for entity_id in ids:
            tx.save_dss(DssDoc("oir", entity_id, "uss-a", {"i": entity_id}), AT)
    with store.read() as tx:
        assert sorted(d.id for d in tx.get_dss_many("oir", [*ids, "nope"])) == ids


def test_an_unknown_kind_is_refused(store: Store) -> None:
    with pytest.raises(INTEGRITY_ERRORS), store.write() as tx:
        tx.save_dss(DssDoc("drone", "x", "uss-a", {}), AT)
