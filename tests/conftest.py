"""Shared fixtures: a wired channel on a real SQLite file (or a fresh PostgreSQL schema, for the tests that run on
both backends), an in-process HTTP client, and scenario helpers."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from deconfliction.api.app import create_app
from deconfliction.bootstrap import Wired, wire
from deconfliction.config import Settings, load_settings

ADMIN = "test-admin-token"

# Tests never assert timings, Hypothesis' included: its default 200 ms deadline per example, and its health check
# of slow data generation, fail by chance on a loaded machine. Checks that do not depend on the clock (filtering,
# too large data, …) stay on; a test's own @settings keeps what it sets.
hypothesis.settings.register_profile("deconf", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deconf"))


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    # no network listeners beyond HTTP in process: the CoT listeners would bind real ports
    # webhook receivers in tests listen on the loopback, which only webhook_allow_hosts lets a webhook reach
    values: dict[str, Any] = {"db": str(tmp_path / "channel.db"), "admin_token": ADMIN, "rate_limit_per_s": 0,
                              "cot_tls_port": 0, "cot_port": 0, "webhook_allow_hosts": "127.0.0.1"}  # fmt: skip
    values.update(overrides)
    return load_settings(env={}, overrides=values)


# The PostgreSQL server the tests use (trust auth); they keep their data in the database `deconf_test`.
PG_SERVER = os.environ.get("DECONF_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = "deconf_test"
BACKENDS = ("sqlite", "postgresql")
# Opt a test (or a module, as `pytestmark`) in to running once per backend; it must use `settings` or `backend`.
BOTH_BACKENDS = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def pg_database() -> str:
    """The URL of the test database, created with PostGIS and btree_gist if missing. Fails (never skips) when
    PostgreSQL or PostGIS cannot be had: the PostgreSQL backend must be tested wherever the suite runs."""
    url = f"{PG_SERVER}/{PG_DATABASE}"
    try:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone() is None:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public")
    except psycopg.Error as exc:
        pytest.fail(
            f"the tests on PostgreSQL need a server at {PG_SERVER} (user postgres, trust auth) with PostGIS 3 "
            f"installed (`make test` installs it through scripts/ensure_debian_packages.sh; DECONF_TEST_POSTGRES names "
            f"another server): {exc}",
            pytrace=False,
        )
    return url


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A DECONF_DATABASE_URL whose channel lives in a fresh, empty schema, dropped after the test."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield f"{pg_database}?options=-csearch_path%3D{schema},public"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend of this test: SQLite unless the test is parametrised with BOTH_BACKENDS."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    if backend == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("pg_url"))
    return make_settings(tmp_path)


def run_sql(settings: Settings, statement: str) -> None:
    """Run one statement on the channel's database, behind the server's back (to stage an old channel)."""
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(statement)
    else:
        conn3 = sqlite3.connect(settings.db)
        try:
            conn3.executescript(statement)
        finally:
            conn3.close()


@pytest.fixture
def wired(settings: Settings) -> Iterator[Wired]:
    w = wire(settings)
    yield w
    w.ctx.close()


class Api:
    """An in-process client speaking as one caller at a time."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {"admin": ADMIN}

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.as_(who), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def add_party(self, party_id: str, name: str | None = None) -> str:
        r = self.call("admin", "POST", "/v1/parties", json={"id": party_id, "name": name or party_id.upper()})
        assert r.status_code == 201, r.text
        self.tokens[party_id] = r.json()["token"]
        return self.tokens[party_id]

    def declare(self, who: str, feature: dict[str, Any]) -> dict[str, Any]:
        r = self.call(who, "POST", "/v1/declarations", json=feature)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
def api(wired: Wired, settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(settings, wired.ctx, wired.hub, wired.background)) as client:
        yield Api(client)


def square(lon: float, lat: float, half_deg: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - half_deg, lat - half_deg],
                [lon + half_deg, lat - half_deg],
                [lon + half_deg, lat + half_deg],
                [lon - half_deg, lat + half_deg],
                [lon - half_deg, lat - half_deg],
            ]
        ],
    }


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "kind": "area",
        "name": "test",
        "start": "2017-09-09T05:00:00Z",
        "end": "2017-09-20T00:00:00Z",
    }
    properties.update(props)
    return {"type": "Feature", "geometry": geometry, "properties": properties}
