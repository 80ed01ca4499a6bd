"""The configured limits, answered over real HTTP by `deconf serve` as a user configures it (environment).

Bodies over the default 1 MiB (with and without Content-Length) are in test_server_process.py; here: a configured
body limit, too many vertices and too large an area (422 naming the geometry), and the per-token rate (429 with
Retry-After).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.channel import START, Channel, area
from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"], body
    return body


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    props = {"kind": "area", "name": "limits", "start": START}
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, "properties": props}


def circle(n: int, lon: float = 40.4, lat: float = 35.5, r_deg: float = 0.05) -> list[list[float]]:
    return [
        [round(lon + r_deg * math.cos(2 * math.pi * i / n), 6), round(lat + r_deg * math.sin(2 * math.pi * i / n), 6)]
        for i in range(n)
    ]


def test_vertices_area_and_body_size_limits_as_configured(server_factory: Callable[..., Server]) -> None:
    server = server_factory(
        extra_env={"DECONF_MAX_VERTICES": "50", "DECONF_MAX_AREA_KM2": "1000", "DECONF_MAX_BODY_BYTES": "16384"}
    )
    ch = Channel(server)
    try:
        ch.party("sdf")
        within = ch.call("sdf", "POST", "/v1/declarations", json=polygon(circle(40)))
        assert within.status_code == 201, within.text
        ch.ok("sdf", "DELETE", f"/v1/declarations/{within.json()['id']}", 204)

        many = polygon(circle(200))
        assert len(json.dumps(many)) < 16_384  # refused for its vertices, not its size
        problem = assert_problem(ch.call("sdf", "POST", "/v1/declarations", json=many), 422)
        assert problem["field"].startswith("geometry") and "50" in problem["detail"], problem

        square_deg = [[40.0, 35.0], [40.5, 35.0], [40.5, 35.5], [40.0, 35.5]]  # about 2 500 km²
        problem = assert_problem(ch.call("sdf", "POST", "/v1/declarations", json=polygon(square_deg)), 422)
        assert problem["field"].startswith("geometry") and "km" in problem["detail"], problem

        padded = area(40.4, 35.5, name="x" * 20_000)
        problem = assert_problem(ch.call("sdf", "POST", "/v1/declarations", json=padded), 413)
        assert "16384" in problem["detail"], problem
        assert ch.ok("admin", "GET", "/healthz")["declarations_active"] == 0
    finally:
        ch.close()


def test_a_token_over_its_rate_is_429_with_retry_after(server_factory: Callable[..., Server]) -> None:
    server = server_factory(extra_env={"DECONF_RATE_LIMIT_PER_S": "1", "DECONF_RATE_LIMIT_BURST": "3"})
    ch = Channel(server)
    try:
        ch.party("sdf")
        ch.party("saa")
        answers = [ch.call("sdf", "GET", "/v1/conflicts") for _ in range(6)]  # well within a second
        statuses = [r.status_code for r in answers]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses, statuses
        limited = answers[statuses.index(429)]
        problem = assert_problem(limited, 429)
        assert "rate" in problem["detail"], problem
        retry_s = int(limited.headers["retry-after"])
        assert 1 <= retry_s <= 5, limited.headers
        # per token: saa's bucket is its own
        assert ch.call("saa", "GET", "/v1/conflicts").status_code == 200
        time.sleep(retry_s)
        assert ch.call("sdf", "GET", "/v1/conflicts").status_code == 200
    finally:
        ch.close()
