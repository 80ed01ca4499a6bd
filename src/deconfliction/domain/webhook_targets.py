"""Where a webhook may point: public addresses on the usual ports, or what the operator allowed by name or network.

A party names the URL; the server makes the request. Without these rules a party could have the server POST to
its own loopback, the private network it sits in, or a cloud metadata service, and read the answers (or their
absence) as a port scan. The same rules are applied at registration and again to every address a name resolves to
at each delivery, so a name that later resolves inward is refused, and the connection goes to the address checked.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from deconfliction.domain.errors import InvalidInput

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

USUAL_PORTS = (80, 443)  # a webhook on any other port needs its host in webhook_allow_hosts
MAX_URL_CHARS = 2_000
# Cloud metadata services answer with credentials: refused even where webhook_allow_hosts covers them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure IMDS, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "168.63.129.16",  # Azure WireServer: a public address, hence listed
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the IPv4 address is in the last 32 bits
# Hosts a browser or resolver would read as an IPv4 address though they are no dotted quad: 2130706433, 0x7f.1, 017.1
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)

REFUSED_INWARD = "refused: resolves to a non-public address"
REFUSED_METADATA = "refused: a cloud metadata address"


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook URL, split: the connection goes to `host` (after resolution) on `port`."""

    url: str
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    address: IpAddress | None  # the host is an IP literal


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through a translation: mapped, 6to4, Teredo or NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IpAddress) -> bool:
    """Routable on the internet: not loopback, private, link-local, unique-local, multicast, unspecified, reserved,
    shared (CGNAT), documentation or benchmarking space, nor one of these reached through an IPv6 translation."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
    if ip in METADATA_ADDRESSES:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """The operator's exceptions (`webhook_allow_hosts`): host names, and networks that resolved addresses may be
    in. An allowed target may use any port; credentials in a URL and metadata addresses are refused regardless."""

    allow_names: frozenset[str] = frozenset()
    allow_networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, allow_hosts: str) -> TargetPolicy:
        """From 'hooks.internal, 10.1.0.0/16, 127.0.0.1, ::1'; raises ValueError naming a malformed entry."""
        names: set[str] = set()
        networks: list[IpNetwork] = []
        for raw in allow_hosts.split(","):
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or not re.fullmatch(r"[a-z0-9_.-]+", entry):
                raise ValueError(f"{raw.strip()!r} is neither a host name nor an address or CIDR network")
            names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host.rstrip(".") in self.allow_names

    def refusal(self, target: Target, address: IpAddress) -> str | None:
        """Why the connection to `address` (the target's host, resolved) is refused; None when it may go."""
        unwrapped = address
        if isinstance(address, ipaddress.IPv6Address):
            unwrapped = _embedded_ipv4(address) or address
        if address in METADATA_ADDRESSES or unwrapped in METADATA_ADDRESSES:
            return REFUSED_METADATA
        if self.allows_name(target.host) or any(unwrapped in n or address in n for n in self.allow_networks):
            return None
        if not is_public(address):
            return REFUSED_INWARD
        if target.port not in USUAL_PORTS:
            return f"refused: port {target.port} (only {' and '.join(map(str, USUAL_PORTS))})"
        return None

    def check(self, value: object) -> Target:
        """A URL checked as far as it can be without resolving its name (an IP literal fully); raises InvalidInput.
        A name's addresses are checked with `refusal` once resolved."""
        target = parse_target(value)
        why = self.before_resolving(target)
        if why is not None:
            raise InvalidInput(refused_detail(target, why), field="url")
        return target

    def before_resolving(self, target: Target) -> str | None:
        """Why the target is refused on its face (a metadata name, an address literal); None when it may go on."""
        if target.host.rstrip(".") in METADATA_NAMES:
            return REFUSED_METADATA
        return None if target.address is None else self.refusal(target, target.address)


def refused_detail(target: Target, why: str) -> str:
    """A registration's 422 detail: what was refused, and what would be accepted."""
    return (
        f"url {target.url!r} is {why}: a webhook must reach a public address on port "
        f"{' or '.join(map(str, USUAL_PORTS))} (an operator may allow internal targets with webhook_allow_hosts)"
    )


def parse_target(value: object) -> Target:
    """Split an http(s) URL into its parts; refuse what no rule could allow (credentials, odd address spellings)."""
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise InvalidInput(f"url must be an http(s) URL string of at most {MAX_URL_CHARS} characters", field="url")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("url must not contain spaces or control characters (percent-encode them)", field="url")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port outside 0..65535
    except ValueError as exc:  # e.g. an unclosed '[' of an IPv6 host
        raise InvalidInput(f"url {value!r} is not a valid URL: {exc}", field="url") from exc
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"url {value!r} is not an http:// or https:// URL with a host", field="url")
    if "@" in parts.netloc:
        # not echoed: the part before '@' is a password
        raise InvalidInput("url must not carry credentials (user:password@); authenticate with the secret", field="url")
    if "%" in host or not host.isascii():
        raise InvalidInput(f"url host {host!r}: write an IDN host in its xn-- form, without a zone id", field="url")
    try:
        address: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None and _NUMERIC_HOST.match(host):
        raise InvalidInput(f"url host {host!r}: write an IPv4 address as four decimal numbers, a.b.c.d", field="url")
    default = 443 if parts.scheme == "https" else 80
    return Target(value, parts.scheme, host, default if port is None else port, address)
