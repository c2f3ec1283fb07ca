"""Server-side request forgery guard for partner endpoints (OWASP API7:2023).

A partner's endpoint URL is checked when an admin registers it and again at every send: only
http(s), no credentials in the URL, and every address its host resolves to must be a public one
(not loopback, private, link-local such as the 169.254.169.254 metadata service, multicast,
reserved or unspecified, nor one of those dressed as IPv6: IPv4-mapped, NAT64, 6to4, Teredo).
A development setting lets loopback through, for local sinks; nothing else is ever allowed.

The relay connects to the very address that was checked (``Target.address``), never resolving
the name a second time, so a DNS answer that changes between the check and the connection
(DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from copa.settings import settings
from copa.web.problems import Unprocessable, problem_type

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose blocks that Python 3.11's ipaddress still calls global.
_NOT_PUBLIC = (
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("192.88.99.0/24"),  # the old 6to4 relay anycast
)


class UnsafeTarget(Unprocessable):
    """The URL may not be called: it is not http(s), or it leads inside our network."""

    type = problem_type("unsafe-target")

    def __init__(self, message: str, *, field: str = "endpoint_url") -> None:
        super().__init__(f"This endpoint cannot be used: {message}", errors={field: [message]})
        self.message = message


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to for it."""

    scheme: str
    host: str  # as written in the URL (for the Host header and TLS server name)
    port: int
    path: str  # path and query, what goes on the request line
    address: str  # the checked address the connection must go to


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to stub name resolution)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def loopback_allowed() -> bool:
    """The development setting ALLOW_LOOPBACK_TARGETS; never honoured in production."""
    config = settings()
    return config.allow_loopback_targets and config.env != "production"


def check_target(url: str, *, allow_loopback: bool) -> None:
    """Refuse (UnsafeTarget, 422) a URL that must not be called; resolves its host name."""
    resolve_target(url, allow_loopback=allow_loopback)


def resolve_target(url: str, *, allow_loopback: bool) -> Target:
    """Check a URL and return the address to connect to; raises UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeTarget("the URL is not valid.") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget("only http and https URLs are allowed.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeTarget("the URL may not contain a user name or password.")
    host = parts.hostname
    if not host:
        raise UnsafeTarget("the URL has no host.")
    if port is None:
        port = 443 if scheme == "https" else 80
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise UnsafeTarget("its host name does not resolve.") from error
    if not addresses:
        raise UnsafeTarget("its host name does not resolve.")
    for address in addresses:
        reason = unsafe_reason(address, allow_loopback=allow_loopback)
        if reason:
            raise UnsafeTarget(f"it leads to {reason} ({address}).")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, addresses[0])


def unsafe_reason(address: str, *, allow_loopback: bool) -> str | None:
    """Why an address may not be called, or None when it is a public one."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return "an address that is not an IP address"
    ip = _embedded_ipv4(ip)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    # e.g. 100.64.0.0/10, the shared address space behind carrier NAT
    if not ip.is_global or any(ip in network for network in _NOT_PUBLIC):
        return "a non-public address"
    return None


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else itself."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip  # Teredo (2001::/32) counts as non-public as it stands
