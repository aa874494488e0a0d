"""A node under a made-up name with the SSRF guard on, a stranger's server beside it, and signed-in members' browsers,
all through the test resolver: the world the moderation tests (blocks, mutes, reports, their attacks) run in.

Shared by several test modules, so no test module imports another.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.fediverse import FakeActor, InProcessNode, free_port, init_node
from tests.resolver import LoopbackDNS
from tests.webclient import Visitor, make_member

EVIL = "evil.test.example"


@dataclass
class NamedActor(FakeActor):
    """A FakeActor reached by a made-up public name (through the test DNS) rather than by 127.0.0.1."""

    host: str = EVIL

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


class NamedVisitor(Visitor):
    """A browser that finds the node by its made-up name through the test resolver."""

    def __init__(self, node: InProcessNode, dns: LoopbackDNS):
        self.node = node
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"Accept": "text/html"},
                                             connector=aiohttp.TCPConnector(resolver=dns))


@dataclass
class World:
    dns: LoopbackDNS
    alpha: InProcessNode
    evil: NamedActor
    session: aiohttp.ClientSession
    tmp_path: Path
    visitors: list

    async def visitor(self, handle: str, tier: str = "friend", node: InProcessNode | None = None) -> Visitor:
        node = node or self.alpha
        await make_member(node, handle, tier)
        visitor = NamedVisitor(node, self.dns)
        self.visitors.append(visitor)
        assert (await visitor.sign_in(handle))[0] == 200
        return visitor

    async def node(self, name: str) -> InProcessNode:
        port = free_port()
        config = init_node(self.tmp_path / name, port, name.title(), host=f"{name}.test.example")
        self.dns.add(f"{name}.test.example", port)
        return await InProcessNode(config, resolver=self.dns).start()


@contextlib.asynccontextmanager
async def open_world(tmp_path: Path, *, evil_host: str = EVIL, **settings: Any) -> AsyncIterator[World]:
    """Alpha at alpha.test.example (with `settings`), and the stranger `mallory` on `evil_host` (as its URLs write
    it; the test DNS maps it in any case)."""
    dns = LoopbackDNS()
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example", **settings)
    dns.add("alpha.test.example", port)
    alpha = await InProcessNode(config, resolver=dns).start()
    evil = await NamedActor(name="mallory", host=evil_host).start()
    dns.add(evil_host, evil.port)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns))
    made = World(dns, alpha, evil, session, tmp_path, [])
    try:
        yield made
    finally:
        for visitor in made.visitors:
            await visitor.close()
        await session.close()
        await evil.close()
        await alpha.close()


def note(actor: FakeActor, text: str, to: list[str] | None = None) -> dict:
    """A Create of a Note by `actor` (public unless `to` says otherwise)."""
    note = {"id": f"{actor.origin}/notes/{abs(hash(text))}", "type": "Note", "attributedTo": actor.id,
            "content": f"<p>{text}</p>", "to": to or ["https://www.w3.org/ns/activitystreams#Public"],
            "published": "2026-11-30T10:00:00Z"}
    return actor.activity("Create", note, to=note["to"])
