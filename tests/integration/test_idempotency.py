"""Idempotency-Key on POST: a retry gets the first answer, never a second record; the claim commits with the write."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from deconfliction.api.idempotency import fingerprint
from deconfliction.bootstrap import Wired
from deconfliction.domain.timewindow import utcnow
from tests.conftest import BOTH_BACKENDS, Api, feature, square

pytestmark = BOTH_BACKENDS


def _declare(api: Api, who: str, key: str, lon: float = 40.2) -> Any:
    return api.call(who, "POST", "/v1/declarations", json=feature(square(lon, 35.3)), headers={"Idempotency-Key": key})


def _count(api: Api, who: str) -> int:
    return len(api.call(who, "GET", "/v1/declarations", params={"party": who}).json()["features"])


def test_a_retry_gets_the_first_answer_and_writes_nothing(api: Api) -> None:
    api.add_party("sdf")
    first = _declare(api, "sdf", "key-1")
    again = _declare(api, "sdf", "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    assert _count(api, "sdf") == 1


def test_the_same_key_with_another_request_is_refused(api: Api) -> None:
    api.add_party("sdf")
    assert _declare(api, "sdf", "key-2").status_code == 201
    other = _declare(api, "sdf", "key-2", lon=41.0)
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"
    assert _count(api, "sdf") == 1


def test_keys_belong_to_their_credential(api: Api) -> None:
    api.add_party("sdf")
    api.add_party("saa")
    assert _declare(api, "sdf", "shared-key").status_code == 201
    theirs = _declare(api, "saa", "shared-key")
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert _count(api, "saa") == 1


def test_a_malformed_key_is_refused_naming_the_header(api: Api) -> None:
    api.add_party("sdf")
    for bad in (b"x" * 256, b"tab\there", "é".encode()):
        r = api.call("sdf", "POST", "/v1/declarations", json=feature(square(40.2, 35.3)),
                     headers={"Idempotency-Key": bad})  # fmt: skip
        assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key", bad
    assert _count(api, "sdf") == 0


def test_a_refused_request_leaves_no_key_behind(api: Api) -> None:
    api.add_party("sdf")
    bad = api.call("sdf", "POST", "/v1/declarations", json={"type": "Feature"}, headers={"Idempotency-Key": "k3"})
    assert bad.status_code == 422
    assert _declare(api, "sdf", "k3").status_code == 201


def test_racing_retries_write_once(api: Api) -> None:
    api.add_party("sdf")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _declare(api, "sdf", "race"), range(16)))
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {201, 409} and 201 in codes
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    assert _count(api, "sdf") == 1


def test_a_write_that_committed_without_keeping_its_answer_is_not_repeated(api: Api, wired: Wired) -> None:
    """The server died between committing the write (and its claim) and keeping the answer: the retry is refused
    with 409 and writes nothing."""
    api.add_party("sdf")
    body = json.dumps(feature(square(40.2, 35.3))).encode()
    owner = hashlib.sha256(f"Bearer {api.tokens['sdf']}".encode()).hexdigest()
    with wired.ctx.store.write() as tx:
        assert tx.claim_idempotency(owner, "lost", fingerprint("POST", "/v1/declarations", b"", body), utcnow())
    retry = api.call("sdf", "POST", "/v1/declarations", content=body,
                     headers={"Idempotency-Key": "lost", "Content-Type": "application/json"})  # fmt: skip
    assert retry.status_code == 409 and retry.json()["field"] == "Idempotency-Key"
    assert _count(api, "sdf") == 0
