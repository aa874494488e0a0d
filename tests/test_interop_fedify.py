"""Interop with software nobody here wrote: a Fedify 2.3.6 peer (npm) with signature verification on."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.fediverse import eventually, run_cli

INTEROP = Path(__file__).parent / "interop"
pytestmark = pytest.mark.interop


@pytest.fixture
async def fedify(tmp_path):
    """A Fedify peer process on a free loopback port; its base URL once it prints READY."""
    node_bin = shutil.which("node")
    assert node_bin, "Node.js is needed for the Fedify interop test"
    assert (INTEROP / "node_modules" / "@fedify" / "fedify").is_dir(), \
        "run `npm ci` in tests/interop first (the README's test command does)"
    log = open(tmp_path / "fedify.log", "wb")  # noqa: SIM115 - closed below
    proc = await asyncio.create_subprocess_exec(node_bin, str(INTEROP / "fedify_peer.mjs"), "0",
                                                stdout=asyncio.subprocess.PIPE, stderr=log)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"READY "), (line, (tmp_path / "fedify.log").read_text()[-2000:])
        yield line.split()[1].decode()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        log.close()


async def _control(session: aiohttp.ClientSession, method: str, url: str, **kwargs):
    async with session.request(method, url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def test_fedify__looks_up_follows_group_and_verifies_accept(node, fedify, session):
    # Given the peer looks up the Group by its URL and by its acct: handle
    status, found = await _control(session, "GET", f"{fedify}/_control/lookup", params={"q": node.group_id})
    assert status == 200 and found["type"] == "Group" and found["id"] == node.group_id
    handle = f"acct:{node.config.group_handle}@{node.config.host}"
    status, found = await _control(session, "GET", f"{fedify}/_control/lookup", params={"q": handle})
    assert status == 200 and found["id"] == node.group_id

    # When it follows the Group (signed by Fedify, verified by us)
    status, sent = await _control(session, "POST", f"{fedify}/_control/follow", json={"target": node.group_id})
    assert status == 200, sent
    await node.drain_inbox()
    async with node.db.execute("SELECT id, state FROM follows WHERE activity_id = ?", (sent["followId"],)) as c:
        follow_row, state = await c.fetchone()
    assert state == "pending"

    # And the host approves it
    assert await run_cli("follows", "approve", str(follow_row), "--data", str(node.config.data_dir)) == 0
    assert await node.run_deliveries() == 1

    # Then Fedify received our Accept and it passed Fedify's own signature verification
    status, events = await _control(session, "GET", f"{fedify}/_control/events", params={"type": "Accept"})
    assert len(events) == 1
    accept = events[0]
    assert accept["verified"] is True and accept["actor"] == node.group_id
    assert accept["followId"] == sent["followId"]
    assert accept["signature"]["keyId"] == node.group_id + "#main-key"
    status, followers = await _control(session, "GET", f"{fedify}/_control/following")
    assert any(node.group_id in str(entry) and "accepted" in str(entry) for entry in
               (followers if isinstance(followers, list) else [followers]))


async def test_fedify__group_follows_peer_and_records_accept(node, fedify, session):
    peer_actor = f"{fedify}/users/peer"
    # When the Group follows the Fedify actor
    assert await run_cli("follow", peer_actor, "--data", str(node.config.data_dir)) == 0
    assert await node.run_deliveries() == 1

    # Then Fedify verified our Follow
    status, events = await _control(session, "GET", f"{fedify}/_control/events", params={"type": "Follow"})
    assert [e["actor"] for e in events] == [node.group_id]
    assert events[0]["verified"] is True

    # And its Accept (Fedify signs it itself) is accepted by our inbox and recorded
    async def accept_arrived():
        return await node.count("inbox", "type = 'Accept' AND actor = ?", peer_actor)

    await eventually(accept_arrived)
    await node.drain_inbox()
    assert await node.count("follows", "follower = ? AND followee = ? AND state = 'accepted'",
                            node.group_id, peer_actor) == 1
    status, log = await _control(session, "GET", f"{fedify}/_control/deliveries")
    assert all(d["ok"] for d in log), log
