"""A scriptable inbox for delivery tests: answers what the test says, counts concurrency, can hold requests."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

from aiohttp import web

from node.activitypub.delivery import DeliveryWorker
from node.activitypub.outbox import new_activity_id, publish
from node.appkeys import HTTP
from node.clock import ManualClock
from node.db import transaction
from node.store import local_actors
from tests.fediverse import FakeActor


@dataclass
class ScriptedInbox(FakeActor):
    """A FakeActor whose inbox answers `status` with `headers`, optionally held until `gate` opens."""

    headers: dict[str, str] = field(default_factory=dict)
    gate: asyncio.Event | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            async with self.arrived:
                self.received.append({"path": request.path, "headers": dict(request.headers),
                                      "activity": json.loads(body)})
                self.arrived.notify_all()
            if self.gate is not None:
                await self.gate.wait()
            return web.Response(status=self.inbox_status, headers=self.headers)
        finally:
            self.in_flight -= 1

    async def wait_received(self, n: int) -> None:
        async with self.arrived:
            await self.arrived.wait_for(lambda: len(self.received) >= n)


def worker_for(node, clock: ManualClock, **kwargs) -> DeliveryWorker:
    """A delivery worker on the node's database and HTTP client, on the test's clock, with fixed jitter."""
    return DeliveryWorker(node.db, node.config, node.app[HTTP], clock=clock, rng=random.Random(7), **kwargs)


async def queue(node, clock: ManualClock, inboxes: list[str], n: int = 1) -> list[str]:
    """The Group publishes `n` activities to `inboxes`; returns their ids."""
    group = await local_actors.group(node.db)
    ids = []
    for _ in range(n):
        activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": new_activity_id(node.config),
                    "type": "Create", "actor": node.group_id,
                    "object": {"type": "Note", "content": "hello", "attributedTo": node.group_id}}
        async with transaction(node.db):
            await publish(node.db, group, activity, inboxes, now=clock.now())
        ids.append(activity["id"])
    return ids


async def row(node, activity_id: str | None = None) -> dict:
    """The (only, or given) delivery row as a dict."""
    where, args = ("activity_id = ?", (activity_id,)) if activity_id else ("1", ())
    async with node.db.execute(f"SELECT * FROM deliveries WHERE {where} ORDER BY id", args) as cur:
        rows = [dict(r) for r in await cur.fetchall()]
    assert len(rows) == 1, rows
    return rows[0]


async def host_row(node, host: str) -> dict | None:
    async with node.db.execute("SELECT * FROM hosts WHERE host = ?", (host,)) as cur:
        found = await cur.fetchone()
    return dict(found) if found else None
