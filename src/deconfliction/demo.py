"""The Deir ez-Zor scenario, loaded into a running channel through its HTTP API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from deconfliction.client import Client


def scenario() -> dict[str, Any]:
    text = (resources.files("deconfliction.scenario") / "deir_ez_zor.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass
class Loaded:
    tokens: dict[str, str] = field(default_factory=dict)
    declarations: list[dict[str, Any]] = field(default_factory=list)
    conflicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def load(url: str, admin_token: str, data: dict[str, Any] | None = None) -> Loaded:
    """Create the parties, links and declarations of the scenario; gather each party's conflicts."""
    data = data or scenario()
    out = Loaded()
    with Client(url, admin_token) as admin:
        for party in data["parties"]:
            out.tokens[party["id"]] = admin.post("/v1/parties", party)["token"]
        for link in data["links"]:
            admin.post("/v1/links", link)
    for item in data["declarations"]:
        with Client(url, out.tokens[item["party"]]) as party_client:
            out.declarations.append(party_client.post("/v1/declarations", item["feature"]))
    for party, token in out.tokens.items():
        with Client(url, token) as party_client:
            out.conflicts[party] = party_client.get("/v1/conflicts")
    return out
