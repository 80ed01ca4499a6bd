"""Shared fixtures: a wired channel on a real SQLite file, an in-process HTTP client, and scenario helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deconfliction.api.app import create_app
from deconfliction.bootstrap import Wired, wire
from deconfliction.config import Settings, load_settings

ADMIN = "test-admin-token"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    # no network listeners beyond HTTP in process: the CoT listeners would bind real ports
    values: dict[str, Any] = {"db": str(tmp_path / "channel.db"), "admin_token": ADMIN, "rate_limit_per_s": 0,
                              "cot_tls_port": 0, "cot_port": 0}  # fmt: skip
    values.update(overrides)
    return load_settings(env={}, overrides=values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


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
