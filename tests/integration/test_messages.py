"""Messages through intermediaries, in process: routing, review, refusal, waiting, signatures, acknowledgements."""

from __future__ import annotations

from typing import Any

from deconfliction.domain.signing import Purpose, SigningKey, digest_of, verify
from tests.conftest import Api

PARTIES = ("sdf", "coalition", "russia", "saa")
LINKS = (("sdf", "coalition", "auto"), ("russia", "saa", "auto"), ("coalition", "russia", "review"))


def channel(api: Api, keys: dict[str, SigningKey] | None = None) -> None:
    keys = keys or {}
    for party in PARTIES:
        body: dict[str, Any] = {"id": party, "name": party.upper()}
        if party in keys:
            body["public_key"] = keys[party].public_key_b64
        r = api.call("admin", "POST", "/v1/parties", json=body)
        assert r.status_code == 201, r.text
        api.tokens[party] = r.json()["token"]
    for a, b, relay in LINKS:
        assert api.call("admin", "POST", "/v1/links", json={"a": a, "b": b, "relay": relay}).status_code == 201


def send(api: Api, sender: str, to: str, **extra: Any) -> dict[str, Any]:
    r = api.call(sender, "POST", "/v1/messages", json={"to": to, "subject": "Positions", "body": "East bank", **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_scenario_message_is_reviewed_relayed_delivered_and_acknowledged_with_a_signature(api: Api) -> None:
    keys = {"sdf": SigningKey.generate(), "saa": SigningKey.generate()}
    channel(api, keys)
    content = {"from": "sdf", "to": "saa", "subject": "Positions", "body": "East bank", "refs": []}
    digest = digest_of(content)
    sent = send(api, "sdf", "saa", signature=keys["sdf"].sign(Purpose.MESSAGE, digest))
    assert sent["digest"] == digest
    assert sent["route"] == ["sdf", "coalition", "russia", "saa"]
    assert sent["status"] == "queued" and sent["waiting"]["on"] == "coalition"
    assert [h["status"] for h in sent["hops"]] == ["sent", "queued", "pending", "pending"]
    # the recipient has nothing yet; the reviewer has it in its relay box
    assert api.call("saa", "GET", "/v1/messages?box=inbox").json() == []
    assert api.call("saa", "GET", f"/v1/messages/{sent['id']}").status_code == 404
    box = api.call("coalition", "GET", "/v1/messages?box=relay").json()
    assert [m["id"] for m in box] == [sent["id"]]
    assert api.call("russia", "GET", "/v1/messages?box=relay").json() == []
    r = api.call("coalition", "POST", f"/v1/messages/{sent['id']}/relay", json={"decision": "approve", "note": "ok"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "delivered"
    inbox = api.call("saa", "GET", "/v1/messages?box=inbox").json()
    assert [m["digest"] for m in inbox] == [digest]  # what arrives is what was signed
    read = api.call("saa", "GET", f"/v1/messages/{sent['id']}").json()
    assert read["status"] == "read" and read["signed"] is True
    # an unsigned acknowledgement from a party with a key is refused; a signed one is kept
    assert api.call("saa", "POST", f"/v1/messages/{sent['id']}/ack", json={}).status_code == 422
    forged = SigningKey.generate().sign(Purpose.ACK, digest)
    bad = api.call("saa", "POST", f"/v1/messages/{sent['id']}/ack", json={"signature": forged})
    assert bad.status_code == 422 and bad.json()["field"] == "signature"
    replayed = api.call("saa", "POST", f"/v1/messages/{sent['id']}/ack", json={"signature": sent["signature"]})
    assert replayed.status_code == 422  # the sender's message signature is no acknowledgement
    ack = keys["saa"].sign(Purpose.ACK, digest)
    done = api.call("saa", "POST", f"/v1/messages/{sent['id']}/ack", json={"signature": ack})
    assert done.status_code == 200, done.text
    seen = api.call("sdf", "GET", f"/v1/messages/{sent['id']}").json()
    assert seen["status"] == "acknowledged"
    assert [h["status"] for h in seen["hops"]] == ["sent", "relayed", "relayed", "acknowledged"]
    assert seen["hops"][1]["note"] == "ok"
    assert seen["acknowledgement"]["signature"] == ack


def test_no_path_is_422(api: Api) -> None:
    channel(api)
    api.add_party("unhcr")
    r = api.call("sdf", "POST", "/v1/messages", json={"to": "unhcr", "subject": "x", "body": ""})
    assert r.status_code == 422 and "no path" in r.json()["detail"]


def test_a_refusal_reaches_the_sender_with_its_reason_and_nothing_reaches_the_recipient(api: Api) -> None:
    channel(api)
    sent = send(api, "sdf", "saa")
    r = api.call(
        "coalition", "POST", f"/v1/messages/{sent['id']}/relay", json={"decision": "refuse", "note": "Too precise"}
    )
    assert r.status_code == 200
    seen = api.call("sdf", "GET", f"/v1/messages/{sent['id']}").json()
    assert seen["status"] == "refused" and seen["refused_by"] == "coalition"
    assert seen["hops"][1] == {**seen["hops"][1], "status": "refused", "note": "Too precise"}
    assert api.call("saa", "GET", "/v1/messages?box=inbox").json() == []


def test_a_suspended_intermediary_holds_the_message_flagged_until_it_is_active_again(api: Api) -> None:
    channel(api)
    assert api.call("admin", "PATCH", "/v1/parties/russia", json={"status": "suspended"}).status_code == 200
    sent = send(api, "sdf", "saa")
    approve = {"decision": "approve"}
    assert api.call("coalition", "POST", f"/v1/messages/{sent['id']}/relay", json=approve).status_code == 200
    held = api.call("sdf", "GET", f"/v1/messages/{sent['id']}").json()
    assert held["status"] == "queued"
    assert held["waiting"]["kind"] == "inactive" and held["waiting"]["on"] == "russia"
    assert "russia" in held["waiting"]["reason"]
    assert api.call("admin", "PATCH", "/v1/parties/russia", json={"status": "active"}).status_code == 200
    moved = api.call("sdf", "GET", f"/v1/messages/{sent['id']}").json()
    assert moved["status"] == "delivered" and moved["waiting"] is None  # the approval was not asked again


def test_a_withdrawn_recipient_leaves_the_message_waiting_and_the_sender_sees_why(api: Api) -> None:
    channel(api)
    assert api.call("admin", "PATCH", "/v1/parties/saa", json={"status": "withdrawn"}).status_code == 200
    sent = send(api, "russia", "saa")
    assert sent["status"] == "queued"
    assert sent["waiting"] == {"on": "saa", "kind": "inactive", "reason": sent["waiting"]["reason"]}
    assert "saa is not active" in sent["waiting"]["reason"]


def test_removing_a_link_holds_a_routed_message_and_restoring_it_lets_it_go_on(api: Api) -> None:
    channel(api)
    sent = send(api, "sdf", "saa")
    assert api.call("admin", "DELETE", "/v1/links/russia/saa").status_code == 204
    approve = {"decision": "approve"}
    assert api.call("coalition", "POST", f"/v1/messages/{sent['id']}/relay", json=approve).status_code == 200
    held = api.call("sdf", "GET", f"/v1/messages/{sent['id']}").json()
    assert held["waiting"]["kind"] == "unlinked" and held["holder"] == "russia"
    link = {"a": "saa", "b": "russia", "relay": "auto"}
    assert api.call("admin", "POST", "/v1/links", json=link).status_code == 201
    assert api.call("sdf", "GET", f"/v1/messages/{sent['id']}").json()["status"] == "delivered"


def test_a_signed_message_is_accepted_once_and_a_forged_one_never(api: Api) -> None:
    keys = {"sdf": SigningKey.generate()}
    channel(api, keys)
    content = {"from": "sdf", "to": "coalition", "subject": "Positions", "body": "East bank", "refs": []}
    digest = digest_of(content)
    forged = SigningKey.generate().sign(Purpose.MESSAGE, digest)
    r = api.call("sdf", "POST", "/v1/messages", json={"to": "coalition", "subject": "Positions", "body": "East bank",
                                                       "signature": forged})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "signature"
    good = keys["sdf"].sign(Purpose.MESSAGE, digest)
    sent = send(api, "sdf", "coalition", signature=good)
    assert sent["signed"] is True
    replay = api.call("sdf", "POST", "/v1/messages", json={"to": "coalition", "subject": "Positions",
                                                            "body": "East bank", "signature": good})  # fmt: skip
    assert replay.status_code == 422 and "already used" in replay.json()["detail"]
    # an acknowledgement signature is no message signature
    ack_sig = keys["sdf"].sign(Purpose.ACK, digest_of({**content, "subject": "Other"}))
    r = api.call("sdf", "POST", "/v1/messages", json={"to": "coalition", "subject": "Other", "body": "East bank",
                                                       "signature": ack_sig})  # fmt: skip
    assert r.status_code == 422
    # the recipient verifies the originator's signature with the key every party can read
    key = next(p["public_key"] for p in api.call("coalition", "GET", "/v1/parties").json() if p["id"] == "sdf")
    got = api.call("coalition", "GET", f"/v1/messages/{sent['id']}").json()
    assert verify(key, Purpose.MESSAGE, got["digest"], got["signature"])
    assert digest_of({k: got[k] for k in ("from", "to", "subject", "body", "refs")}) == got["digest"]
