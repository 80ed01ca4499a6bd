"""Notifications of shared declarations, who saw what, narrowing an audience, and signed conflict acknowledgements —
in process, on a real SQLite file."""

from __future__ import annotations

from typing import Any

from deconfliction.bootstrap import Wired
from deconfliction.domain.notifications import declaration_digest
from deconfliction.domain.signing import Purpose, SigningKey, verify
from deconfliction.services.events import events_after
from deconfliction.services.views import deliverable
from tests.conftest import Api, feature, square

SAA_KEY = SigningKey.generate()


def parties(api: Api, keys: dict[str, SigningKey] | None = None) -> None:
    """sdf declares; saa (with a registered key) and russia read."""
    keys = {"saa": SAA_KEY} if keys is None else keys
    for party in ("sdf", "saa", "russia"):
        body: dict[str, Any] = {"id": party, "name": party.upper()}
        if party in keys:
            body["public_key"] = keys[party].public_key_b64
        r = api.call("admin", "POST", "/v1/parties", json=body)
        assert r.status_code == 201, r.text
        api.tokens[party] = r.json()["token"]


def shared_area(audience: Any = ("saa",), lon: float = 40.2, **props: Any) -> dict[str, Any]:
    aud = list(audience) if isinstance(audience, tuple) else audience
    return feature(square(lon, 35.4), name="Khabur east", audience=aud, **props)


def notifications(api: Api, who: str, status: str | None = None) -> list[dict[str, Any]]:
    params = {} if status is None else {"status": status}
    r = api.call(who, "GET", "/v1/notifications", params=params)
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


def views(api: Api, declaration_id: str) -> list[dict[str, Any]]:
    r = api.call("sdf", "GET", f"/v1/declarations/{declaration_id}/views")
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


def ledger(api: Api, who: str = "russia") -> list[dict[str, Any]]:
    r = api.call(who, "GET", "/v1/ledger", params={"limit": 1000})
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


# --------------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------------


def test_a_declaration_shared_with_saa_notifies_saa_only_and_its_signed_ack_reaches_the_owner(
    api: Api, wired: Wired
) -> None:
    parties(api)
    declared = api.declare("sdf", shared_area())
    did = declared["id"]

    assert notifications(api, "russia") == []
    assert notifications(api, "sdf") == []  # the owner is not notified of its own declaration
    pending = notifications(api, "saa")
    assert len(pending) == 1, pending
    n = pending[0]
    assert (n["party"], n["from"], n["declaration"], n["version"]) == ("saa", "sdf", did, 1)
    assert n["status"] == "pending" and n["acknowledged_at"] is None and n["signed"] is False
    assert n["ack_by"] is not None and n["ack_by"] > n["created_at"]
    # the digest is of the Feature saa can read, salted with the salt saa is given
    seen = api.call("saa", "GET", f"/v1/declarations/{did}").json()
    assert n["digest"] == declaration_digest(seen, n["salt"])
    assert api.call("saa", "GET", f"/v1/notifications/{n['id']}").json() == n
    assert api.call("russia", "GET", f"/v1/notifications/{n['id']}").status_code == 404
    assert api.call("russia", "POST", f"/v1/notifications/{n['id']}/ack", json={}).status_code == 404

    # saa has a key: an unsigned, a forged, and a wrong-purpose acknowledgement are all refused, and nothing changes
    message_sig = SAA_KEY.sign(Purpose.MESSAGE, n["digest"])
    forged = SigningKey.generate().sign(Purpose.ACK, n["digest"])
    for body in ({}, {"signature": forged}, {"signature": message_sig}, {"signature": "not base64!"}):
        bad = api.call("saa", "POST", f"/v1/notifications/{n['id']}/ack", json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["field"] == "signature"
    assert notifications(api, "saa", "pending") == [n]

    signature = SAA_KEY.sign(Purpose.ACK, n["digest"])
    r = api.call("saa", "POST", f"/v1/notifications/{n['id']}/ack", json={"signature": signature})
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["status"] == "acknowledged" and acked["signed"] is True and acked["signature"] == signature
    assert acked["acknowledged_at"] is not None
    # repeating it changes nothing
    again = api.call("saa", "POST", f"/v1/notifications/{n['id']}/ack", json={"signature": signature})
    assert again.status_code == 200 and again.json() == acked
    assert notifications(api, "saa", "pending") == []
    assert notifications(api, "saa", "acknowledged") == [acked]

    # the owner sees who was notified and who acknowledged; nobody else may ask
    owner_view = api.call("sdf", "GET", f"/v1/declarations/{did}/notifications")
    assert owner_view.status_code == 200, owner_view.text
    assert owner_view.json() == [acked]
    assert api.call("saa", "GET", f"/v1/declarations/{did}/notifications").status_code == 403
    assert api.call("russia", "GET", f"/v1/declarations/{did}/notifications").status_code == 404

    # the owner was told, once
    told = [e for e in events_after(wired.ctx, "sdf", 0) if e.type == "notification.acknowledged"]
    assert [e.data["id"] for e in told] == [n["id"]]
    # and the record keeps saa's signature, which verifies with saa's registered key
    entries = [e for e in ledger(api) if e["type"] == "notification.acknowledged"]
    assert len(entries) == 1
    (entry,) = entries
    assert entry["actor"] == "saa" and n["id"] in entry["subject"] and entry["digest"] == n["digest"]
    ps = entry["party_signature"]
    assert ps == {"party": "saa", "public_key": SAA_KEY.public_key_b64, "purpose": "ack", "signature": signature}
    assert verify(ps["public_key"], Purpose.ACK, entry["digest"], ps["signature"])


def test_a_party_without_a_key_acknowledges_unsigned_and_cannot_send_a_signature(api: Api) -> None:
    parties(api, keys={})
    declared = api.declare("sdf", shared_area(audience="all"))
    for who in ("saa", "russia"):
        (n,) = notifications(api, who)
        assert n["declaration"] == declared["id"]
    (n,) = notifications(api, "russia")
    signed = SigningKey.generate().sign(Purpose.ACK, n["digest"])
    bad = api.call("russia", "POST", f"/v1/notifications/{n['id']}/ack", json={"signature": signed})
    assert bad.status_code == 422 and bad.json()["field"] == "signature"
    ok = api.call("russia", "POST", f"/v1/notifications/{n['id']}/ack")
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "acknowledged" and ok.json()["signed"] is False
    # saa's notification is untouched by russia's acknowledgement
    assert [x["status"] for x in notifications(api, "saa")] == ["pending"]


def test_revising_a_declaration_supersedes_the_old_notification_and_creates_a_new_one(api: Api) -> None:
    parties(api)
    declared = api.declare("sdf", shared_area())
    did = declared["id"]
    (first,) = notifications(api, "saa")

    r = api.call("sdf", "PUT", f"/v1/declarations/{did}", json=shared_area(lon=40.21), headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2

    now = {n["id"]: n for n in notifications(api, "saa")}
    assert set(now) >= {first["id"]} and len(now) == 2, now
    old = now.pop(first["id"])
    (new,) = now.values()
    assert old["status"] == "superseded" and old["superseded_at"] is not None and old["version"] == 1
    assert new["status"] == "pending" and new["version"] == 2 and new["declaration"] == did
    assert new["digest"] != old["digest"]
    seen = api.call("saa", "GET", f"/v1/declarations/{did}").json()
    assert new["digest"] == declaration_digest(seen, new["salt"])
    assert [n["id"] for n in notifications(api, "saa", "superseded")] == [first["id"]]
    assert [n["id"] for n in notifications(api, "saa", "unacknowledged")] == [new["id"]]

    # the superseded one can no longer be acknowledged; the new one can
    stale = api.call(
        "saa",
        "POST",
        f"/v1/notifications/{first['id']}/ack",
        json={"signature": SAA_KEY.sign(Purpose.ACK, old["digest"])},
    )
    assert stale.status_code == 409, stale.text
    # a signature over the old version's digest does not acknowledge the new version
    wrong = api.call(
        "saa",
        "POST",
        f"/v1/notifications/{new['id']}/ack",
        json={"signature": SAA_KEY.sign(Purpose.ACK, old["digest"])},
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "signature"
    ok = api.call(
        "saa",
        "POST",
        f"/v1/notifications/{new['id']}/ack",
        json={"signature": SAA_KEY.sign(Purpose.ACK, new["digest"])},
    )
    assert ok.status_code == 200, ok.text
    owner = api.call("sdf", "GET", f"/v1/declarations/{did}/notifications").json()
    assert sorted((n["version"], n["status"]) for n in owner) == [(1, "superseded"), (2, "acknowledged")]


def test_an_unknown_status_filter_is_422(api: Api) -> None:
    parties(api)
    r = api.call("saa", "GET", "/v1/notifications", params={"status": "approved"})
    assert r.status_code == 422 and r.json()["field"] == "status"


# --------------------------------------------------------------------------------------------------
# Who saw what
# --------------------------------------------------------------------------------------------------


def test_reads_by_others_are_recorded_with_how_and_the_owners_own_reads_are_not(api: Api) -> None:
    parties(api)
    did = api.declare("sdf", shared_area())["id"]
    hidden = api.declare("sdf", feature(square(41.0, 36.0), name="hidden"))["id"]
    assert views(api, did) == []

    # the owner reading its own declaration leaves no trace
    assert api.call("sdf", "GET", f"/v1/declarations/{did}").status_code == 200
    assert api.call("sdf", "GET", "/v1/declarations").status_code == 200
    assert views(api, did) == []
    # russia cannot read it: a refused read is no view
    assert api.call("russia", "GET", f"/v1/declarations/{did}").status_code == 404
    assert api.call("russia", "GET", "/v1/declarations").json()["features"] == []
    assert views(api, did) == []

    assert api.call("saa", "GET", f"/v1/declarations/{did}").status_code == 200
    listed = api.call("saa", "GET", "/v1/declarations").json()
    assert [f["id"] for f in listed["features"]] == [did]
    seen = views(api, did)
    assert [(v["party"], v["via"]) for v in seen] == [("saa", "read"), ("saa", "list")]
    assert seen[0]["seq"] < seen[1]["seq"] and seen[0]["at"] <= seen[1]["at"]
    # paging by seq
    r = api.call("sdf", "GET", f"/v1/declarations/{did}/views", params={"after": seen[0]["seq"]})
    assert r.json() == seen[1:]
    # the hidden declaration was read by nobody: listing never touched it
    assert views(api, hidden) == []

    # only the owner may ask: saa (who can see it) is refused, russia (who cannot) is told it does not exist
    assert api.call("saa", "GET", f"/v1/declarations/{did}/views").status_code == 403
    assert api.call("russia", "GET", f"/v1/declarations/{did}/views").status_code == 404
    assert api.call("russia", "GET", f"/v1/declarations/{hidden}/views").status_code == 404
    # the record says it too, with the ids and how, never the content
    viewed = [e for e in ledger(api) if e["type"] == "declarations.viewed"]
    assert [(e["actor"], e["subject"], e["detail"]["via"]) for e in viewed] == [
        ("saa", [did], "read"),
        ("saa", [did], "list"),
    ]


def test_narrowing_the_audience_hides_the_declaration_at_once_even_in_events_not_yet_read(
    api: Api, wired: Wired
) -> None:
    parties(api)
    declared = api.declare("sdf", shared_area())
    did = declared["id"]
    other = api.declare("sdf", shared_area(lon=40.5))["id"]  # stays shared with saa

    backlog = events_after(wired.ctx, "saa", 0)
    assert [(e.type, e.data["declaration"]["id"]) for e in backlog] == [
        ("declaration.shared", did),
        ("declaration.shared", other),
    ]
    shown, read = deliverable(wired.ctx, "saa", backlog)
    assert shown == backlog and read == [did, other]
    assert api.call("saa", "GET", f"/v1/declarations/{did}").status_code == 200

    narrowed = api.call(
        "sdf", "PUT", f"/v1/declarations/{did}", json=shared_area(audience="conflicts"), headers={"If-Match": '"1"'}
    )
    assert narrowed.status_code == 200, narrowed.text

    hidden = api.call("saa", "GET", f"/v1/declarations/{did}")
    assert hidden.status_code == 404
    assert "Khabur" not in hidden.text and "40.19" not in hidden.text
    listed = api.call("saa", "GET", "/v1/declarations", params={"status": "all"}).json()
    assert [f["id"] for f in listed["features"]] == [other]
    # saa's notification no longer asks for an acknowledgement
    by_decl = {n["declaration"]: n for n in notifications(api, "saa")}
    assert by_decl[did]["status"] == "superseded" and by_decl[other]["status"] == "pending"

    # the declaration.shared event saa has not read yet is held back; the other one still goes out; saa is told
    # that the declaration was unshared (its id only)
    events = events_after(wired.ctx, "saa", 0)
    shown, read = deliverable(wired.ctx, "saa", events)
    assert [(e.type, e.data.get("id") or e.data["declaration"]["id"]) for e in shown] == [
        ("declaration.shared", other),
        ("declaration.unshared", did),
    ]
    assert read == [other]
    unshared = shown[-1]
    assert unshared.data == {"id": did}

    # views after narrowing: only the read before it; saa's later list did not count it
    assert [(v["party"], v["via"]) for v in views(api, did)] == [("saa", "read")]
    # the record says the declaration was unshared from saa
    unshared_entries = [e for e in ledger(api) if e["type"] == "declaration.unshared"]
    assert [(e["actor"], e["subject"], e["detail"]) for e in unshared_entries] == [("sdf", [did], {"party": "saa"})]


# --------------------------------------------------------------------------------------------------
# Signed conflict acknowledgements
# --------------------------------------------------------------------------------------------------


def conflict_between_sdf_and_saa(api: Api) -> tuple[str, dict[str, Any]]:
    api.declare("sdf", feature(square(40.20, 35.40)))
    saa = api.declare("saa", feature(square(40.20, 35.37)))  # about 1.1 km south: within 2 km
    assert len(saa["conflicts"]) == 1, saa
    conflict: dict[str, Any] = saa["conflicts"][0]
    return str(conflict["id"]), conflict


def test_a_conflict_acknowledged_with_a_signature_over_its_digest_keeps_the_signature(api: Api) -> None:
    parties(api)
    cid, written = conflict_between_sdf_and_saa(api)
    view = api.call("saa", "GET", f"/v1/conflicts/{cid}").json()
    digest = view["digest"]
    assert digest == written["digest"] and len(digest) == 64 and view["signature"] is None
    # both parties sign the same thing
    assert api.call("sdf", "GET", f"/v1/conflicts/{cid}").json()["digest"] == digest

    forged = SigningKey.generate().sign(Purpose.ACK, digest)
    wrong_purpose = SAA_KEY.sign(Purpose.MESSAGE, digest)
    for sig in (forged, wrong_purpose):
        bad = api.call("saa", "POST", f"/v1/conflicts/{cid}/ack", json={"signature": sig})
        assert bad.status_code == 422, bad.text
        assert bad.json()["field"] == "signature"
    still = api.call("saa", "GET", f"/v1/conflicts/{cid}").json()
    assert still["status"] == "open" and still["acknowledged_at"] is None
    assert api.call("sdf", "GET", f"/v1/conflicts/{cid}").json()["other_acknowledged"] is False

    signature = SAA_KEY.sign(Purpose.ACK, digest)
    r = api.call("saa", "POST", f"/v1/conflicts/{cid}/ack", json={"signature": signature})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["signature"] == signature
    assert api.call("saa", "GET", f"/v1/conflicts/{cid}").json()["signature"] == signature
    sdf_view = api.call("sdf", "GET", f"/v1/conflicts/{cid}").json()
    assert sdf_view["other_acknowledged"] is True
    assert sdf_view["signature"] is None  # the signature shown is the caller's own

    entry = next(e for e in ledger(api) if e["type"] == "conflict.acknowledged")
    assert entry["actor"] == "saa" and entry["subject"] == [cid] and entry["digest"] == digest
    assert entry["party_signature"]["signature"] == signature
    assert verify(SAA_KEY.public_key_b64, Purpose.ACK, digest, signature)


def test_conflict_signatures_are_optional_but_checked_when_sent(api: Api) -> None:
    parties(api)
    cid, _ = conflict_between_sdf_and_saa(api)
    digest = api.call("sdf", "GET", f"/v1/conflicts/{cid}").json()["digest"]
    # sdf has no key: a signature cannot be checked, so it is refused; unsigned is fine
    bad = api.call(
        "sdf", "POST", f"/v1/conflicts/{cid}/ack", json={"signature": SigningKey.generate().sign(Purpose.ACK, digest)}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "signature"
    ok = api.call("sdf", "POST", f"/v1/conflicts/{cid}/ack")
    assert ok.status_code == 200 and ok.json()["signature"] is None and ok.json()["status"] == "acknowledged"
    # saa has a key, but a conflict acknowledgement need not be signed
    unsigned = api.call("saa", "POST", f"/v1/conflicts/{cid}/ack", json={})
    assert unsigned.status_code == 200 and unsigned.json()["signature"] is None
    # once acknowledged, it stays as it was
    later = api.call("saa", "POST", f"/v1/conflicts/{cid}/ack", json={"signature": SAA_KEY.sign(Purpose.ACK, digest)})
    assert later.status_code == 200 and later.json()["signature"] is None


def test_a_party_outside_the_conflict_cannot_acknowledge_it(api: Api) -> None:
    parties(api)
    cid, written = conflict_between_sdf_and_saa(api)
    r = api.call(
        "russia", "POST", f"/v1/conflicts/{cid}/ack", json={"signature": SAA_KEY.sign(Purpose.ACK, written["digest"])}
    )
    assert r.status_code == 404
