"""A channel spoken to over real HTTP: tokens, calls, the scenario's parties and links, test areas."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import square
from tests.e2e.conftest import E2E_ADMIN, Server, SseStream

START, END = "2017-09-09T05:00:00Z", "2017-09-20T00:00:00Z"


def area(lon: float, lat: float, audience: Any = "conflicts", **props: Any) -> dict[str, Any]:
    properties = {"kind": "area", "name": "area", "start": START, "end": END, "audience": audience}
    properties.update(props)
    return {"type": "Feature", "geometry": square(lon, lat), "properties": properties}


class Channel:
    """Tokens and HTTP calls against one server (the tokens survive a restart on the same database)."""

    def __init__(self, server: Server, tokens: dict[str, str] | None = None) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10.0)
        self.tokens = {"admin": E2E_ADMIN, **(tokens or {})}

    def close(self) -> None:
        self.http.close()

    def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kw.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kw)

    def ok(self, who: str, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.call(who, method, path, **kw)
        assert r.status_code == status, (who, method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def party(self, pid: str, **extra: Any) -> None:
        created = self.ok("admin", "POST", "/v1/parties", 201, json={"id": pid, "name": pid.upper(), **extra})
        self.tokens[pid] = created["token"]

    def declare(self, who: str, feature: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(who, "POST", "/v1/declarations", 201, json=feature)
        return body

    def stream(self, who: str, last_event_id: str | None = None) -> SseStream:
        return SseStream(self.server.url, self.tokens[who], last_event_id=last_event_id)

    def send(self, sender: str, to: str, **extra: Any) -> dict[str, Any]:
        body = {"to": to, "subject": "Positions", "body": "East bank", **extra}
        sent: dict[str, Any] = self.ok(sender, "POST", "/v1/messages", 201, json=body)
        return sent

    def approve(self, reviewer: str, message_id: str) -> dict[str, Any]:
        view: dict[str, Any] = self.ok(
            reviewer, "POST", f"/v1/messages/{message_id}/relay", json={"decision": "approve", "note": "ok"}
        )
        return view


def deir_ez_zor(ch: Channel, keys: dict[str, str] | None = None) -> None:
    """The four parties and the links of the scenario: sdf–coalition (auto), coalition–russia (review), russia–saa."""
    for pid in ("coalition", "sdf", "russia", "saa"):
        ch.party(pid, **({"public_key": keys[pid]} if keys and pid in keys else {}))
    for a, b, relay in (("sdf", "coalition", "auto"), ("coalition", "russia", "review"), ("russia", "saa", "auto")):
        ch.ok("admin", "POST", "/v1/links", 201, json={"a": a, "b": b, "relay": relay})
