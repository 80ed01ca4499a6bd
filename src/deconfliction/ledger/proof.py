"""Proofs: one ledger entry, self-contained, that shows who did what to which declaration or message, and when.

A proof is a JSON object:

    proof              "deconf/proof/v1"
    statement          a sentence derived from the entry alone (a checker recomputes it, so it cannot lie)
    entry              the ledger entry, exactly as in the record
    server_public_key  the server's raw Ed25519 key, base64 — trust it only if it is the key you noted down
    how_to_check       the steps below, in words

Checking it needs no server: the entry's hash recomputes, the server's signature of that hash verifies, the party's
signature (if any) verifies over the entry's digest with its purpose, and — given the content — the digest of the
content is the entry's digest. Accepted content (`content_digest`):

* a message: its content object {"from", "to", "subject", "body", "refs", "ack_by"?}, or the message as the API
  returns it (extra members ignored; refs null or absent = [], ack_by null or absent = omitted), or {"message": …};
* a declaration: {"declaration": <the stored Feature>, "salt": "<hex>"} (extra members ignored), or
  {"declaration": <Feature>, "notification": {"salt": …, …}} — the notification as the API returns it;
* {"content": X}: X, as above; anything else: its canonical digest as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.messages import MessageContent
from deconfliction.domain.notifications import declaration_digest
from deconfliction.domain.signing import digest_of
from deconfliction.ledger.rules import BadEntry
from deconfliction.ledger.verify import check_rule_and_signature, check_seal, check_shape

PROOF_FORMAT = "deconf/proof/v1"
HOW_TO_CHECK = (
    "Offline: `deconf proof check FILE --key <the server key you noted> [--content CONTENT.json]`, or by hand "
    "(docs/ledger.md): (1) SHA-256 hex of the RFC 8785 JSON of the entry without 'hash' and 'signature' equals "
    "entry.hash; (2) the server key's Ed25519 signature entry.signature verifies over b'deconf/ledger/v1\\n' + the 32 "
    "hash bytes; (3) if entry.party_signature is set, it verifies with its public_key over b'deconf/<purpose>/v1\\n' "
    "+ the 32 digest bytes; (4) the digest of the content you hold (RFC 8785 + SHA-256: a message's content object, "
    "or {'declaration': Feature, 'salt': salt}) equals entry.digest."
)
# Per type, sentences from the most to the least specific: the first whose fields the entry has is used.
# {id} and {id2} are subject[0] and subject[1]; other fields come from the entry's detail.
_SENTENCES: dict[str, tuple[str, ...]] = {
    "message.sent": ("{actor} sent message {id} to {to}", "{actor} sent message {id}"),
    "message.held": ("message {id} was held at {party} ({waiting})", "message {id} was held"),
    "message.relayed": ("{actor} relayed message {id}",),
    "message.refused": ("{actor} refused to pass on message {id}",),
    "message.delivered": ("message {id} was delivered to {party}", "message {id} was delivered"),
    "message.read": ("{actor} read message {id}",),
    "message.acknowledged": ("{actor} acknowledged message {id}",),
    "message.overdue": ("message {id} was not acknowledged by its deadline",),
    "declaration.created": ("{actor} declared {id}",),
    "declaration.updated": ("{actor} revised declaration {id}",),
    "declaration.cancelled": ("{actor} cancelled declaration {id}",),
    "declaration.notified": (
        "declaration {id2} was notified to {party} (notification {id})",
        "declaration {id} was notified",
    ),
    "declarations.viewed": ("{actor} viewed declarations",),
    "disclosure.probing": ("{id} was seen probing a declaration of {owner}",),
    "notification.acknowledged": ("{actor} acknowledged notification {id}",),
    "conflict.opened": ("conflict {id} was opened between {a} and {b}", "conflict {id} was opened"),
    "conflict.acknowledged": ("{actor} acknowledged conflict {id}",),
    "conflict.resolved": ("conflict {id} was resolved",),
    "party.created": ("party {id} was registered",),
    "party.updated": ("party {id} was updated",),
    "link.created": ("link {id} — {id2} was created", "link {id} was created"),
    "link.updated": ("link {id} — {id2} was changed", "link {id} was changed"),
    "link.removed": ("link {id} — {id2} was removed", "link {id} was removed"),
    "line.proposed": ("{actor} proposed line {id} to {with}", "{actor} proposed line {id}"),
    "line.accepted": ("{actor} accepted line {id}: it binds both parties",),
    "line.rejected": ("{actor} rejected line {id}",),
    "line.withdrawn": ("{actor} withdrew line {id}",),
}


def _sentence(entry: dict[str, Any]) -> tuple[str, str]:
    """The first sentence whose fields the entry has, and the template it came from."""
    subject: list[str] = entry["subject"]
    values = {k: v for k, v in entry["detail"].items() if isinstance(v, str) and k not in ("id", "id2", "actor")}
    values.update(actor=entry["actor"], type=entry["type"])
    values.update({name: subject[i] for i, name in enumerate(("id", "id2")) if i < len(subject)})
    for template in (*_SENTENCES.get(entry["type"], ()), "{type} ({id})", "{type}"):
        try:
            return template.format_map(values), template
        except KeyError:
            continue
    raise AssertionError("the last template needs only the type")


def statement(entry: dict[str, Any]) -> str:
    """A sentence saying what the entry records, e.g. 'saa acknowledged message m1 at …, signed by saa (…)'."""
    text, template = _sentence(entry)
    if "{actor}" not in template and entry["actor"] != "server":
        text += f" by {entry['actor']}"
    used = sum(1 for name in ("{id}", "{id2}") if name in template)
    if len(entry["subject"]) > used:
        text += f" (also about {', '.join(entry['subject'][used:])})"
    text += f" at {entry['at']}"
    sig = entry["party_signature"]
    if sig is not None:
        what = {"message": "a message signature", "agree": "an agreement signature"}.get(
            sig["purpose"], "an acknowledgement signature"
        )
        text += f", signed by {sig['party']} ({what})"
    return f"{text} — entry {entry['seq']} of the record"


def make_proof(entry: dict[str, Any], server_key_b64: str) -> dict[str, Any]:
    """The proof of one entry (as served by `GET /v1/ledger/{seq}`); raises BadEntry if it is not an entry."""
    check_shape(entry)
    return {
        "proof": PROOF_FORMAT,
        "statement": statement(entry),
        "entry": entry,
        "server_public_key": server_key_b64,
        "how_to_check": HOW_TO_CHECK,
    }


def _unwrap(content: dict[str, Any]) -> dict[str, Any]:
    for wrapper in ("content", "message"):
        inner = content.get(wrapper)
        if len(content) == 1 and isinstance(inner, dict):
            return _unwrap(inner)
    return content


def content_digest(content: Any) -> tuple[str, str]:
    """The digest of content a user holds, and what it was taken as ('message', 'declaration', 'as given')."""
    if isinstance(content, dict):
        content = _unwrap(content)
    if not isinstance(content, dict):
        return digest_of(content), "as given"
    feature = content.get("declaration")
    salt = content.get("salt")
    notification = content.get("notification")
    if salt is None and isinstance(notification, dict):
        salt = notification.get("salt")
    if isinstance(feature, dict) and isinstance(salt, str):
        return declaration_digest(feature, salt), "declaration"
    if all(k in content for k in ("from", "to", "subject")) and isinstance(content["from"], str):
        try:
            return MessageContent.parse(content["from"], content).digest, "message"
        except InvalidInput as exc:
            raise ValueError(f"the content looks like a message but is not one: {exc.detail}") from None
    return digest_of(content), "as given"


@dataclass(frozen=True, slots=True)
class ProofResult:
    """What holds (`checks`), what does not (`problems`), and what a proof alone cannot show (`notes`)."""

    ok: bool
    statement: str
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _check_server_key(proof: dict[str, Any], server_key_b64: str | None, notes: list[str]) -> str:
    named = proof.get("server_public_key")
    if not isinstance(named, str):
        raise BadEntry("the proof names no server_public_key")
    if server_key_b64 is None:
        notes.append(
            "the server key is the proof's own: it proves nothing unless it is the key you noted down "
            "(`deconf ledger export` prints it); pass it with --key"
        )
        return named
    if server_key_b64.strip() != named:
        raise BadEntry(f"the proof names server key {named}, not the key you gave ({server_key_b64.strip()})")
    return named


def _check_entry(proof: dict[str, Any], key: str, checks: list[str], notes: list[str]) -> dict[str, Any]:
    entry = proof.get("entry")
    if not isinstance(entry, dict):
        raise BadEntry("the proof holds no entry object")
    check_shape(entry)
    if proof.get("statement") != statement(entry):
        raise BadEntry("the proof's statement is not what its entry says: " + repr(statement(entry)))
    check_seal(entry, key)
    checks.append(f"entry {entry['seq']} hashes to {entry['hash']}, signed by the server key {key}")
    sig = check_rule_and_signature(entry)
    if sig is not None:
        checks.append(f"{sig['party']}'s {sig['purpose']} signature verifies with key {sig['public_key']}")
        notes.append(
            f"that this key is {sig['party']}'s registered key shows in the whole record (`deconf ledger verify`)"
        )
    return entry


def check_proof(proof: Any, content: Any = None, server_key_b64: str | None = None) -> ProofResult:
    """Check a proof offline; with `content`, also that the entry is about exactly that content."""
    checks: list[str] = []
    notes: list[str] = []
    said = proof.get("statement") if isinstance(proof, dict) else None
    try:
        if not isinstance(proof, dict) or proof.get("proof") != PROOF_FORMAT:
            raise BadEntry(f"not a proof: no member proof = {PROOF_FORMAT!r}")
        key = _check_server_key(proof, server_key_b64, notes)
        entry = _check_entry(proof, key, checks, notes)
        if content is None:
            notes.append("no content given: the proof shows the digest only, not which content it is of")
        else:
            digest, taken_as = content_digest(content)
            if digest != entry["digest"]:
                raise BadEntry(f"the content ({taken_as}) has digest {digest}, not the entry's {entry['digest']}")
            checks.append(f"the content ({taken_as}) has the entry's digest {digest}")
    except (BadEntry, ValueError) as exc:
        return ProofResult(False, said if isinstance(said, str) else "", checks, [str(exc)], notes)
    return ProofResult(True, statement(entry), checks, [], notes)
