"""Proofs check offline with the right content and key, and fail with altered content, entry, statement or key."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from deconfliction.domain.signing import Purpose
from deconfliction.ledger.proof import PROOF_FORMAT, check_proof, content_digest, make_proof, statement
from deconfliction.ledger.verify import BadEntry
from tests.unit.ledger_chain import DECLARATION_ID, MESSAGE, MESSAGE_ID, SALT, build_chain, feature, fixed_key

CHAIN = build_chain()
KEY = CHAIN.server.public_key_b64
BY_TYPE = {e["type"]: e for e in CHAIN.entries}  # the last entry of each type
ACK = BY_TYPE["message.acknowledged"]
SENT = CHAIN.entries[10]
NOTIFIED_ACK = BY_TYPE["notification.acknowledged"]


def roundtrip(proof: dict[str, Any]) -> dict[str, Any]:
    """What a checker reads: the proof as a file."""
    loaded: dict[str, Any] = json.loads(json.dumps(proof, indent=2, ensure_ascii=False))
    return loaded


def test_a_proof_is_self_contained_and_says_what_happened() -> None:
    proof = make_proof(ACK, KEY)
    assert proof["proof"] == PROOF_FORMAT
    assert proof["entry"] == ACK and proof["server_public_key"] == KEY and proof["how_to_check"]
    assert proof["statement"] == (
        f"saa acknowledged message {MESSAGE_ID} at {ACK['at']}, signed by saa (an acknowledgement signature)"
        f" — entry {ACK['seq']} of the record"
    )
    assert "signed by sdf (a message signature)" in statement(SENT)


@pytest.mark.parametrize(
    ("seq", "sentence"),
    [
        (1, "party sdf was registered by admin"),
        (4, "link coalition — sdf was created by admin"),
        (6, f"sdf declared {DECLARATION_ID}"),
        (7, f"declaration {DECLARATION_ID} was notified to saa (notification n-1)"),
        (8, f"saa acknowledged notification n-1 (also about {DECLARATION_ID})"),
        (9, "conflict c-9 was opened between sdf and saa"),
        (11, f"sdf sent message {MESSAGE_ID} to saa"),
        (13, f"message {MESSAGE_ID} was held at coalition (review)"),
        (15, f"message {MESSAGE_ID} was delivered to saa"),
        (21, f"saa viewed declarations (also about {DECLARATION_ID})"),
    ],
)
def test_the_statement_reads_as_a_sentence(seq: int, sentence: str) -> None:
    entry = CHAIN.entries[seq - 1]
    assert statement(entry).startswith(f"{sentence} at {entry['at']}")
    assert statement(entry).endswith(f" — entry {seq} of the record")


def test_an_unknown_type_still_makes_a_statement() -> None:
    entry = {**CHAIN.entries[20], "type": "something.new", "subject": ["x-1"]}
    assert statement(entry).startswith("something.new (x-1) by saa at ")


def test_every_entry_of_the_record_makes_a_proof_that_checks() -> None:
    for entry in CHAIN.entries:
        result = check_proof(roundtrip(make_proof(entry, KEY)), None, KEY)
        assert result.ok, (entry["type"], result.problems)
        assert result.statement == statement(entry)


@pytest.mark.parametrize(
    "content",
    [
        MESSAGE,
        {"message": MESSAGE},
        {"content": MESSAGE},
        # the message as the API shows it: extra members, ack_by with an offset, refs as given
        {**MESSAGE, "id": MESSAGE_ID, "digest": "ignored", "route": ["sdf", "coalition", "saa"], "status": "read",
         "ack_by": "2030-01-07T13:00:00+01:00"},
    ],
)  # fmt: skip
def test_a_message_proof_checks_with_the_message_in_hand(content: dict[str, Any]) -> None:
    for entry in (SENT, ACK):
        result = check_proof(roundtrip(make_proof(entry, KEY)), content, KEY)
        assert result.ok, result.problems
        assert any("the content (message) has the entry's digest" in c for c in result.checks)
        assert any("signature verifies" in c for c in result.checks)


@pytest.mark.parametrize(
    "content",
    [
        {"declaration": feature(1), "salt": SALT},
        {"declaration": feature(1), "salt": SALT, "digest": "ignored", "seq": 7},
        {"declaration": feature(1), "notification": {"id": "n-1", "declaration": DECLARATION_ID, "salt": SALT}},
    ],
)
def test_a_declaration_proof_checks_with_the_declaration_and_salt_in_hand(content: dict[str, Any]) -> None:
    result = check_proof(roundtrip(make_proof(NOTIFIED_ACK, KEY)), content, KEY)
    assert result.ok, result.problems
    assert any("the content (declaration)" in c for c in result.checks)


@pytest.mark.parametrize(
    ("entry", "content"),
    [
        (ACK, {**MESSAGE, "body": MESSAGE["body"] + " "}),
        (ACK, {**MESSAGE, "refs": []}),
        (ACK, {**MESSAGE, "ack_by": "2030-01-07T12:00:01Z"}),
        (ACK, {k: v for k, v in MESSAGE.items() if k != "ack_by"}),
        (NOTIFIED_ACK, {"declaration": feature(2), "salt": SALT}),  # another version
        (NOTIFIED_ACK, {"declaration": feature(1), "salt": SALT[:-1] + "0"}),  # another salt
        (NOTIFIED_ACK, feature(1)),  # no salt: digested as given, which is not the entry's digest
    ],
)
def test_altered_content_fails(entry: dict[str, Any], content: dict[str, Any]) -> None:
    result = check_proof(make_proof(entry, KEY), content, KEY)
    assert not result.ok
    assert len(result.problems) == 1 and "not the entry's" in result.problems[0]


@pytest.mark.parametrize(
    ("alter", "problem"),
    [
        (lambda p: p["entry"].update(at="2030-01-07T09:00:00Z"), "statement is not what its entry says"),
        (lambda p: p["entry"]["detail"].update(late=True), "hash does not match"),
        (lambda p: p["entry"].update(signature=CHAIN.entries[0]["signature"]), "server's signature does not verify"),
        (lambda p: p["entry"]["party_signature"].update(signature=SENT["party_signature"]["signature"]), "hash"),
        (lambda p: p.update(statement="sdf acknowledged it"), "statement is not what its entry says"),
        (lambda p: p["entry"].pop("prev"), "missing ['prev']"),
        (lambda p: p.update(proof="deconf/proof/v0"), "not a proof"),
        (lambda p: p.pop("entry"), "no entry"),
    ],
)
def test_an_altered_proof_fails(alter: Any, problem: str) -> None:
    proof = copy.deepcopy(make_proof(ACK, KEY))
    alter(proof)
    result = check_proof(proof, MESSAGE, KEY)
    assert not result.ok and problem in result.problems[0], result.problems


def test_an_entry_resealed_with_another_key_fails_against_the_noted_key() -> None:
    forger = fixed_key(8)
    proof = make_proof(ACK, KEY)
    proof["entry"] = {**ACK, "signature": forger.sign(Purpose.LEDGER, ACK["hash"])}
    proof["server_public_key"] = forger.public_key_b64
    refused = check_proof(proof, MESSAGE, KEY)
    assert not refused.ok and "not the key you gave" in refused.problems[0]
    # without the noted key, the proof holds only for its own key, and says so
    alone = check_proof(proof, MESSAGE, None)
    assert alone.ok and any("the server key is the proof's own" in n for n in alone.notes)


def test_the_wrong_key_is_refused_even_when_the_proof_is_intact() -> None:
    result = check_proof(make_proof(ACK, KEY), MESSAGE, fixed_key(9).public_key_b64)
    assert not result.ok and "not the key you gave" in result.problems[0]


def test_without_content_the_proof_checks_the_entry_and_says_what_it_cannot_show() -> None:
    result = check_proof(make_proof(ACK, KEY), None, KEY)
    assert result.ok and any("no content given" in n for n in result.notes)
    assert any("registered key" in n for n in result.notes)


def test_make_proof_refuses_what_is_not_an_entry() -> None:
    with pytest.raises(BadEntry, match="missing"):
        make_proof({"seq": 1}, KEY)


def test_content_digest_says_how_it_read_the_content() -> None:
    assert content_digest(MESSAGE) == (SENT["digest"], "message")
    assert content_digest({"declaration": feature(1), "salt": SALT})[1] == "declaration"
    assert content_digest(["anything"])[1] == "as given"
    with pytest.raises(ValueError, match="looks like a message"):
        content_digest({**MESSAGE, "to": "sdf"})  # to itself: not a message the channel could carry
