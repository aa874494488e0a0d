"""Actors on servers of their own under made-up public names (the SSRF guard stays on), whose object URLs answer
only when the test releases them; and a node beside them, with a member and a client session through the same
test DNS. For the tests of what a slow or greedy stranger may cost us (issue 12, points 6 and 8)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from node.appkeys import INBOX_WORKER
from tests.factories import node_follows, quick_member
from tests.fediverse import AS_JSON, FakeActor, InProcessNode, free_port, init_node
from tests.resolver import LoopbackDNS

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@dataclass
class InFlight:
    """How many object requests the servers of one test hold at once, and the most ever held."""

    now: int = 0
    most: int = 0


@dataclass
class ObjectServer(FakeActor):
    """An actor under a made-up name whose /objects/… URLs answer only once `release` is set."""

    host: str = "slow.test.example"
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: InFlight = field(default_factory=InFlight)
    object_requests: list[str] = field(default_factory=list)
    # Called as each held request ends (answered, or given up by the node): what the test wants to know then.
    on_end: Callable[[], Any] | None = None
    seen_at_end: list[Any] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def note(self, suffix: str, content: str, to: tuple[str, ...] = ()) -> dict[str, Any]:
        return {"id": f"{self.origin}/objects/{suffix}", "type": "Note", "attributedTo": self.id,
                "content": content, "to": [PUBLIC, *to], "cc": [self.id + "/followers"]}

    def serve(self, note: dict[str, Any]) -> str:
        self.documents[note["id"]] = (200, note)
        return note["id"]

    async def start(self) -> ObjectServer:
        # A handler is cancelled when its client goes: `in_flight` counts what the node still waits for.
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def _get(self, request: web.Request) -> web.Response:
        if not request.path.startswith("/objects/"):
            return await super()._get(request)
        self.object_requests.append(request.path)
        self.entered.set()
        self.in_flight.now += 1
        self.in_flight.most = max(self.in_flight.most, self.in_flight.now)
        try:
            await self.release.wait()
        finally:
            self.in_flight.now -= 1
            if self.on_end is not None:
                self.seen_at_end.append(self.on_end())
        status, body = self.documents.get(f"{self.origin}{request.path}", (404, {"error": "not found"}))
        return web.json_response(body, status=status, content_type=AS_JSON)


@dataclass
class World:
    node: InProcessNode
    dns: LoopbackDNS
    session: aiohttp.ClientSession
    member: str
    servers: list[ObjectServer] = field(default_factory=list)
    in_flight: InFlight = field(default_factory=InFlight)

    async def actor(self, name: str, *, followed: bool) -> ObjectServer:
        server = await ObjectServer(name=name, host=f"{name}.test.example", in_flight=self.in_flight).start()
        self.dns.add(server.host, server.port)
        self.servers.append(server)
        if followed:
            await node_follows(self.node, self.member, server.id)
        return server

    async def send(self, actor: ObjectServer, activity: dict[str, Any]) -> str:
        status, text = await actor.post(self.session, self.node.base + "/inbox", activity)
        assert status == 202, text
        return activity["id"]

    async def row(self, activity_id: str) -> tuple:
        async with self.node.db.execute("SELECT outcome, attempts, processed_at IS NOT NULL, next_attempt_at"
                                        " FROM inbox WHERE activity_id = ?", (activity_id,)) as cur:
            return tuple(await cur.fetchone())

    def stored_now(self, uri: str) -> Callable[[], bool]:
        """A synchronous probe of the committed database: is `uri` stored (for a server's handler to ask)?"""
        def probe() -> bool:
            with contextlib.closing(sqlite3.connect(self.node.config.db_path)) as db:
                return db.execute("SELECT 1 FROM remote_objects WHERE uri = ?", (uri,)).fetchone() is not None
        return probe

    async def stored(self, uri: str) -> str | None:
        async with self.node.db.execute("SELECT content FROM remote_objects WHERE uri = ?", (uri,)) as cur:
            found = await cur.fetchone()
        return found[0] if found else None


@contextlib.asynccontextmanager
async def object_world(tmp_path, fetch_seconds: float | None = None):
    """A World: a node at alpha.test.example whose Group accepts follows at once, with a member @ada."""
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example", public_follows="auto")
    dns = LoopbackDNS().add("alpha.test.example", port)
    node = await InProcessNode(config, resolver=dns).start()
    if fetch_seconds is not None:
        node.app[INBOX_WORKER].fetch_seconds = fetch_seconds
    await quick_member(node, "ada")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as session:
        made = World(node, dns, session, node.base + "/actors/ada")
        try:
            yield made
        finally:
            for server in made.servers:
                server.release.set()
            await node.close()
            for server in made.servers:
                await server.close()
