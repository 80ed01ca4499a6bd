"""The uss() dependency over HTTP: 401 without a good token, 403 without the scope, never the token echoed back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from deconfliction.adapters.f3548_tokens import Claims, TokenVerifier, load_keys, party_id_for
from deconfliction.api import problems
from deconfliction.api.f3548_auth import NOT_CONFIGURED, uss
from tests.f3548_tokens import TokenMint

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CP = "utm.constraint_processing"


def make_app(verifier: TokenVerifier | None) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.state.f3548_verifier = verifier

    @app.get("/dss/v1/operational_intent_references/{entityid}")
    async def get_oir(entityid: str, claims: Annotated[Claims, Depends(uss(SC, CMSA))]) -> dict[str, str]:
        return {"entityid": entityid, "sub": claims.sub, "party": party_id_for(claims.sub)}

    return app


@pytest.fixture
def mint(tmp_path: Path) -> TokenMint:
    return TokenMint(tmp_path)


@pytest.fixture
def client(mint: TokenMint) -> TestClient:
    verifier = TokenVerifier(load_keys(mint.jwks_path), [mint.audience])
    return TestClient(make_app(verifier))


def said(answer: Any) -> str:
    """The error's text: the standard's ErrorResponse `message` under /dss, Problem Details' `detail` elsewhere."""
    body = answer.json()
    return str(body.get("message", body.get("detail")))


URL = "/dss/v1/operational_intent_references/2f8343be-6482-4d1b-a474-16847e01af1e"


def test_a_token_with_one_of_the_scopes_passes(client: TestClient, mint: TokenMint) -> None:
    for scopes in ([SC], [CMSA], [CP, CMSA]):
        answer = client.get(URL, headers=mint.bearer("uss1", scopes))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"entityid": URL.rsplit("/", 1)[1], "sub": "uss1", "party": "uss-uss1"}


def test_the_wrong_scope_is_403_naming_the_scopes(client: TestClient, mint: TokenMint) -> None:
    token = mint.mint("uss1", [CP])
    answer = client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    detail = said(answer)
    assert SC in detail and CMSA in detail
    assert token not in answer.text


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "missing access token"),
        ({"Authorization": ""}, "missing access token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer <access token>"),
        ({"Authorization": "Bearer"}, "Bearer <access token>"),
        ({"Authorization": "Bearer not.a-token"}, "malformed"),
    ],
)
def test_no_usable_token_is_401(client: TestClient, headers: dict[str, str], words: str) -> None:
    answer = client.get(URL, headers=headers)
    assert answer.status_code == 401
    assert words in said(answer)


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"exp_s": -120}, "expired"),
        ({"aud": "elsewhere.example.org"}, "wrong audience"),
        ({"sub": ""}, "no subject"),
    ],
)
def test_a_bad_token_is_401_and_never_echoed(
    client: TestClient, mint: TokenMint, claims: dict[str, object], words: str
) -> None:
    sub = str(claims.pop("sub", "uss1"))
    token = mint.mint(sub, [SC], **claims)  # type: ignore[arg-type]
    answer = client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert words in said(answer)
    assert token not in answer.text
    for part in token.split("."):
        assert part not in answer.text


def test_a_token_from_another_auth_server_is_401(client: TestClient, tmp_path: Path) -> None:
    stranger = TokenMint(tmp_path / "stranger", kid="other", fresh=True)
    token = stranger.mint("uss1", [SC])
    answer = client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and "key id" in said(answer)
    assert token not in answer.text


def test_an_unconfigured_channel_says_so(mint: TokenMint) -> None:
    answer = TestClient(make_app(None)).get(URL, headers=mint.bearer("uss1", [SC]))
    assert answer.status_code == 401
    assert said(answer) == NOT_CONFIGURED


def test_unknown_scopes_are_refused_when_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match=r"not F3548-21 scopes: utm\.strategic_cordination"):
        uss("utm.strategic_cordination")
