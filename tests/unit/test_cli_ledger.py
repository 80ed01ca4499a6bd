"""`deconf ledger verify` and `deconf proof check` on files built with real keys; the commands' shape and errors."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import typer
from typer.testing import CliRunner, Result

from deconfliction.cli_ledger import ledger_app, proof_app
from deconfliction.ledger.entry import line
from deconfliction.ledger.proof import make_proof
from tests.unit.ledger_chain import MESSAGE, build_chain, fixed_key

CHAIN = build_chain()
KEY = CHAIN.server.public_key_b64
HEAD = CHAIN.entries[-1]["hash"]
ACK = CHAIN.entries[16]

app = typer.Typer()  # as cli.py registers them
app.add_typer(ledger_app, name="ledger")
app.add_typer(proof_app, name="proof")


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "DECONF_TOKEN": ""})


def flat(result: Result) -> str:
    """stdout and stderr with Rich's line wrapping undone."""
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(CHAIN.data())
    return path


def test_verify_an_intact_export(export: Path) -> None:
    result = run("ledger", "verify", export, "--key", KEY)
    assert result.exit_code == 0, flat(result)
    assert "VERIFIED — 22 entries" in flat(result) and HEAD in flat(result)
    assert "Compare the head" in flat(result)
    result = run("ledger", "verify", export, "--key", KEY, "--head", HEAD)
    assert result.exit_code == 0 and "Compare the head" not in flat(result)


def test_verify_names_the_first_bad_entry(export: Path) -> None:
    lines = CHAIN.lines
    lines[4] = line({**CHAIN.entries[4], "detail": {"relay": "auto"}})
    export.write_bytes(b"".join(lines))
    result = run("ledger", "verify", export, "--key", KEY)
    assert result.exit_code == 1
    assert "NOT VERIFIED — entry seq 5 (line 5): hash does not match" in flat(result)
    assert "entries 1 to 4 hold" in flat(result)


def test_verify_with_the_wrong_head_or_key_fails(export: Path) -> None:
    result = run("ledger", "verify", export, "--key", KEY, "--head", CHAIN.entries[20]["hash"])
    assert result.exit_code == 1 and "that is the hash of entry seq 21" in flat(result)
    result = run("ledger", "verify", export, "--key", fixed_key(9).public_key_b64)
    assert result.exit_code == 1 and "server's signature does not verify" in flat(result)


def test_verify_a_missing_file_or_a_malformed_key_exits_2(tmp_path: Path, export: Path) -> None:
    result = run("ledger", "verify", tmp_path / "nope.jsonl", "--key", KEY)
    assert result.exit_code == 2 and "nope.jsonl does not exist" in flat(result)
    result = run("ledger", "verify", export, "--key", "abc")
    assert result.exit_code == 2 and "--key is not a raw Ed25519 public key" in flat(result)
    result = run("ledger", "verify", export)
    assert result.exit_code == 2 and "--key" in flat(result)


@pytest.fixture
def proof(tmp_path: Path) -> Path:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(make_proof(ACK, KEY), indent=2), encoding="utf-8")
    return path


def test_check_a_proof_with_its_content(tmp_path: Path, proof: Path) -> None:
    content = tmp_path / "message.json"
    content.write_text(json.dumps(MESSAGE), encoding="utf-8")
    result = run("proof", "check", proof, "--content", content, "--key", KEY)
    assert result.exit_code == 0, flat(result)
    assert "PROOF HOLDS — saa acknowledged message m-42" in flat(result)
    assert "✓ the content (message) has the entry's digest" in flat(result)
    content.write_text(json.dumps({**MESSAGE, "body": "changed"}), encoding="utf-8")
    result = run("proof", "check", proof, "--content", content, "--key", KEY)
    assert result.exit_code == 1 and "PROOF DOES NOT HOLD" in flat(result) and "✗ the content" in flat(result)


def test_check_a_proof_with_the_wrong_key_or_none(proof: Path) -> None:
    result = run("proof", "check", proof, "--key", fixed_key(9).public_key_b64)
    assert result.exit_code == 1 and "not the key you gave" in flat(result)
    result = run("proof", "check", proof)
    assert result.exit_code == 0 and "the server key is the proof's own" in flat(result)


def test_check_a_missing_or_broken_proof_exits_2(tmp_path: Path, proof: Path) -> None:
    result = run("proof", "check", tmp_path / "nope.json")
    assert result.exit_code == 2 and "does not exist" in flat(result)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    result = run("proof", "check", broken)
    assert result.exit_code == 2 and "is not valid JSON" in flat(result)
    result = run("proof", "check", proof, "--content", tmp_path / "nope.json")
    assert result.exit_code == 2 and "Content" in flat(result)


def test_proof_entry_is_short_for_proof_make_entry() -> None:
    url = dead_url()
    for args in (("proof", "12"), ("proof", "--url", url, "12"), ("proof", "make", "12")):
        result = run(*args, "--url", url, "--token", "t") if "--url" not in args else run(*args, "--token", "t")
        assert result.exit_code == 1, flat(result)
        assert "Cannot connect" in flat(result)
    helped = run("proof", "--help")
    assert helped.exit_code == 0 and "make" in helped.stdout and "check" in helped.stdout
    assert run("proof").exit_code in (0, 2) and "check" in run("proof").stdout
    assert run("proof", "0", "--url", url, "--token", "t").exit_code == 2  # seq starts at 1


def test_export_from_no_server_fails_cleanly_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    result = run("ledger", "export", "-o", out, "--url", dead_url(), "--token", "t")
    assert result.exit_code == 1 and "Cannot connect" in flat(result)
    assert list(tmp_path.iterdir()) == []
    result = run("ledger", "export", "-o", out, "--url", dead_url())
    assert result.exit_code == 2 and "No token" in flat(result)


class LedgerServer:
    """A real HTTP server holding a sealed chain and answering the four ledger endpoints as the contract says
    (pages capped at 10 entries, as a server may cap `limit`); stands in until the channel serves them."""

    PAGE_CAP = 10

    def __init__(self, entries: list[dict[str, Any]], key: str, head: dict[str, Any] | None = None) -> None:
        self.entries, self.key, self.head = entries, key, head
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.02,), daemon=True)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/v1/ledger/key":
            return 200, {"public_key": self.key}
        if path == "/v1/ledger/head" and self.head is not None:
            return 200, self.head
        if path == "/v1/ledger/head":
            last = self.entries[-1] if self.entries else {"seq": 0, "hash": "0" * 64}
            return 200, {"seq": last["seq"], "hash": last["hash"]}
        if path == "/v1/ledger":
            after, limit = int(query["after"][0]), min(int(query["limit"][0]), self.PAGE_CAP)
            return 200, [e for e in self.entries if e["seq"] > after][:limit]
        seq = path.removeprefix("/v1/ledger/")
        if seq.isdigit() and 1 <= int(seq) <= len(self.entries):
            return 200, self.entries[int(seq) - 1]
        return 404, {"title": "Not found", "detail": f"no {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if self.headers.get("Authorization") != "Bearer t":
                    status, body = 401, {"title": "Unauthorized", "detail": "bad token"}
                else:
                    status, body = server.answer(url.path, parse_qs(url.query))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> LedgerServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def test_export_pages_through_the_record_and_the_export_verifies(tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    with LedgerServer(CHAIN.entries, KEY) as server:
        result = run("ledger", "export", "-o", out, "--url", server.url, "--token", "t")
    assert result.exit_code == 0, flat(result)
    assert out.read_bytes() == CHAIN.data()
    assert f"exported 22 entries to {out}" in flat(result)
    assert f"head: seq 22 hash {HEAD}" in flat(result) and f"server key: {KEY}" in flat(result)
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.jsonl"]  # no temporary file left
    assert run("ledger", "verify", out, "--key", KEY, "--head", HEAD).exit_code == 0


def test_export_of_a_record_that_does_not_verify_keeps_the_file_and_exits_1(tmp_path: Path) -> None:
    entries = [dict(e) for e in CHAIN.entries]
    entries[12] = {**entries[12], "actor": "russia"}
    out = tmp_path / "ledger.jsonl"
    with LedgerServer(entries, KEY) as server:
        result = run("ledger", "export", "-o", out, "--url", server.url, "--token", "t")
    assert result.exit_code == 1 and "does not verify: entry seq 13" in flat(result)
    assert out.read_bytes() == b"".join(line(e) for e in entries)


def test_export_with_a_bad_token_fails_and_writes_nothing(tmp_path: Path) -> None:
    with LedgerServer(CHAIN.entries, KEY) as server:
        result = run("ledger", "export", "-o", tmp_path / "x.jsonl", "--url", server.url, "--token", "wrong")
    assert result.exit_code == 1 and "401 Unauthorized" in flat(result)
    assert list(tmp_path.iterdir()) == []


def test_proof_prints_a_proof_that_checks(tmp_path: Path) -> None:
    with LedgerServer(CHAIN.entries, KEY) as server:
        printed = run("proof", "17", "--url", server.url, "--token", "t")
        written = run("proof", "make", "17", "-o", tmp_path / "p.json", "--url", server.url, "--token", "t")
        missing = run("proof", "99", "--url", server.url, "--token", "t")
    assert printed.exit_code == 0, flat(printed)
    assert json.loads(printed.stdout) == make_proof(ACK, KEY)
    assert written.exit_code == 0 and "saa acknowledged message m-42" in flat(written)
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8")) == make_proof(ACK, KEY)
    assert missing.exit_code == 1 and "404" in flat(missing)


@pytest.mark.parametrize(
    ("head", "error"),
    [
        ({"seq": 30, "hash": HEAD}, "the server's head is seq 30, but its pages end at seq 22"),
        ({"seq": 22, "hash": CHAIN.entries[0]["hash"]}, "entry 22 does not have the hash the server gave as its head"),
        ({"seq": 22}, "did not give its ledger key and head"),
    ],
)
def test_export_refuses_a_server_that_contradicts_its_own_head(
    tmp_path: Path, head: dict[str, Any], error: str
) -> None:
    with LedgerServer(CHAIN.entries, KEY, head) as server:
        result = run("ledger", "export", "-o", tmp_path / "x.jsonl", "--url", server.url, "--token", "t")
    assert result.exit_code == 1 and error in flat(result), flat(result)
    assert list(tmp_path.iterdir()) == []


def test_export_of_an_empty_record(tmp_path: Path) -> None:
    with LedgerServer([], KEY) as server:
        result = run("ledger", "export", "-o", tmp_path / "x.jsonl", "--url", server.url, "--token", "t")
    assert result.exit_code == 0 and "the record is empty" in flat(result)
    assert (tmp_path / "x.jsonl").read_bytes() == b""
