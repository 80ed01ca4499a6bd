"""`deconf` as a user runs it: help, acting on a live server, errors, the demo, settings."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from deconfliction import __version__
from deconfliction.cli import app
from deconfliction.config import SETTINGS
from tests.e2e.conftest import (
    DECONF,
    E2E_ADMIN,
    HOST,
    TOKEN_RE,
    Server,
    clean_env,
    free_port,
    run_cli,
    start_server,
)

START, END = "2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z"

HELP: dict[tuple[str, ...], list[str]] = {
    (): [
        "serve",
        "demo",
        "party",
        "link",
        "declare",
        "declarations",
        "cancel",
        "conflicts",
        "events",
        "config",
        "version",
    ],
    ("serve",): ["--host", "--port", "--db", "--config"],
    ("demo",): ["--port", "--host", "--db", "--once"],
    ("party",): ["add", "list", "set-status", "token"],
    ("party", "add"): ["--public-key", "--url", "--token", "ID", "NAME"],
    ("party", "list"): ["--url", "--token"],
    ("party", "set-status"): ["--url", "--token", "ID", "STATUS"],
    ("party", "token"): ["--url", "--token", "ID"],
    ("link",): ["add", "list"],
    ("link", "add"): ["--relay", "--url", "--token"],
    ("link", "list"): ["--url", "--token"],
    ("declare",): ["--url", "--token", "FILE.geojson"],
    ("declarations",): ["--bbox", "--url", "--token"],
    ("conflicts",): ["--status", "--ack", "--url", "--token"],
    ("cancel",): ["--url", "--token", "ID"],
    ("events",): ["--after", "--url", "--token"],
    ("config",): ["--config"],
    ("version",): [],
}


@pytest.mark.parametrize("command", list(HELP), ids=[" ".join(c) or "deconf" for c in HELP])
def test_every_help_exits_0_and_names_its_options(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for word in HELP[command]:
        assert word.lower() in result.output.lower(), f"`deconf {' '.join(command)} --help` does not mention {word}"
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_the_installed_entry_point_runs() -> None:
    result = run_cli("--help")
    assert result.code == 0, result.output
    for word in HELP[()]:
        assert word in result.stdout
    version = run_cli("version")
    assert version.code == 0
    assert version.stdout.strip() == __version__


# ------------------------------------------------------------------------------------------------
# Against a live server
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("cli-server")
    server = start_server(tmp, db=tmp / "cli.db")
    try:
        yield server
    finally:
        server.stop()


def cli(server: Server, *args: str, token: str | None = E2E_ADMIN, **env: str) -> Any:
    argv = [*args, "--url", server.url]
    if token is not None:
        argv += ["--token", token]
    return run_cli(*argv, env=clean_env(**env))


def api(server: Server, token: str, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10.0, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def add_party_http(server: Server, pid: str) -> str:
    created = api(server, E2E_ADMIN, "POST", "/v1/parties", json={"id": pid, "name": pid.upper()})
    token: str = created["token"]
    return token


def area(lon: float, lat: float, name: str, **props: Any) -> dict[str, Any]:
    h = 0.01
    ring = [
        [lon - h, lat - h],
        [lon + h, lat - h],
        [lon + h, lat + h],
        [lon - h, lat + h],
        [lon - h, lat - h],
    ]
    properties = {"kind": "area", "name": name, "start": START, "end": END}
    properties.update(props)
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": properties,
    }


@pytest.mark.slow
def test_party_and_link_commands(live: Server) -> None:
    added = cli(live, "party", "add", "cli-sdf", "Syrian Democratic Forces")
    assert added.code == 0, added.output
    tokens = TOKEN_RE.findall(added.stdout)
    assert len(tokens) == 1, added.stdout
    sdf_token = tokens[0]
    assert api(live, sdf_token, "GET", "/v1/conflicts") == []  # the printed token works

    # the URL and token may come from the environment instead of options
    via_env = run_cli(
        "party",
        "add",
        "cli-saa",
        "Syrian Arab Army",
        env=clean_env(DECONF_URL=live.url, DECONF_TOKEN=E2E_ADMIN),
    )
    assert via_env.code == 0, via_env.output
    assert len(TOKEN_RE.findall(via_env.stdout)) == 1

    linked = cli(live, "link", "add", "cli-sdf", "cli-saa", "--relay", "review")
    assert linked.code == 0, linked.output
    assert "cli-sdf" in linked.stdout and "cli-saa" in linked.stdout and "review" in linked.stdout
    links = api(live, E2E_ADMIN, "GET", "/v1/links")
    assert any({lk["a"], lk["b"]} == {"cli-sdf", "cli-saa"} and lk["relay"] == "review" for lk in links)

    status = cli(live, "party", "set-status", "cli-saa", "suspended")
    assert status.code == 0, status.output
    assert "suspended" in status.stdout

    listed = cli(live, "party", "list")
    assert listed.code == 0, listed.output
    rows = {line for line in listed.stdout.splitlines() if "cli-" in line}
    assert any("cli-sdf" in r and "Syrian Democratic Forces" in r and "active" in r for r in rows), rows
    assert any("cli-saa" in r and "suspended" in r for r in rows), rows
    parties = {p["id"]: p["status"] for p in api(live, sdf_token, "GET", "/v1/parties")}
    assert parties["cli-saa"] == "suspended" and parties["cli-sdf"] == "active"


@pytest.mark.slow
def test_declare_file_conflicts_and_ack(live: Server, tmp_path: Path) -> None:
    sdf = add_party_http(live, "d-sdf")
    saa = add_party_http(live, "d-saa")
    sdf_file = tmp_path / "sdf.geojson"
    sdf_file.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    area(40.20, 35.40, "east bank"),
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [40.43, 35.16]},
                        "properties": {
                            "kind": "site",
                            "name": "field hospital",
                            "start": START,
                            "radius_m": 200,
                            "audience": "all",
                        },
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    declared = cli(live, "declare", str(sdf_file), token=sdf)
    assert declared.code == 0, declared.output
    assert declared.stdout.count("declared") == 2, declared.stdout
    assert "0 conflicts" in declared.stdout
    mine = api(live, sdf, "GET", "/v1/declarations")["features"]
    assert sorted(f["properties"]["name"] for f in mine) == ["east bank", "field hospital"]

    saa_file = tmp_path / "saa.geojson"
    saa_file.write_text(json.dumps(area(40.20, 35.37, "city")), encoding="utf-8")  # a lone Feature
    declared = cli(live, "declare", str(saa_file), token=saa)
    assert declared.code == 0, declared.output
    assert "1 conflicts" in declared.stdout or "1 conflict" in declared.stdout, declared.stdout
    assert "d-sdf" in declared.stdout
    assert len(api(live, saa, "GET", "/v1/conflicts")) == 1


@pytest.mark.slow
def test_conflicts_list_and_ack(live: Server) -> None:
    sdf = add_party_http(live, "k-sdf")
    saa = add_party_http(live, "k-saa")
    api(live, sdf, "POST", "/v1/declarations", json=area(40.60, 35.40, "k east bank"))
    site = area(40.90, 35.90, "k hospital", audience="all", kind="site")
    api(live, sdf, "POST", "/v1/declarations", json=site)
    api(live, saa, "POST", "/v1/declarations", json=area(40.60, 35.37, "k city"))

    conflicts = api(live, saa, "GET", "/v1/conflicts")
    assert len(conflicts) == 1
    cid = conflicts[0]["id"]
    shown = cli(live, "conflicts", token=saa)
    assert shown.code == 0, shown.output
    row = [line for line in shown.stdout.splitlines() if "k-sdf" in line]
    assert len(row) == 1 and "open" in row[0], shown.stdout
    assert cid[:8] in shown.stdout  # shown like git, by a prefix

    unknown = cli(live, "conflicts", "--ack", "zzzz", token=saa)
    assert unknown.code == 1 and "starting with 'zzzz'" in unknown.output
    acked = cli(live, "conflicts", "--ack", cid[:8], token=saa)  # a unique prefix is enough
    assert acked.code == 0, acked.output
    assert "acknowledged" in acked.stdout
    assert api(live, saa, "GET", f"/v1/conflicts/{cid}")["status"] == "acknowledged"
    assert api(live, sdf, "GET", f"/v1/conflicts/{cid}")["other_acknowledged"] is True

    still_open = cli(live, "conflicts", "--status", "open", token=saa)
    assert still_open.code == 0 and "no conflicts" in still_open.stdout, still_open.output

    seen = cli(live, "declarations", token=saa)
    assert seen.code == 0, seen.output
    # its own, and sdf's shared site; not sdf's area, which is not shared with saa
    assert "k city" in seen.stdout and "k hospital" in seen.stdout, seen.stdout
    assert "k east bank" not in seen.stdout


@pytest.mark.slow
def test_cli_errors_are_readable(live: Server, tmp_path: Path) -> None:
    wrong = cli(live, "party", "list", token="not-a-token")
    assert wrong.code != 0
    assert "401" in wrong.stderr, wrong.output
    assert "Traceback" not in wrong.output

    no_token = cli(live, "party", "list", token=None)
    assert no_token.code != 0
    assert "token" in no_token.stderr.lower() and "Traceback" not in no_token.output

    nobody = run_cli("conflicts", "--url", f"http://{HOST}:{free_port()}", "--token", "x", env=clean_env())
    assert nobody.code != 0
    assert "connect" in nobody.stderr.lower() or "no server" in nobody.stderr.lower(), nobody.output
    assert "Traceback" not in nobody.output


@pytest.mark.slow
def test_cli_declare_errors_are_readable(live: Server, tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(area(40.2, 95.0, "beyond the pole")), encoding="utf-8")
    party = add_party_http(live, "e-sdf")
    refused = cli(live, "declare", str(bad), token=party)
    assert refused.code != 0
    assert "422" in refused.stderr and "Traceback" not in refused.output, refused.output
    assert api(live, party, "GET", "/v1/declarations", params={"party": "e-sdf"})["features"] == []

    wrong_declare = cli(live, "declare", str(bad), token="not-a-token")
    assert wrong_declare.code != 0 and "401" in wrong_declare.stderr, wrong_declare.output
    assert "Traceback" not in wrong_declare.output

    missing = cli(live, "declare", str(tmp_path / "nope.geojson"), token=party)
    assert missing.code != 0 and "does not exist" in missing.stderr, missing.output
    assert "Traceback" not in missing.output

    not_json = tmp_path / "not.geojson"
    not_json.write_text("{ nope", encoding="utf-8")
    garbled = cli(live, "declare", str(not_json), token=party)
    assert garbled.code != 0 and "not valid JSON" in garbled.stderr, garbled.output
    assert "Traceback" not in garbled.output

    dup = cli(live, "party", "add", "e-sdf", "Again")
    assert dup.code != 0 and "409" in dup.stderr and "Traceback" not in dup.output, dup.output


# ------------------------------------------------------------------------------------------------
# demo and config
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_once_runs_the_deir_ez_zor_scenario(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "demo.db"
    result = run_cli(
        "demo",
        "--once",
        "--port",
        str(port),
        "--db",
        str(db),
        env=clean_env(),
        cwd=tmp_path,
        timeout_s=60,
    )
    assert result.code == 0, result.output
    out = result.stdout
    assert "Traceback" not in result.output
    assert "Deir ez-Zor" in out
    tokens_part, _, conflicts_part = out.partition("Conflicts found")
    assert conflicts_part, out
    for party in ("coalition", "sdf", "russia", "saa"):
        assert re.search(rf"\b{party}\b\W+dcf_[A-Za-z0-9_-]{{20,}}", tokens_part), (
            party,
            tokens_part,
        )
    rows = [line for line in conflicts_part.splitlines() if re.search(r"\bsdf\b.*\bsaa\b|\bsaa\b.*\bsdf\b", line)]
    assert any(re.match(r"\W*sdf\b.*\bsaa\b", r) for r in rows), conflicts_part
    assert any(re.match(r"\W*saa\b.*\bsdf\b", r) for r in rows), conflicts_part  # both sides see it
    assert db.exists()
    # --once stops the server it started
    with socket.socket() as s:
        s.settimeout(1.0)
        assert s.connect_ex((HOST, port)) != 0, "the demo server still listens after --once"


@pytest.mark.slow
def test_config_command_and_bad_setting(tmp_path: Path) -> None:
    env = clean_env(DECONF_ADMIN_TOKEN="topsecret-admin-4711", DECONF_PORT="9123")
    result = run_cli("config", env=env)
    assert result.code == 0, result.output
    for setting in SETTINGS:
        assert setting.name in result.stdout and setting.env in result.stdout, setting.name
    assert "topsecret-admin-4711" not in result.output  # a secret is never shown
    assert "(set)" in result.stdout
    assert "9123" in result.stdout

    bad = run_cli("config", env=clean_env(DECONF_PORT="eighty"))
    assert bad.code != 0
    assert "DECONF_PORT" in bad.output and "Traceback" not in bad.output, bad.output

    toml = tmp_path / "deconf.toml"
    toml.write_text("[deconf]\nport = 9555\nmax_vertices = 77\n", encoding="utf-8")
    from_file = run_cli("config", "--config", str(toml), env=clean_env())
    assert from_file.code == 0, from_file.output
    assert "9555" in from_file.stdout and "77" in from_file.stdout

    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[deconf]\nprot = 1\n", encoding="utf-8")
    refused = run_cli("config", "--config", str(unknown), env=clean_env())
    assert refused.code != 0 and "prot" in refused.output and "Traceback" not in refused.output


@pytest.mark.slow
def test_cancel_by_prefix_and_follow_events(live: Server) -> None:
    sdf = add_party_http(live, "follow-sdf")
    saa = add_party_http(live, "follow-saa")
    mine = api(live, sdf, "POST", "/v1/declarations", json=area(41.60, 36.40, "e east bank"))
    api(live, saa, "POST", "/v1/declarations", json=area(41.60, 36.37, "e city"))

    # `deconf events --after 0` replays the events so far, then follows until stopped (here: by the timeout)
    argv = [DECONF, "events", "--after", "0", "--url", live.url, "--token", sdf]
    with pytest.raises(subprocess.TimeoutExpired) as followed:
        subprocess.run(argv, capture_output=True, text=True, timeout=8, env=clean_env(), check=False)
    out = followed.value.stdout
    shown = out.decode() if isinstance(out, bytes) else (out or "")
    assert "conflict.opened" in shown and "follow-saa" in shown, shown
    # without --after, from now on: the past stays in the past
    argv = [DECONF, "events", "--url", live.url, "--token", sdf]
    with pytest.raises(subprocess.TimeoutExpired) as followed:
        subprocess.run(argv, capture_output=True, text=True, timeout=4, env=clean_env(), check=False)
    out = followed.value.stdout
    assert "conflict.opened" not in (out.decode() if isinstance(out, bytes) else (out or ""))

    unknown = cli(live, "cancel", "zzzz", token=sdf)
    assert unknown.code == 1 and "starting with 'zzzz'" in unknown.output
    done = cli(live, "cancel", mine["id"][:8], token=sdf)
    assert done.code == 0, done.output
    assert api(live, sdf, "GET", f"/v1/declarations/{mine['id']}")["properties"]["status"] == "cancelled"
    assert [c["resolved_reason"] for c in api(live, saa, "GET", "/v1/conflicts")] == ["cancelled"]
