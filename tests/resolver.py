"""A test DNS: made-up public-looking host names for loopback test servers, with the SSRF guard still on.

As aiohttp's examples/fake_server.py does, a node resolves `alpha.test.example` to 127.0.0.1 here; unlike a
setting that turns the guard off, only the exact (address, port) pairs this resolver maps are let through, so a
node under test still refuses every other private address, a loopback URL written as an IP literal included.
"""

from __future__ import annotations

import socket
from typing import Any

from node.activitypub.netguard import MappedResolver


class LoopbackDNS(MappedResolver):
    """Names → loopback servers. `add` vouches for the server; `alias` plays a name resolving to a private address."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._vouched: set[tuple[str, str, int]] = set()

    def add(self, host: str, port: int, address: str = "127.0.0.1") -> LoopbackDNS:
        """`host` resolves to `address`, and the guard lets a connection for `host` to (address, port) through."""
        self._names[host.lower()] = address
        self._vouched.add((host.lower(), address, port))
        return self

    def alias(self, host: str, address: str) -> LoopbackDNS:
        """`host` resolves to `address`, vouched for nothing: the guard must refuse it if it is private."""
        self._names[host.lower()] = address
        return self

    def vouches(self, host: str, address: str, port: int) -> bool:
        return (host.lower().rstrip("."), address, port) in self._vouched

    @property
    def allowed_peers(self) -> frozenset[tuple[str, int]]:
        return frozenset((address, port) for _, address, port in self._vouched)

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        address = self._names.get(host.lower().rstrip("."))
        if address is None:
            # No fallback to the real DNS: tests have no internet, and a typo should fail loudly.
            raise OSError(f"{host} is not in the test DNS")
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [{"hostname": host, "host": address, "port": port, "family": kind, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        """Shared by every node of a test: closing one node's client must not close it for the others."""
