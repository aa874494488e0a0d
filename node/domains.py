"""Which server a name belongs to, for every per-server limit and quota: the registrable domain (Public Suffix
List, bundled offline) rather than the host name, because wildcard DNS hands anyone unlimited names under one
domain (issue 12, point 10). A leaf: the wire, the store and the rules may all use it."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

_PSL = PublicSuffixList()  # the list the package ships: offline, private suffixes (github.io) included


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_block(address: str) -> str:
    """What one party holds: an IPv4 address, or an IPv6 /64 (one host is routinely handed a whole /64)."""
    ip = _ip(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The domain a host's owner registered (Public Suffix List, private suffixes included): wildcard DNS hands
    anyone unlimited names under it, never another registrable domain. `a.github.io` and `b.github.io` are two
    owners; `x.evil.example` and `y.evil.example` are one. An IP literal is its own domain (IPv6 by /64); a host
    that is itself a public suffix is its own."""
    name = host.lower().rstrip(".")
    if name.startswith("[") or _ip(name) is not None:
        return address_block(name)
    return _PSL.privatesuffix(name) or name


def bare_host(netloc: str) -> str:
    """host[:port] → host, lower-cased, without a trailing dot ([v6]:port → [v6])."""
    netloc = netloc.lower().rpartition("@")[2]
    if netloc.startswith("["):
        return netloc.partition("]")[0] + "]"
    return netloc.partition(":")[0].rstrip(".")


def server_of(uri: str) -> str:
    """The registrable domain of `uri`'s host (what follows `://` up to the first `/`, `?` or `#`, so no spelling
    of a query, fragment, port or letter case makes another server of the same one)."""
    rest = uri.partition("://")[2]
    for stop in "/?#":
        rest = rest.partition(stop)[0]
    return registrable_domain(bare_host(rest))
