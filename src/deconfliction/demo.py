"""The Deir ez-Zor scenario, played into a running channel through its HTTP API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from deconfliction.client import Client
from deconfliction.domain.lines import Line, LineLimits, LineStatus, parse_proposal
from deconfliction.domain.messages import MessageContent
from deconfliction.domain.signing import Purpose, SigningKey, new_salt
from deconfliction.domain.timewindow import utcnow
from deconfliction.ledger.entry import line
from deconfliction.ledger.verify import Report, verify_lines


def scenario() -> dict[str, Any]:
    text = (resources.files("deconfliction.scenario") / "deir_ez_zor.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass
class Loaded:
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    declarations: list[dict[str, Any]] = field(default_factory=list)
    conflicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    message: dict[str, Any] = field(default_factory=dict)
    line: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    ledger: Report | None = None
    ledger_key: str = ""
    ledger_head: str = ""


def load(url: str, admin_token: str, data: dict[str, Any] | None = None) -> Loaded:
    """Create the parties, links and declarations of the scenario; gather each party's conflicts."""
    data = data or scenario()
    out = Loaded()
    out.keys = {party: SigningKey.generate() for party in data.get("signing_parties", [])}
    with Client(url, admin_token) as admin:
        for party in data["parties"]:
            body = dict(party)
            if party["id"] in out.keys:
                body["public_key"] = out.keys[party["id"]].public_key_b64
            out.tokens[party["id"]] = admin.post("/v1/parties", body)["token"]
        for link in data["links"]:
            admin.post("/v1/links", link)
    for item in data["declarations"]:
        with Client(url, out.tokens[item["party"]]) as party_client:
            out.declarations.append(party_client.post("/v1/declarations", item["feature"]))
    for party, token in out.tokens.items():
        with Client(url, token) as party_client:
            out.conflicts[party] = party_client.get("/v1/conflicts")
    return out


def agree_line(url: str, loaded: Loaded, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Euphrates as the agreed line: the SDF keeps to its left bank walking downstream (north-east), the SAA to
    its right; proposed and accepted with both parties' signatures. Returns the line as accepted."""
    spec = (data or scenario())["line"]
    proposer, partner = spec["proposer"], spec["with"]
    body: dict[str, Any] = {
        "id": spec["id"],
        "with": partner,
        "geometry": (data or scenario())["river"],
        "left": spec["left"],
        "right": spec["right"],
        "tolerance_m": spec["tolerance_m"],
        "salt": new_salt(),
    }
    terms = parse_proposal(proposer, body, LineLimits()).terms
    now = utcnow()
    digest = Line(spec["id"], terms, body["salt"], LineStatus.PROPOSED, now, now).digest
    if proposer in loaded.keys:
        body["signature"] = loaded.keys[proposer].sign(Purpose.MESSAGE, digest)
    with Client(url, loaded.tokens[proposer]) as client:
        client.post("/v1/lines", body)
    answer: dict[str, Any] = {}
    if partner in loaded.keys:
        answer["signature"] = loaded.keys[partner].sign(Purpose.AGREE, digest)
    with Client(url, loaded.tokens[partner]) as client:
        loaded.line = client.post(f"/v1/lines/{spec['id']}/accept", answer)
    for party, token in loaded.tokens.items():  # the line conflicts it opened, with the rest
        with Client(url, token) as party_client:
            loaded.conflicts[party] = party_client.get("/v1/conflicts")
    return loaded.line


def move_tracks(url: str, loaded: Loaded, ticks: int = 3, interval_s: float = 0.5) -> list[dict[str, Any]]:
    """A few live reports of the scenario's aircraft and convoys; returns the warnings they raised (each once)."""
    from deconfliction.simulate import DEIR_EZ_ZOR, run

    seen: dict[str, dict[str, Any]] = {}
    for tick in run(url, loaded.tokens, DEIR_EZ_ZOR, ticks=ticks, interval_s=interval_s):
        for warning in tick.warnings:
            seen.setdefault(warning["id"], {**warning, "party": tick.mover.party, "track": tick.mover.track_id})
    loaded.warnings = list(seen.values())
    return loaded.warnings


def relay_message(url: str, loaded: Loaded, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scenario's message: signed by its sender, reviewed and approved where a review link is crossed, relayed,
    read and acknowledged with the recipient's signature. Returns the message as its sender sees it at the end."""
    spec = (data or scenario())["message"]
    sender, recipient = spec["from"], spec["to"]
    content = MessageContent.parse(sender, {"to": recipient, "subject": spec["subject"], "body": spec["body"]})
    body: dict[str, Any] = {"to": recipient, "subject": spec["subject"], "body": spec["body"]}
    if sender in loaded.keys:
        body["signature"] = loaded.keys[sender].sign(Purpose.MESSAGE, content.digest)
    with Client(url, loaded.tokens[sender]) as client:
        message = client.post("/v1/messages", body)
    while message["waiting"] is not None and message["waiting"]["kind"] == "review":
        with Client(url, loaded.tokens[message["waiting"]["on"]]) as reviewer:
            decision = {"decision": "approve", "note": spec.get("review_note")}
            message = reviewer.post(f"/v1/messages/{message['id']}/relay", decision)
    with Client(url, loaded.tokens[recipient]) as client:
        client.get(f"/v1/messages/{message['id']}")  # read
        ack: dict[str, Any] = {}
        if recipient in loaded.keys:
            ack["signature"] = loaded.keys[recipient].sign(Purpose.ACK, message["digest"])
        client.post(f"/v1/messages/{message['id']}/ack", ack)
    with Client(url, loaded.tokens[sender]) as client:
        loaded.message = client.get(f"/v1/messages/{message['id']}")
    return loaded.message


def verify_ledger(url: str, loaded: Loaded) -> Report:
    """Export the whole record over HTTP, then check it as an outside verifier would: chain, server and party
    signatures, against the server's published key."""
    token = next(iter(loaded.tokens.values()))
    lines: list[bytes] = []
    with Client(url, token) as client:
        loaded.ledger_key = client.get("/v1/ledger/key")["public_key"]
        after = 0
        while page := client.http.get("/v1/ledger", params={"after": after, "limit": 1000}).json():
            lines.extend(line(entry) for entry in page)
            after = page[-1]["seq"]
        loaded.ledger_head = client.get("/v1/ledger/head")["hash"]
    loaded.ledger = verify_lines(lines, loaded.ledger_key, expect_head=loaded.ledger_head)
    return loaded.ledger
