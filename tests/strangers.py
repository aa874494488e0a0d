"""Strangers for the admission tests: key servers that hold every request until the test releases them, clients
that connect from several loopback addresses, and the unsigned-by-anyone-we-know inbox POST a stranger sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable

import aiohttp
from aiohttp import web

from node.activitypub import signatures
from tests.fediverse import AS_JSON, InProcessNode, listening, pooled_key
from tests.resolver import LoopbackDNS


class Silent:
    """One loopback server behind any number of names: it holds every request until `release` is set, then answers
    `status`. Counts the requests it got, by host name, and how many it holds at once."""

    def __init__(self, status: int = 404):
        self.status = status
        self.release = asyncio.Event()
        self.seen: list[str] = []
        self.open = 0
        self.most = 0
        self._arrivals = asyncio.Event()

    async def answer(self, request: web.Request) -> web.Response:
        self.seen.append(request.host.partition(":")[0])
        self.open += 1
        self.most = max(self.most, self.open)
        self._arrivals.set()
        try:
            await self.release.wait()
        finally:
            self.open -= 1
        return web.Response(status=self.status)

    async def holding(self, n: int) -> None:
        """Return once `n` requests are held (woken by each arrival; no polling)."""
        while self.open < n:
            self._arrivals.clear()
            await self._arrivals.wait()


@contextlib.asynccontextmanager
async def silent_server(status: int = 404) -> AsyncIterator[tuple[int, Silent]]:
    silent = Silent(status)
    async with listening(silent.answer) as port:
        try:
            yield port, silent
        finally:
            silent.release.set()


@contextlib.asynccontextmanager
async def clients(dns: LoopbackDNS, addresses: Iterable[str]) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """One session per loopback source address (127.0.0.0/8 is all ours): the node sees that many clients."""
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns, limit=0, local_addr=(a, 0)))
                for a in addresses]
    try:
        yield sessions
    finally:
        for session in sessions:
            await session.close()


def stranger_addresses(n: int, start: int = 10) -> list[str]:
    return [f"127.0.0.{start + i}" for i in range(n)]


_key: list = []


def _stranger_key():
    """One key for every stranger: none of them publishes it, so it never verifies (and drawing a key per POST
    would make the pool mint new ones)."""
    if not _key:
        _key.append(pooled_key())
    return _key[0]


def stranger_follow(node: InProcessNode, key_id: str, n: int) -> bytes:
    return json.dumps({"id": f"http://stranger.test.example/{n}", "type": "Follow",
                       "actor": "http://stranger.test.example/u", "object": node.group_id}).encode()


async def stranger_post(node: InProcessNode, session: aiohttp.ClientSession, key_id: str, n: int,
                        headers: dict[str, str] | None = None) -> tuple[int, str | None]:
    """POST a Follow signed with a key nobody published under `key_id`: (status, Retry-After)."""
    body = stranger_follow(node, key_id, n)
    signed = signatures.sign("POST", node.base + "/inbox", key_id, _stranger_key(), body, AS_JSON)
    async with session.post(node.base + "/inbox", data=body,
                            headers={**signed, "Content-Type": AS_JSON, **(headers or {})}) as response:
        return response.status, response.headers.get("Retry-After")


async def until_done(tasks: list[asyncio.Task], n: int) -> None:
    """Return once `n` of `tasks` have finished (woken by each completion; no polling)."""
    pending = {t for t in tasks if not t.done()}
    while len(tasks) - len(pending) < n:
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
