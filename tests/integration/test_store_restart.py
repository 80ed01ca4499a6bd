"""The store: a restart keeps every declaration, version, conflict, acknowledgement and event."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from deconfliction.bootstrap import wire
from deconfliction.config import Settings
from deconfliction.services import conflicts, declarations, parties
from deconfliction.services.events import events_after
from deconfliction.storage.base import DeclarationQuery
from deconfliction.storage.sqlite import SqliteStore, migrations
from tests.conftest import BOTH_BACKENDS, feature, run_sql, square


@BOTH_BACKENDS
def test_restart_keeps_declarations_conflicts_and_the_active_picture(settings: Settings) -> None:
    first = wire(settings)
    ctx = first.ctx
    parties.create_party(ctx, "sdf", "SDF", None)
    parties.create_party(ctx, "saa", "SAA", None)
    a = declarations.declare(ctx, "sdf", feature(square(40.20, 35.35), separation_m=5000))
    b = declarations.declare(ctx, "saa", feature(square(40.24, 35.35)))
    assert len(b.conflicts) == 1
    revised = declarations.revise(
        ctx, "sdf", a.declaration.id, '"1"', feature(square(40.19, 35.35), separation_m=6000, name="moved")
    )
    conflicts.acknowledge(ctx, "saa", revised.conflicts[0].id)
    cancelled = declarations.declare(ctx, "saa", feature(square(45.0, 30.0)))
    declarations.cancel(ctx, "saa", cancelled.declaration.id)
    before_events = events_after(ctx, "saa", 0)
    ctx.close()

    second = wire(settings)
    ctx2 = second.ctx
    assert second.generated_admin_token is None
    assert sorted(d.id for d in ctx2.picture.declarations.values()) == sorted([a.declaration.id, b.declaration.id])
    kept = declarations.get_visible(ctx2, "sdf", a.declaration.id)
    assert kept.version == 2 and kept.spec.name == "moved" and kept.spec.separation_m == 6000
    assert declarations.get_visible(ctx2, "saa", cancelled.declaration.id).status.value == "cancelled"
    saa_view = conflicts.list_conflicts(ctx2, "saa", None, 100)
    assert [c["status"] for c in saa_view] == ["acknowledged", "resolved"]
    assert [c["resolved_reason"] for c in saa_view] == [None, "updated"]
    assert events_after(ctx2, "saa", 0) == before_events
    # the rebuilt index still finds conflicts for new writes
    again = declarations.declare(ctx2, "saa", feature(square(40.23, 35.36)))
    assert [c.b.declaration for c in again.conflicts] == [a.declaration.id]
    ctx2.close()


def test_migrations_are_versioned_and_applied_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "m.db")
    assert store.migrate() == [v for v, _ in migrations()]
    assert store.migrate() == []
    assert store.schema_version() == max(v for v, _ in migrations())
    store.close()


def test_database_is_in_wal_mode_with_full_sync(settings: Settings) -> None:
    wired = wire(settings)
    wired.ctx.close()
    conn = sqlite3.connect(settings.db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_token_is_stored_only_as_a_hash(settings: Settings) -> None:
    wired = wire(settings)
    _, token = parties.create_party(wired.ctx, "sdf", "SDF", None)
    wired.ctx.close()
    wal = Path(settings.db + "-wal")
    raw = Path(settings.db).read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert token.encode() not in raw


# the channel as schema version 1 left it: no box index
WITHOUT_BOX_INDEX = {
    "sqlite": "DROP TABLE declaration_boxes; DROP INDEX declarations_shared_with_all;"
    " DELETE FROM schema_migrations WHERE version = 2;",
    "postgresql": "DROP INDEX declarations_where_when, declarations_where_when_2, declarations_when,"
    " declarations_shared_with_all; DELETE FROM schema_migrations WHERE version = 2",
}


@BOTH_BACKENDS
def test_migration_2_backfills_the_box_index_of_an_existing_channel(settings: Settings, backend: str) -> None:
    first = wire(settings)
    parties.create_party(first.ctx, "sdf", "SDF", None)
    declarations.declare(first.ctx, "sdf", feature(square(40.2, 35.3)))
    across = {"type": "Polygon", "coordinates": [[[179.99, -0.01], [-179.99, -0.01], [-179.99, 0.01], [179.99, 0.01],
                                                  [179.99, -0.01]]]}  # fmt: skip
    declarations.declare(first.ctx, "sdf", feature(across))
    first.ctx.close()
    run_sql(settings, WITHOUT_BOX_INDEX[backend])
    second = wire(settings)
    assert second.ctx.store.schema_version() == max(version for version, _ in migrations())

    def names(*boxes: tuple[float, float, float, float]) -> int:
        return len(declarations.list_visible(second.ctx, DeclarationQuery(viewer="sdf", boxes=boxes)))

    assert names((40, 35, 41, 36)) == 1
    assert names((179.5, -1, 180, 1)) == 1 and names((-180, -1, -179.5, 1)) == 1
    assert names((10, 10, 11, 11)) == 0
    second.ctx.close()


@BOTH_BACKENDS
def test_a_channel_from_before_the_record_opens_it_with_its_parties_and_keys(settings: Settings) -> None:
    from deconfliction.domain.signing import SigningKey
    from deconfliction.services import ledger

    key = SigningKey.generate()
    first = wire(settings)
    parties.create_party(first.ctx, "sdf", "SDF", key.public_key_b64)
    parties.create_party(first.ctx, "coalition", "Coalition", None)
    parties.add_link(first.ctx, "sdf", "coalition", "auto")
    first.ctx.close()
    run_sql(settings, "DELETE FROM ledger")  # as migration 3 found it: parties and links, no record
    second = wire(settings)
    entries = ledger.entries_after(second.ctx, 0, 100)
    assert [(e["type"], e["subject"]) for e in entries] == [
        ("party.updated", ["coalition"]),
        ("party.updated", ["sdf"]),
        ("link.created", ["coalition", "sdf"]),
    ]
    assert entries[1]["detail"]["public_key"] == key.public_key_b64
    second.ctx.close()
    third = wire(settings)  # once begun, the record is not opened again
    assert len(ledger.entries_after(third.ctx, 0, 100)) == 3
    third.ctx.close()
