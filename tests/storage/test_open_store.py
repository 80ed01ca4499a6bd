"""Choosing the backend: `database_url` opens PostgreSQL, empty opens the SQLite file; the URL's password is never
shown; an unreachable server is said at once."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from deconfliction.bootstrap import open_store
from deconfliction.cli import app
from deconfliction.config import SettingsError, load_settings
from deconfliction.storage.postgres import PostgresStore, migrations
from deconfliction.storage.sqlite import SqliteStore


def test_a_postgresql_url_opens_postgresql_migrated_and_no_url_the_sqlite_file(tmp_path: Path, pg_url: str) -> None:
    for scheme in ("postgresql", "postgres"):
        url = pg_url.replace("postgresql://", f"{scheme}://", 1)
        store = open_store(load_settings(env={"DECONF_DATABASE_URL": url, "DECONF_DB": str(tmp_path / "unused.db")}))
        try:
            assert isinstance(store, PostgresStore)
            assert store.schema_version() == migrations()[-1][0]
        finally:
            store.close()
    assert not (tmp_path / "unused.db").exists()
    store = open_store(load_settings(env={"DECONF_DB": str(tmp_path / "channel.db")}))
    try:
        assert isinstance(store, SqliteStore) and store.schema_version() > 0
    finally:
        store.close()


def test_a_database_url_of_another_kind_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="database_url") as refused:
        load_settings(env={"DECONF_DATABASE_URL": "mysql://user:hunter2@db/channel"})
    assert "hunter2" not in str(refused.value)


def test_deconf_config_shows_the_database_url_without_its_password() -> None:
    result = CliRunner().invoke(
        app, ["config"], env={"DECONF_DATABASE_URL": "postgresql://deconf:hunter2@db/ch", "COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "deconf:***@db/ch" in result.output


def test_an_unreachable_server_is_said_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        PostgresStore("postgresql://postgres@127.0.0.1:1/nothing", connect_timeout_s=2)
    assert time.monotonic() - started < 10
