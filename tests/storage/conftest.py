"""One storage contract, run on each backend: a `store` migrated on a fresh SQLite file or PostgreSQL schema, and an
`opener` of more stores on the same database (more "workers")."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from deconfliction.domain.declarations import Declaration, DeclarationLimits, DeclarationStatus, parse_feature
from deconfliction.domain.parties import Party, PartyStatus
from deconfliction.storage.base import Box, Store
from deconfliction.storage.postgres import PostgresStore
from deconfliction.storage.sqlite import SqliteStore
from tests.conftest import feature, square

AT = datetime(2017, 9, 9, 5, 0, 0, 123456, tzinfo=UTC)
# what a violated constraint raises, on either backend
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)

Opener = Callable[[], Store]


@pytest.fixture
def opener(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Opener]:
    place = request.getfixturevalue("pg_url") if backend == "postgresql" else str(tmp_path / "channel.db")
    opened: list[Store] = []

    def open_store() -> Store:
        store: Store = PostgresStore(place) if backend == "postgresql" else SqliteStore(place)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> Store:
    opened = opener()
    opened.migrate()
    return opened


def party(party_id: str, at: datetime = AT) -> Party:
    return Party(party_id, party_id.upper(), PartyStatus.ACTIVE, None, at)


def add_parties(store: Store, *ids: str) -> None:
    with store.write() as tx:
        for party_id in ids:
            tx.add_party(party(party_id))


def declaration(
    key: int,
    owner: str,
    geometry: dict[str, Any] | None = None,
    *,
    version: int = 1,
    status: DeclarationStatus = DeclarationStatus.ACTIVE,
    **props: Any,
) -> Declaration:
    spec = parse_feature(feature(geometry or square(40.0, 35.0), **props), DeclarationLimits())
    return Declaration(key, f"d{key}", owner, version, spec, status, AT, AT)


def boxes_of(d: Declaration) -> list[Box]:
    return d.spec.shape.boxes()
