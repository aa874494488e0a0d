"""SSRF guard: which addresses an outbound fetch may reach."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_6TO4 = ipaddress.ip_network("2002::/16")
# ::ffff:0:a.b.c.d, the IPv4-translated form of SIIT (RFC 2765); Python calls it global.
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
# Not for us to reach, though Python's tables (which change between versions) may call them global: IPv6
# site-local (deprecated, still routed inside some networks), IETF special-purpose IPv4 (RFC 6890), IPv6
# documentation (RFC 9637) and SRv6 SIDs (RFC 9602).
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in ("fec0::/10", "192.0.0.0/24", "3fff::/20", "5f00::/16"))


class AddressRefused(OSError):
    """The address is not a public one and private addresses are not allowed."""


def unwrap(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address hiding inside an IPv6 one (mapped, compatible, translated, NAT64, 6to4), else the address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        as_int = int(ip)
        # ::a.b.c.d (deprecated IPv4-compatible) claims to be global; it reaches a.b.c.d on many stacks.
        if as_int >> 32 == 0 and as_int > 1:
            return ipaddress.IPv4Address(as_int & 0xFFFFFFFF)
        if ip in _NAT64 or ip in _NAT64_LOCAL or ip in _TRANSLATED:
            return ipaddress.IPv4Address(as_int & 0xFFFFFFFF)
        if ip in _6TO4:
            return ipaddress.IPv4Address((as_int >> 80) & 0xFFFFFFFF)
    return ip


def is_public(address: str) -> bool:
    """True when the address is globally routable once any embedded IPv4 address is unwrapped."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    inner = unwrap(ip)
    return (inner.is_global and not inner.is_multicast and not inner.is_reserved
            and not any(inner.version == net.version and inner in net for net in _NOT_GLOBAL))


def literal_ip(host: str) -> str | None:
    """The host as an IP address string when it is an IP literal, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class MappedResolver(AbstractResolver):
    """A resolver whose answers code fixed in advance (a test's made-up names for its loopback servers).

    It vouches for the names it maps and the (address, port) pairs they map to: the guard lets exactly those
    through, and stays on for everything else. There is no setting for this; only code that builds such a
    resolver can widen the guard.
    """

    def vouches(self, host: str, address: str, port: int) -> bool:
        """True when `host` is a name this resolver maps to (address, port) on purpose."""
        return False

    @property
    def allowed_peers(self) -> frozenset[tuple[str, int]]:
        """The (address, port) pairs of every vouched name, for the check at the socket."""
        return frozenset()


class GuardedResolver(AbstractResolver):
    """Resolve names, then drop every non-public answer (unless private addresses are allowed).

    `socket_factory` checks again, at the socket, the address the connector is about to connect to: IP literals
    skip the resolver, so no difference in how a host is parsed or resolved can get a connection past the guard.
    """

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None):
        self._inner = inner or DefaultResolver()
        self._allow_private = allow_private

    def may_connect(self, address: str, port: int, host: str | None = None) -> bool:
        """True when a connection to (address, port), for `host` if it is known, is allowed."""
        if self._allow_private or is_public(address):
            return True
        if not isinstance(self._inner, MappedResolver):
            return False
        if host is not None:
            return self._inner.vouches(host, address, port)
        return (address, port) in self._inner.allowed_peers

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        answers = await self._inner.resolve(host, port, family)
        allowed = [a for a in answers if self.may_connect(a["host"], a["port"], host)]
        if not allowed:
            raise AddressRefused(f"{host} resolves only to non-public addresses")
        return allowed

    def socket_factory(self, addr_info: tuple) -> socket.socket:
        """A socket for `addr_info`, refused (before connecting) when its address may not be reached."""
        family, type_, proto, _, sockaddr = addr_info
        address, port = str(sockaddr[0]), int(sockaddr[1])
        if not self.may_connect(address, port):
            raise AddressRefused(f"refusing to connect to {address}: not a public address")
        return socket.socket(family=family, type=type_, proto=proto)

    async def close(self) -> None:
        await self._inner.close()


class OwnThreadsResolver(AbstractResolver):
    """The system's resolver (getaddrinfo) on threads of its own, not the event loop's shared executor.

    A name whose DNS never answers holds a thread for the system resolver's whole timeout, whatever timeout the
    fetch had: names strangers choose must not take the threads every other lookup (deliveries') needs."""

    def __init__(self, threads: int, getaddrinfo: Callable[..., list] = socket.getaddrinfo):
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="strangers-dns")
        self._getaddrinfo = getaddrinfo

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        lookup = functools.partial(self._getaddrinfo, host, port, family, socket.SOCK_STREAM, 0,
                                   socket.AI_ADDRCONFIG)
        infos = await asyncio.get_running_loop().run_in_executor(self._executor, lookup)
        return [{"hostname": host, "host": address[0], "port": address[1], "family": kind, "proto": proto,
                 "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for kind, _, proto, _, address in infos if kind in (socket.AF_INET, socket.AF_INET6)]

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
