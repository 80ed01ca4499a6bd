"""A small HTTP client of the v1 API, used by the CLI and the demo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx


class ApiError(Exception):
    """The server answered with a Problem Details error."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


class Client:
    def __init__(self, url: str, token: str | None = None, timeout_s: float | None = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise ApiError(
                0,
                "Cannot connect",
                f"no server answers at {self.http.base_url}; start one with `deconf serve` or pass --url",
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                raise ApiError(response.status_code, body.get("title", ""), body.get("detail", response.text))
            except ValueError:
                raise ApiError(response.status_code, response.reason_phrase, response.text) from None
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def events(self, after: int | None = None) -> Iterator[dict[str, Any]]:
        """The caller's event stream (SSE) from now on, or from after `after` (0: all), as parsed event objects;
        endless."""
        params = {} if after is None else {"after": after}
        try:
            with self.http.stream("GET", "/v1/events", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    body = response.json()
                    raise ApiError(response.status_code, body.get("title", ""), body.get("detail", ""))
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:])
        except httpx.ConnectError:
            raise ApiError(0, "Cannot connect", f"no server answers at {self.http.base_url}") from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)
