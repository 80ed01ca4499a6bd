"""InterUSS's DSS prober (interuss/monitoring, monitoring/prober: the suite every ASTM F3548-21 DSS runs against
itself, written against the reference DSS) against `deconf serve` started as a user starts it: on SQLite, and on
PostgreSQL with four workers; the heavy-traffic concurrent test with 10 workers. Every test must pass, none skip.

The prober is not part of this project and is not changed: it is found at $DECONF_F3548_PROBER, else at
shared/f3548-prober beside the repository or beside any folder above it, else at /work/shared/f3548-prober — a
directory holding its `run` script (which makes the prober's own
venv under ~/.cache once: a minute the first time) and the `monitoring` packages. Without it the test skips,
saying how to get it; with CI=true it fails instead: CI must run it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_dss_process import on_backend

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# a clone checked out elsewhere than beside the shared folder (as CI's may be) still finds this machine's copy
WORKPLACE = Path("/work/shared/f3548-prober")
HOW_TO_GET = (
    "InterUSS's DSS prober is not here. Get it: clone https://github.com/interuss/monitoring and put its "
    "monitoring/prober and monitoring/monitorlib packages, with a `run` script that calls pytest on prober/scd "
    "(--dss-endpoint, --scd-auth1 'NoAuth(sub=uss1)', --scd-auth2 'NoAuth(sub=uss2)', --scd-api-version 1.0.0) "
    "and the NoAuth public key as noauth-public.pem, in ../shared/f3548-prober beside this repository, or set "
    "DECONF_F3548_PROBER to that directory"
)
OUTCOMES = "passed|failed|skipped|deselected|warnings?|errors?|xfailed|xpassed"
SUMMARY = re.compile(rf"^=*\s*(?P<line>(?:\d+ (?:{OUTCOMES})[, ]*)+in [\d.]+s)", re.MULTILINE)


def prober_dir() -> Path:
    """Where the prober is; a skip saying how to get it (a failure under CI) when it is not there."""
    given = os.environ.get("DECONF_F3548_PROBER")
    places = [Path(given)] if given else [p / "shared" / "f3548-prober" for p in REPO.parents] + [WORKPLACE]
    for where in places:
        if (where / "run").is_file() and (where / "noauth-public.pem").is_file():
            return where
    looked = ", ".join(str(p) for p in places)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{HOW_TO_GET} (looked in {looked}; CI=true: this test must run)")
    pytest.skip(f"{HOW_TO_GET} (looked in {looked})")


def counts(summary: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


@pytest.mark.parametrize(("backend", "workers"), [("sqlite", 1), ("postgresql", 4)])
def test_the_interuss_prober_passes_every_test(backend: str, workers: int, request: pytest.FixtureRequest,
                                               tmp_path: Path) -> None:  # fmt: skip
    prober = prober_dir()
    env, factory = on_backend(backend, request)
    keys = {"DECONF_F3548_PUBLIC_KEYS": str(prober / "noauth-public.pem"), "DECONF_F3548_AUDIENCE": "localhost"}
    # As a user starts it: the default rate limit too (the test helper turns it off unless told).
    user = {"DECONF_RATE_LIMIT_PER_S": "100"}
    server: Server = factory(workers=workers, extra_env={**env, **keys, **user}, wait_s=90)
    run = subprocess.run(
        [str(prober / "run"), f"http://localhost:{server.port}", "-q", "-p", "no:randomly",
         "--heavy_traffic_concurrent_workers", "10"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    output = run.stdout + run.stderr
    found = SUMMARY.findall(output)
    assert found, f"no pytest summary from the prober (exit {run.returncode}):\n{output[-4000:]}"
    summary = found[-1]
    print(f"\nprober on {backend}, {workers} worker(s): {summary}")
    got = counts(summary)
    assert got.get("failed", 0) == 0 and got.get("skipped", 0) == 0 and got.get("error", got.get("errors", 0)) == 0, (
        f"{summary}\n{output[-8000:]}\n--- server ---\n{server.output()[-4000:]}"
    )
    assert got.get("passed", 0) >= 170 and run.returncode == 0, f"{summary}\n{output[-4000:]}"
    assert "Internal error" not in server.output() and "Traceback" not in server.output(), server.output()[-4000:]


def test_a_missing_prober_skips_saying_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DECONF_F3548_PROBER", str(tmp_path / "nowhere"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        prober_dir()
    assert "interuss/monitoring" in str(skipped.value) and "DECONF_F3548_PROBER" in str(skipped.value)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        prober_dir()
    assert "CI=true" in str(failed.value)
