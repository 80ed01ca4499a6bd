"""POSTing webhook deliveries over HTTP."""

from __future__ import annotations

import httpx


class HttpPoster:
    """One pooled HTTP client; a POST returns the receiver's status code, or raises when nobody answers."""

    def __init__(self, timeout_s: float) -> None:
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        return self.client.post(url, content=body, headers=headers).status_code

    def close(self) -> None:
        self.client.close()
