"""POSTing webhook deliveries over HTTP, to the very address the deliverer checked.

Each webhook has a client (and so a connection pool) of its own: one receiver's connections never wait behind
another's. The URL's host is replaced by the checked address, so no second resolution can point the connection
elsewhere; the `Host` header and, for https, the TLS server name and certificate check keep the URL's host name.
"""

from __future__ import annotations

import socket
import ssl

import httpx

from deconfliction.domain.webhook_targets import IpAddress, Target

MAX_ANSWER_BYTES = 65_536  # read this much of an answer's body (to keep the connection), never more


class Unreachable(ConnectionError):
    """No HTTP answer: no route, connection refused or reset, a TLS failure, or an answer that is not HTTP."""


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host`, in its order, without repeats; [] when it has none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


class HttpPoster:
    """Async POSTs, one client per webhook; used from the deliverer's event loop only."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s  # each step's bound; the deliverer bounds the whole delivery
        self._tls = httpx.create_ssl_context()  # loading the CA bundle once, not per webhook
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def __call__(
        self, hook_id: str, target: Target, address: IpAddress, body: bytes, headers: dict[str, str]
    ) -> int:
        """POST `body` to `target` at `address`; the receiver's status code. Raises Unreachable without an answer."""
        client = self._clients.get(hook_id)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self.timeout_s, follow_redirects=False, verify=self._tls, trust_env=False
            )
            self._clients[hook_id] = client
        url = httpx.URL(target.url)
        pinned = url.copy_with(host=str(address))
        extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.address is None else {}
        sent = {**headers, "Host": url.netloc.decode("ascii")}
        try:
            async with client.stream("POST", pinned, content=body, headers=sent, extensions=extensions) as answer:
                read = 0
                async for chunk in answer.aiter_raw():
                    read += len(chunk)
                    if read > MAX_ANSWER_BYTES:
                        break  # the connection is dropped instead of kept
                return answer.status_code
        except httpx.TimeoutException:
            raise TimeoutError from None
        except (httpx.TransportError, ssl.SSLError, OSError) as exc:
            raise Unreachable(type(exc).__name__) from None

    async def forget(self, hook_id: str) -> None:
        """Close the connections of a webhook that was removed or paused."""
        client = self._clients.pop(hook_id, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        for hook_id in list(self._clients):
            await self.forget(hook_id)
