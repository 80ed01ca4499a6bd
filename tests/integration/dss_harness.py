"""The F3548 DSS in process, for the integration tests: an app whose DSS trusts a TokenMint's key, and a caller
that speaks as any USS with any scopes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from deconfliction.api.app import create_app
from deconfliction.bootstrap import wire
from deconfliction.config import Settings
from deconfliction.services.context import Context
from tests.conftest import make_settings
from tests.f3548_tokens import TokenMint

SC = "utm.strategic_coordination"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
CMSA = "utm.conformance_monitoring_sa"


class Dss:
    def __init__(self, client: TestClient, mint: TokenMint, ctx: Context, scopes: tuple[str, ...]) -> None:
        self.client, self.mint, self.ctx, self.scopes = client, mint, ctx, scopes

    def call(self, uss: str, method: str, path: str, scopes: tuple[str, ...] | None = None, **kw: Any) -> Any:
        headers = self.mint.bearer(uss, self.scopes if scopes is None else scopes)
        return self.client.request(method, f"/dss/v1{path}", headers=headers, **kw)


def serve_dss(tmp_path: Path, settings: Settings, scopes: tuple[str, ...]) -> Iterator[Dss]:
    """A DSS on the test's backend (`settings`), its callers holding `scopes` unless a call says otherwise."""
    mint = TokenMint(tmp_path / "auth")
    configured = make_settings(tmp_path, database_url=settings.database_url,
                               f3548_public_keys=str(mint.pem_path), f3548_audience=mint.audience)  # fmt: skip
    wired = wire(configured)
    try:
        app = create_app(configured, wired.ctx, wired.hub, wired.background, wired.dss_verifier)
        with TestClient(app) as client:
            yield Dss(client, mint, wired.ctx, scopes)
    finally:
        wired.ctx.close()


def t(at: datetime) -> dict[str, str]:
    return {"value": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "format": "RFC3339"}


def band_and_times(start_min: float = 5, end_min: float = 65) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": 120, "reference": "W84", "units": "M"},
        "time_start": t(now + timedelta(minutes=start_min)),
        "time_end": t(now + timedelta(minutes=end_min)),
    }


def volume(lat: float, lng: float, radius_m: float = 500, start_min: float = 5, end_min: float = 65) -> dict[str, Any]:
    """A Volume4D: a circle, 0–120 m W84, from start_min to end_min minutes from now."""
    more = band_and_times(start_min, end_min)
    circle = {"center": {"lat": lat, "lng": lng}, "radius": {"value": radius_m, "units": "M"}}
    return {
        "volume": {"outline_circle": circle, "altitude_lower": more["altitude_lower"],
                   "altitude_upper": more["altitude_upper"]},
        "time_start": more["time_start"],
        "time_end": more["time_end"],
    }  # fmt: skip
