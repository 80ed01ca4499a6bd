"""The record never tells what need-to-know hides, and every entry of it verifies — over a real server.

Declarations with distinctive coordinates and names (shared with nobody, with a list, with all), conflicts between
them, messages with distinctive subjects, bodies and relay notes: then the whole ledger, as any party reads it, is
searched for every one of those strings, and each entry's hash, chain link and signatures are checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from deconfliction.domain.signing import Purpose, SigningKey, digest_of, verify
from deconfliction.ledger.entry import FIELDS, entry_hash
from tests.e2e.channel import END, START, Channel, deir_ez_zor
from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow

# sdf's area, hidden from everyone (audience "conflicts"): unusual decimals, easy to find if they leak
SDF_RING = [[40.123457, 35.345679], [40.234568, 35.345679], [40.234568, 35.456791], [40.123457, 35.456791]]
SDF_NAME = "Jazeera-Storm-Q7X"
# saa's area, about 1 km south-west of sdf's (they conflict), shared with russia only
SAA_RING = [[40.051357, 35.281357], [40.115246, 35.281357], [40.115246, 35.339246], [40.051357, 35.339246]]
SAA_NAME = "Deir-Falcon-Z3M"
# coalition's, shared with sdf and later narrowed; russia's, shared with all
COALITION_RING = [[40.616161, 35.727272], [40.676767, 35.727272], [40.676767, 35.787878], [40.616161, 35.787878]]
COALITION_NAME = "Coalition-Heron-K8W"
RUSSIA_RING = [[40.818283, 35.909192], [40.868384, 35.909192], [40.868384, 35.959293], [40.818283, 35.959293]]
RUSSIA_NAME = "Russia-Lynx-P4V"

SUBJECT = "Subject-Kestrel-9QJ"
BODY = "Body-Zephyr-7731: we hold the east bank from the bridge to the silos"
NOTE = "Note-Ouzel-55R"
REFUSAL = "Refusal-Bittern-42T"
SECOND_SUBJECT = "Subject-Plover-3KD"
DIRECT_BODY = "Body-Osprey-6610 direct"

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def closed(ring: list[list[float]]) -> list[list[float]]:
    return [*ring, ring[0]]


def area(ring: list[list[float]], name: str, audience: Any, **props: Any) -> dict[str, Any]:
    properties = {"kind": "area", "name": name, "start": START, "end": END, "audience": audience, **props}
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [closed(ring)]}, "properties": properties}


def coordinate_spellings(value: float) -> set[str]:
    """The ways a coordinate could be written out: as given, and rounded to 3–6 decimals."""
    return {repr(value)} | {f"{value:.{d}f}" for d in range(3, 7)}


def secrets_of(*rings: list[list[float]]) -> set[str]:
    return {s for ring in rings for lon, lat in ring for s in coordinate_spellings(lon) | coordinate_spellings(lat)}


def entries(ch: Channel, who: str, page: int = 1000) -> tuple[list[dict[str, Any]], str]:
    """The whole ledger as `who` reads it, page by page; and the raw text of all pages."""
    out: list[dict[str, Any]] = []
    texts: list[str] = []
    after = 0
    while True:
        r = ch.call(who, "GET", "/v1/ledger", params={"after": after, "limit": page})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        texts.append(r.text)
        batch = r.json()
        if not batch:
            return out, "\n".join(texts)
        out += batch
        after = batch[-1]["seq"]


def check_chain(ledger: list[dict[str, Any]], server_key: str) -> None:
    """Contiguous seq, prev links, hashes that recompute, the server's signature, and party signatures by the key
    the party had registered at the time."""
    keys: dict[str, str | None] = {}
    prev = "0" * 64
    for n, e in enumerate(ledger, 1):
        assert sorted(e) == sorted(FIELDS), e
        assert e["seq"] == n, f"seq {e['seq']} where {n} was due"
        assert e["prev"] == prev, f"entry {n}: prev does not link to entry {n - 1}"
        assert entry_hash(e) == e["hash"], f"entry {n}: hash does not recompute"
        assert verify(server_key, Purpose.LEDGER, e["hash"], e["signature"]), f"entry {n}: server signature"
        assert all(v is None or isinstance(v, str | int | bool) for v in e["detail"].values()), e["detail"]
        ps = e["party_signature"]
        if ps is not None:
            assert ps["party"] == e["actor"], e
            assert keys.get(ps["party"]) == ps["public_key"], f"entry {n}: not the party's registered key"
            assert verify(ps["public_key"], Purpose(ps["purpose"]), e["digest"], ps["signature"]), e
        if e["type"] in ("party.created", "party.updated"):
            keys[e["subject"][0]] = e["detail"]["public_key"]
        prev = e["hash"]


def scenario(ch: Channel, keys: dict[str, SigningKey]) -> dict[str, Any]:
    """Declarations, conflicts, notifications, reads and messages; returns what the checks need."""
    sdf = ch.declare("sdf", area(SDF_RING, SDF_NAME, "conflicts", altitude={"lower_m": 0, "upper_m": 3456.78}))
    saa = ch.declare("saa", area(SAA_RING, SAA_NAME, ["russia"]))
    assert len(saa["conflicts"]) == 1, saa
    conflict = saa["conflicts"][0]
    coalition = ch.declare("coalition", area(COALITION_RING, COALITION_NAME, ["sdf"]))
    russia = ch.declare("russia", area(RUSSIA_RING, RUSSIA_NAME, "all"))

    # conflict acknowledged, signed by saa, unsigned by sdf
    sig = keys["saa"].sign(Purpose.ACK, conflict["digest"])
    ch.ok("saa", "POST", f"/v1/conflicts/{conflict['id']}/ack", json={"signature": sig})
    ch.ok("sdf", "POST", f"/v1/conflicts/{conflict['id']}/ack")

    # sdf acknowledges coalition's shared area (signed), reads it, then coalition narrows it to nobody
    salts: list[str] = []
    for who in ("sdf", "saa", "russia", "coalition"):
        for n in ch.ok(who, "GET", "/v1/notifications"):
            salts.append(n["salt"])
            signed = {"signature": keys[who].sign(Purpose.ACK, n["digest"])} if who in keys else {}
            ch.ok(who, "POST", f"/v1/notifications/{n['id']}/ack", json=signed)
    ch.ok("sdf", "GET", f"/v1/declarations/{coalition['id']}")
    ch.ok("saa", "GET", "/v1/declarations")
    ch.ok(
        "coalition",
        "PUT",
        f"/v1/declarations/{coalition['id']}",
        json=area(COALITION_RING, COALITION_NAME, "conflicts"),
        headers={"If-Match": '"1"'},
    )

    # a signed message along the reviewed route, approved with a note, read and acknowledged with a signature
    content = {"from": "sdf", "to": "saa", "subject": SUBJECT, "body": BODY, "refs": [sdf["id"]]}
    sent = ch.send(
        "sdf",
        "saa",
        subject=SUBJECT,
        body=BODY,
        refs=[sdf["id"]],
        signature=keys["sdf"].sign(Purpose.MESSAGE, digest_of(content)),
    )
    ch.ok("coalition", "POST", f"/v1/messages/{sent['id']}/relay", json={"decision": "approve", "note": NOTE})
    assert ch.ok("saa", "GET", f"/v1/messages/{sent['id']}")["body"] == BODY
    ch.ok(
        "saa",
        "POST",
        f"/v1/messages/{sent['id']}/ack",
        json={"signature": keys["saa"].sign(Purpose.ACK, sent["digest"])},
    )
    # one refused with a reason, one sent straight across a link
    refused = ch.send("sdf", "saa", subject=SECOND_SUBJECT, body=BODY)
    ch.ok("coalition", "POST", f"/v1/messages/{refused['id']}/relay", json={"decision": "refuse", "note": REFUSAL})
    direct = ch.send("russia", "saa", subject=SECOND_SUBJECT, body=DIRECT_BODY)
    assert direct["status"] == "delivered"
    return {
        "sdf": sdf["id"],
        "saa": saa["id"],
        "coalition": coalition["id"],
        "russia": russia["id"],
        "conflict": conflict,
        "messages": [sent["id"], refused["id"], direct["id"]],
        "salts": salts,
    }


def test_the_ledger_holds_no_geometry_names_or_message_text_and_every_entry_verifies(server: Server) -> None:
    keys = {"sdf": SigningKey.generate(), "saa": SigningKey.generate()}
    ch = Channel(server)
    try:
        deir_ez_zor(ch, {p: k.public_key_b64 for p, k in keys.items()})
        made = scenario(ch, keys)
        ledger, text = entries(ch, "russia")  # russia: party to none of it
        saa_ledger, _ = entries(ch, "saa", page=7)  # another party, in small pages: the same record
        assert saa_ledger == ledger
        key = ch.ok("russia", "GET", "/v1/ledger/key")
        head = ch.ok("saa", "GET", "/v1/ledger/head")
        one = ch.ok("sdf", "GET", f"/v1/ledger/{ledger[len(ledger) // 2]['seq']}")
        tokens = list(ch.tokens.values())
        # the search below finds these strings where they rightly are: in what the owner and the recipient read
        control = ch.call("sdf", "GET", f"/v1/declarations/{made['sdf']}").text
        control += ch.call("saa", "GET", f"/v1/messages/{made['messages'][0]}").text
    finally:
        ch.close()

    # --- nothing need-to-know hides ---------------------------------------------------------------
    conflict = made["conflict"]
    lon, lat = conflict["location"]["coordinates"]
    secrets = secrets_of(SDF_RING, SAA_RING, COALITION_RING, RUSSIA_RING) | {
        SDF_NAME,
        SAA_NAME,
        COALITION_NAME,
        RUSSIA_NAME,
        "3456.78",
        SUBJECT,
        SECOND_SUBJECT,
        "Body-Zephyr",
        "east bank",
        "Body-Osprey",
        NOTE,
        REFUSAL,
        str(lon),
        str(lat),  # saa's own point of the conflict: on saa's hidden shape
        str(conflict["distance_m"]),
        *made["salts"],  # with a salt, a guess of a hidden geometry could be confirmed from its digest
        *tokens,
    }
    exact = {repr(v) for point in SDF_RING for v in point}
    assert {*exact, SDF_NAME, "3456.78", SUBJECT, NOTE, "Body-Zephyr"} <= {
        s for s in secrets if s.lower() in control.lower()
    }
    searched = _TIMESTAMP.sub("<time>", text)  # a timestamp's seconds could match a coordinate by chance
    found = sorted(s for s in secrets if s.lower() in searched.lower())
    assert not found, f"the ledger discloses {found}"

    # conflicts are named by their own id only: neither declaration, hidden from the other party, is named
    conflict_entries = [e for e in ledger if e["type"].startswith("conflict.")]
    assert {e["type"] for e in conflict_entries} >= {"conflict.opened", "conflict.acknowledged"}
    for e in conflict_entries:
        assert e["subject"] == [conflict["id"]], e
        dumped = json.dumps(e)
        assert made["sdf"] not in dumped and made["saa"] not in dumped, e
    # messages: no refs either
    for e in (e for e in ledger if e["type"].startswith("message.")):
        assert e["subject"][0] in made["messages"]
        assert made["sdf"] not in json.dumps(e), f"a message entry names its refs: {e}"
    # the unshared declaration: the record says it was unshared, not what it was
    unshared = [e for e in ledger if e["type"] == "declaration.unshared"]
    assert [(e["actor"], e["subject"], e["detail"]) for e in unshared] == [
        ("coalition", [made["coalition"]], {"party": "sdf"})
    ]

    types = {e["type"] for e in ledger}
    assert {
        "party.created",
        "link.created",
        "declaration.created",
        "declaration.updated",
        "declaration.notified",
        "declaration.unshared",
        "notification.acknowledged",
        "conflict.opened",
        "conflict.acknowledged",
        "declarations.viewed",
        "message.sent",
        "message.held",
        "message.relayed",
        "message.refused",
        "message.delivered",
        "message.read",
        "message.acknowledged",
    } <= types, types

    # --- every entry verifies ---------------------------------------------------------------------
    assert key["algorithm"] == "Ed25519"
    check_chain(ledger, key["public_key"])
    assert head["seq"] == ledger[-1]["seq"] and head["hash"] == ledger[-1]["hash"]
    assert head.get("public_key", key["public_key"]) == key["public_key"]
    assert one == ledger[len(ledger) // 2]
    signed_types = {e["type"] for e in ledger if e["party_signature"] is not None}
    assert signed_types == {
        "message.sent",
        "message.acknowledged",
        "conflict.acknowledged",
        "notification.acknowledged",
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda led: led[2]["detail"].update(status="suspended"), "hash does not recompute"),
        (lambda led: led.pop(3), "seq"),
        (lambda led: led[4].update(prev=led[2]["hash"]), "prev does not link"),
        (lambda led: led[5].update(signature=led[6]["signature"]), "server signature"),
    ],
    ids=["detail", "removed", "relinked", "signature"],
)
def test_the_chain_check_catches_a_changed_record(
    server: Server, change: Callable[[list[dict[str, Any]]], Any], reason: str
) -> None:
    """The checks above are not vacuous: one changed entry fails them."""
    ch = Channel(server)
    try:
        deir_ez_zor(ch)
        ch.declare("sdf", area(SDF_RING, SDF_NAME, ["saa"]))
        ledger, _ = entries(ch, "saa")
        key = ch.ok("saa", "GET", "/v1/ledger/key")["public_key"]
    finally:
        ch.close()
    check_chain(ledger, key)
    change(ledger)
    with pytest.raises(AssertionError, match=reason):
        check_chain(ledger, key)


def test_the_ledger_needs_a_token(server: Server) -> None:
    for path in ("/v1/ledger", "/v1/ledger/head", "/v1/ledger/key", "/v1/ledger/1"):
        assert httpx.get(server.url + path, timeout=10).status_code == 401
