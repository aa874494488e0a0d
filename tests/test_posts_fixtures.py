"""Shared setup for the posts tests: nodes that serve posts, members, followers, signed GETs."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from node.db import transaction
from node.store import follows, local_actors
from tests.fediverse import AS_JSON, FakeActor, InProcessNode, run_cli


@pytest.fixture
def make_posting_node(make_node):
    """Nodes whose Group accepts follows at once, so tests can start from followers."""

    async def make(name: str = "alpha", **settings: Any) -> InProcessNode:
        return await make_node(name, **{"public_follows": "auto", **settings})

    return make


async def add_member(node: InProcessNode, handle: str = "ada"):
    assert await run_cli("member", "add", handle, "--data", str(node.config.data_dir)) == 0
    return await local_actors.by_username(node.db, handle)


async def follow(node: InProcessNode, remote: FakeActor, session: aiohttp.ClientSession, target: str) -> None:
    """`remote` follows `target` (the Group, auto-accepted, or a member); the Accept is sent."""
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Follow", target))
    assert status == 202
    await node.drain_inbox()
    await deliver_all(node)
    assert await node.count("follows", "follower = ? AND followee = ? AND state = 'accepted'", remote.id, target)


async def node_follows(node: InProcessNode, follower: str, remote_id: str) -> None:
    """Record that a local actor follows `remote_id` (its Accept already arrived)."""
    async with transaction(node.db):
        await follows.upsert(node.db, follower, remote_id, f"{follower}#follows/{remote_id}", "accepted")


async def deliver_all(node: InProcessNode) -> int:
    total = 0
    while n := await node.run_deliveries():
        total += n
    return total


def received(remote: FakeActor, kind: str | None = None) -> list[dict[str, Any]]:
    return [r["activity"] for r in remote.received if kind is None or r["activity"].get("type") == kind]


async def get_as(session: aiohttp.ClientSession, url: str, signer: FakeActor | None = None) -> tuple[int, Any]:
    headers = {"Accept": AS_JSON}
    if signer is not None:
        headers.update(signer.signed_headers("GET", url, None))
    async with session.get(url, headers=headers) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def exchange(*nodes: InProcessNode) -> None:
    """Deliver and process until nothing moves between the nodes."""
    for _ in range(5):
        moved = 0
        for node in nodes:
            moved += await deliver_all(node)
            moved += await node.drain_inbox()
        if not moved:
            return


async def become_siblings(a: InProcessNode, b: InProcessNode) -> None:
    """Each Group follows the other, and each side approves, as the operators would with the CLI."""
    for follower, followee in ((a, b), (b, a)):
        assert await run_cli("follow", followee.group_id, "--data", str(follower.config.data_dir)) == 0
        await exchange(a, b)
        async with followee.db.execute("SELECT id FROM follows WHERE follower = ? AND state = 'pending'",
                                       (follower.group_id,)) as cur:
            (request,) = await cur.fetchone()
        assert await run_cli("follows", "approve", str(request), "--data", str(followee.config.data_dir)) == 0
        await exchange(a, b)
