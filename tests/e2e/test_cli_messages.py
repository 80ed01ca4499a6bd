"""`deconf keygen|send|inbox|message|relay|ack|notifications|webhook` as a user runs them, against a real server.

The channel is the scenario's: sdf — coalition (auto), coalition — russia (review), russia — saa (auto); sdf and saa
sign with keys made by `deconf keygen` and registered with `deconf party add --public-key`.
"""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.domain.signing import Purpose, SigningKey, verify
from tests.e2e.conftest import TOKEN_RE, CliResult, Server, run_cli, start_server
from tests.e2e.test_cli import api, area, cli

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KEY_RE = re.compile(r"^[A-Za-z0-9+/]{43}=$", re.MULTILINE)
PARTIES = {"sdf": "Syrian Democratic Forces", "coalition": "Coalition", "russia": "Russia", "saa": "Syrian Arab Army"}
LINKS = [("sdf", "coalition", "auto"), ("russia", "saa", "auto"), ("coalition", "russia", "review")]
SIGNING = ("sdf", "saa")


@dataclass
class Channel:
    server: Server
    tokens: dict[str, str]
    keys: dict[str, Path]  # private key files of the parties that sign
    public: dict[str, str]

    def run(self, party: str, *args: str, **env: str) -> CliResult:
        result: CliResult = cli(self.server, *args, token=self.tokens[party], **env)
        return result


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Channel]:
    tmp = tmp_path_factory.mktemp("cli-messages")
    server = start_server(tmp, db=tmp / "messages.db")
    try:
        keys, public, tokens = {}, {}, {}
        for party in SIGNING:
            keys[party] = tmp / f"{party}.pem"
            made = run_cli("keygen", "-o", str(keys[party]), "--quiet")
            assert made.code == 0, made.output
            public[party] = made.stdout.strip()
        for party, name in PARTIES.items():
            extra = ["--public-key", public[party]] if party in public else []
            added = cli(server, "party", "add", party, name, *extra)
            assert added.code == 0, added.output
            tokens[party] = TOKEN_RE.findall(added.stdout)[0]
        for a, b, relay in LINKS:
            linked = cli(server, "link", "add", a, b, "--relay", relay)
            assert linked.code == 0, linked.output
        yield Channel(server, tokens, keys, public)
    finally:
        server.stop()


def sent_id(result: CliResult) -> str:
    assert result.code == 0, result.output
    found = UUID_RE.search(result.stdout)
    assert found, result.stdout
    return found.group(0)


def row(result: CliResult, needle: str) -> str:
    """The one line of a table that holds `needle`."""
    assert result.code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if needle in line]
    assert len(lines) == 1, (needle, result.stdout)
    return lines[0]


def message(channel: Channel, party: str, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api(channel.server, channel.tokens[party], "GET", f"/v1/messages/{message_id}")
    return found


# ------------------------------------------------------------------------------------------------
# keygen (no server)
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites_one(tmp_path: Path) -> None:
    made = run_cli("keygen", cwd=tmp_path)
    assert made.code == 0, made.output
    pem = tmp_path / "deconf-key.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    key = SigningKey.from_pem(pem.read_bytes())
    assert KEY_RE.findall(made.stdout)[0] == key.public_key_b64  # the printed key is the file's
    assert f"deconf party add ID NAME --public-key {key.public_key_b64}" in made.stdout
    assert "PRIVATE KEY" not in made.output

    again = run_cli("keygen", cwd=tmp_path)
    assert again.code == 2, again.output
    assert "exists" in again.stderr and "--force" in again.stderr, again.output
    assert SigningKey.from_pem(pem.read_bytes()).public_key_b64 == key.public_key_b64  # untouched

    pem.chmod(0o644)
    forced = run_cli("keygen", "--force", "-q", cwd=tmp_path)
    assert forced.code == 0, forced.output
    replaced = SigningKey.from_pem(pem.read_bytes())
    assert forced.stdout.strip() == replaced.public_key_b64 != key.public_key_b64
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600

    elsewhere = run_cli("keygen", "-o", str(tmp_path / "no-such-dir" / "k.pem"))
    assert elsewhere.code == 2 and "Cannot write" in elsewhere.stderr and "Traceback" not in elsewhere.output


# ------------------------------------------------------------------------------------------------
# a signed message through a review, acknowledged with a signature
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_signed_message_is_reviewed_relayed_and_acknowledged_with_a_signature(channel: Channel) -> None:
    sdf_key, saa_key = str(channel.keys["sdf"]), str(channel.keys["saa"])
    sent = channel.run(
        "sdf",
        *("send", "saa", "Crossing the Euphrates at 0500", "--body", "[bold]ferry[/bold] at the old bridge"),
        *("--ack-by", "2030-01-01T00:00:00Z", "--key", sdf_key, "--as", "sdf"),
    )
    mid = sent_id(sent)
    assert "sent to saa (signed by sdf)" in sent.stdout
    assert "sdf → coalition → russia → saa" in sent.stdout
    assert "awaiting review by coalition" in sent.stdout

    relay_box = row(channel.run("coalition", "inbox", "--box", "relay"), mid[:8])
    assert "Crossing the Euphrates" in relay_box and "awaiting review by coalition" in relay_box
    assert mid[:8] not in channel.run("saa", "inbox").stdout  # not delivered yet

    approved = channel.run("coalition", "relay", "approve", mid[:8], "--note", "passed on, seen by J3")
    assert approved.code == 0, approved.output
    assert "approved and passed on" in approved.stdout and "delivered" in approved.stdout

    inbox = row(channel.run("saa", "inbox"), mid[:8])
    assert "sdf" in inbox and "Crossing the Euphrates" in inbox and "delivered" in inbox

    acked = channel.run("saa", "ack", mid[:8], "--key", saa_key)
    assert acked.code == 0, acked.output
    assert f"message {mid} acknowledged (signed): received — not approved" in acked.stdout
    repeated = channel.run("saa", "ack", mid, "--key", saa_key)
    assert repeated.code == 0 and "acknowledged already" in repeated.stdout, repeated.output

    shown = channel.run("sdf", "message", mid[:8])
    assert shown.code == 0, shown.output
    seen = message(channel, "sdf", mid)
    assert f"digest:    {seen['digest']}" in shown.stdout
    assert f"signature: by sdf, Ed25519: {seen['signature']}" in shown.stdout
    assert "[bold]ferry[/bold] at the old bridge" in shown.stdout  # shown as written, not as markup
    assert "acknowledged by saa at" in shown.stdout and "received — not approved" in shown.stdout
    hop = row(shown, "passed on, seen by J3")
    assert "coalition" in hop and "intermediary" in hop and "relayed" in hop
    assert "relayed" in row(shown, "russia")
    # the signatures are the parties' own, over the digest of what was shown
    assert verify(channel.public["sdf"], Purpose.MESSAGE, seen["digest"], seen["signature"])
    ack = seen["acknowledgement"]
    assert ack["signed"] and verify(channel.public["saa"], Purpose.ACK, seen["digest"], ack["signature"])
    assert f"its signature: by saa, Ed25519: {ack['signature']}" in shown.stdout  # to check it elsewhere


@pytest.mark.slow
def test_a_refused_message_tells_its_sender_why(channel: Channel) -> None:
    mid = sent_id(channel.run("sdf", "send", "saa", "Convoy on the M4"))
    assert "signature: none (unsigned)" in channel.run("sdf", "message", mid).stdout

    no_reason = channel.run("coalition", "relay", "refuse", mid[:8])
    assert no_reason.code == 2 and "--reason" in no_reason.output
    refused = channel.run("coalition", "relay", "refuse", mid[:8], "--reason", "not through us: use the hotline")
    assert refused.code == 0, refused.output
    assert "sdf is told your reason: not through us: use the hotline" in refused.stdout

    outbox = row(channel.run("sdf", "inbox", "--box", "outbox"), mid[:8])
    assert "refused" in outbox and "Convoy on the M4" in outbox
    shown = channel.run("sdf", "message", mid[:8])
    assert "refused by coalition: not through us: use the hotline" in shown.stdout, shown.stdout
    assert "not acknowledged by saa" in shown.stdout
    assert message(channel, "sdf", mid)["status"] == "refused"

    late = channel.run("coalition", "relay", "approve", mid)  # nothing left to review
    assert late.code == 1 and "409" in late.stderr and "Traceback" not in late.output, late.output
    gone = channel.run("coalition", "relay", "approve", mid[:8])  # no longer in the relay box
    assert gone.code == 1 and f"starting with {mid[:8]!r}" in gone.stderr, gone.output


# ------------------------------------------------------------------------------------------------
# signatures required, and refused when wrong
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_party_with_a_key_cannot_acknowledge_unsigned(channel: Channel) -> None:
    mid = sent_id(channel.run("russia", "send", "saa", "Air corridor closed tonight"))
    unsigned = channel.run("saa", "ack", mid[:8])
    assert unsigned.code == 1, unsigned.output
    assert "422" in unsigned.stderr and "signature" in unsigned.stderr and "--key" in unsigned.stderr
    assert "Traceback" not in unsigned.output
    assert message(channel, "russia", mid)["status"] == "read"  # not acknowledged

    with_env = channel.run("saa", "ack", mid[:8], DECONF_KEY=str(channel.keys["saa"]))  # the key from DECONF_KEY
    assert with_env.code == 0, with_env.output
    assert message(channel, "russia", mid)["acknowledgement"]["signed"] is True


@pytest.mark.slow
def test_signing_a_message_needs_the_sender_and_the_right_one(channel: Channel, tmp_path: Path) -> None:
    key = str(channel.keys["sdf"])
    anonymous = channel.run("sdf", "send", "coalition", "Hello", "--key", key)
    assert anonymous.code == 2 and "--as" in anonymous.stderr and "DECONF_PARTY" in anonymous.stderr

    impostor = channel.run("sdf", "send", "coalition", "Hello", "--key", key, "--as", "russia")
    assert impostor.code == 1, impostor.output
    assert "signature does not verify" in impostor.stderr and "'russia' is the party of your token" in impostor.stderr

    via_env = channel.run("sdf", "send", "coalition", "Hello", DECONF_KEY=key, DECONF_PARTY="sdf")
    assert "(signed by sdf)" in via_env.stdout, via_env.output

    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello", encoding="utf-8")
    bad = channel.run("sdf", "send", "coalition", "Hello", "--key", str(not_a_key), "--as", "sdf")
    assert bad.code == 2 and "deconf keygen" in bad.stderr and "Traceback" not in bad.output
    bad_time = channel.run("sdf", "send", "coalition", "Hello", "--key", key, "--as", "sdf", "--ack-by", "soon")
    assert bad_time.code == 2 and "ack_by" in bad_time.stderr and "RFC 3339" in bad_time.stderr


@pytest.mark.slow
def test_inbox_flags_overdue_messages(channel: Channel) -> None:
    mid = sent_id(channel.run("russia", "send", "saa", "Reply by dawn", "--ack-by", "2017-09-10T04:00:00Z"))
    deadline = time.monotonic() + 10
    while not message(channel, "russia", mid)["overdue"]:  # the server checks deadlines every second
        assert time.monotonic() < deadline, "the message was not flagged overdue"
        time.sleep(0.2)
    overdue = row(channel.run("saa", "inbox", "--overdue"), mid[:8])
    assert "OVERDUE" in overdue and "Reply by dawn" in overdue
    on_time = channel.run("saa", "inbox", "--box", "all")
    assert "OVERDUE" in row(on_time, mid[:8])
    assert mid[:8] not in channel.run("russia", "inbox", "--overdue").stdout  # russia's inbox, not its outbox
    bad_box = channel.run("saa", "inbox", "--box", "spam")
    assert bad_box.code == 2 and "spam" in bad_box.output


# ------------------------------------------------------------------------------------------------
# notifications, conflicts, webhooks
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_notifications_are_listed_and_acknowledged_signed(channel: Channel) -> None:
    shared = api(
        channel.server,
        channel.tokens["sdf"],
        "POST",
        "/v1/declarations",
        json=area(40.1, 35.3, "ford", audience=["saa"]),
    )
    listed = row(channel.run("saa", "notifications"), shared["id"][:8])
    assert "sdf" in listed and "pending" in listed
    notifications = api(channel.server, channel.tokens["saa"], "GET", "/v1/notifications")
    [nid] = [n["id"] for n in notifications if n["declaration"] == shared["id"]]

    both = channel.run("saa", "ack", nid[:8], "--notification", "--conflict")
    assert both.code == 2 and "Choose one" in both.stderr
    unsigned = channel.run("saa", "ack", nid[:8], "--notification")
    assert unsigned.code == 1 and "signature" in unsigned.stderr, unsigned.output
    assert f"deconf ack {nid[:8]} --notification --key" in unsigned.stderr
    acked = channel.run("saa", "ack", nid[:8], "--notification", "--key", str(channel.keys["saa"]))
    assert acked.code == 0, acked.output
    assert f"notification {nid} acknowledged (signed): received — not approved" in acked.stdout
    done = row(channel.run("saa", "notifications", "--status", "acknowledged"), shared["id"][:8])
    assert "acknowledged" in done and "yes" in done
    assert "no notifications" in channel.run("saa", "notifications", "--status", "pending").stdout

    about = sent_id(channel.run("sdf", "send", "coalition", "About the ford", "--ref", shared["id"][:8]))
    assert message(channel, "sdf", about)["refs"] == [shared["id"]]  # a prefix names the declaration


@pytest.mark.slow
def test_a_conflict_is_acknowledged_signed_as_seen(channel: Channel) -> None:
    api(channel.server, channel.tokens["sdf"], "POST", "/v1/declarations", json=area(42.60, 34.40, "east bank"))
    api(channel.server, channel.tokens["saa"], "POST", "/v1/declarations", json=area(42.60, 34.37, "city"))
    open_ = api(channel.server, channel.tokens["saa"], "GET", "/v1/conflicts", params={"status": "open"})
    [conflict] = [c for c in open_ if c["other_party"] == "sdf"]
    acked = channel.run("saa", "ack", conflict["id"][:8], "--conflict", "--key", str(channel.keys["saa"]))
    assert acked.code == 0, acked.output
    assert "acknowledged (signed): seen — not approved" in acked.stdout
    after = api(channel.server, channel.tokens["saa"], "GET", f"/v1/conflicts/{conflict['id']}")
    assert after["status"] == "acknowledged"
    assert verify(channel.public["saa"], Purpose.ACK, after["digest"], after["signature"])


@pytest.mark.slow
def test_webhooks_are_added_listed_and_removed(channel: Channel) -> None:
    target = "http://127.0.0.1:9/deconf-hook"
    added = channel.run("russia", "webhook", "add", target, "--secret", "s" * 24)
    hid = sent_id(added)
    assert "s" * 24 in added.stdout  # its secret, shown once
    assert target in row(channel.run("russia", "webhook", "list"), hid[:8])
    assert "no webhooks" in channel.run("coalition", "webhook", "list").stdout  # each party sees its own

    short = channel.run("russia", "webhook", "add", target, "--secret", "short")
    assert short.code == 1 and "16 characters" in short.stderr
    removed = channel.run("russia", "webhook", "remove", hid[:8])
    assert removed.code == 0 and f"webhook {hid} removed" in removed.stdout, removed.output
    assert "no webhooks" in channel.run("russia", "webhook", "list").stdout


# ------------------------------------------------------------------------------------------------
# help
# ------------------------------------------------------------------------------------------------

HELP = {
    ("keygen",): ["--out", "--force", "0600", "public key"],
    ("send",): ["TO", "--body", "--body-file", "--ref", "--ack-by", "--key", "--as", "DECONF_PARTY", "review"],
    ("inbox",): ["--box", "--overdue", "relay", "outbox"],
    ("message",): ["ID", "hop", "digest", "read"],
    ("relay",): ["approve", "refuse"],
    ("relay", "approve"): ["--note", "unchanged"],
    ("relay", "refuse"): ["--reason", "sender"],
    ("ack",): ["--key", "--notification", "--conflict", "received", "never", "approved"],
    ("notifications",): ["--status", "acknowledge"],
    ("webhook",): ["add", "list", "remove"],
    ("webhook", "add"): ["URL", "--secret", "HMAC"],
}


@pytest.mark.parametrize("command", list(HELP), ids=[" ".join(c) for c in HELP])
def test_every_help_explains_itself(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.output)
    for word in HELP[command]:
        assert word.lower() in text.lower(), f"`deconf {' '.join(command)} --help` does not mention {word}"
