"""Interop with software nobody here wrote: a Fedify 2.3.6 peer (npm) with signature verification on."""

from __future__ import annotations

import pytest

from tests.factories import control
from tests.fediverse import eventually, run_cli

pytestmark = pytest.mark.interop


async def test_fedify__looks_up_follows_group_and_verifies_accept(node, fedify, session):
    # Given the peer looks up the Group by its URL and by its acct: handle
    status, found = await control(session, "GET", f"{fedify}/_control/lookup", params={"q": node.group_id})
    assert status == 200 and found["type"] == "Group" and found["id"] == node.group_id
    handle = f"acct:{node.config.group_handle}@{node.config.host}"
    status, found = await control(session, "GET", f"{fedify}/_control/lookup", params={"q": handle})
    assert status == 200 and found["id"] == node.group_id

    # When it follows the Group (signed by Fedify, verified by us)
    status, sent = await control(session, "POST", f"{fedify}/_control/follow", json={"target": node.group_id})
    assert status == 200, sent
    await node.drain_inbox()
    async with node.db.execute("SELECT id, state FROM follows WHERE activity_id = ?", (sent["followId"],)) as c:
        follow_row, state = await c.fetchone()
    assert state == "pending"

    # And the host approves it
    assert await run_cli("follows", "approve", str(follow_row), "--data", str(node.config.data_dir)) == 0
    assert await node.run_deliveries() == 1

    # Then Fedify received our Accept and it passed Fedify's own signature verification
    status, events = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Accept"})
    assert len(events) == 1
    accept = events[0]
    assert accept["verified"] is True and accept["actor"] == node.group_id
    assert accept["followId"] == sent["followId"]
    assert accept["signature"]["keyId"] == node.group_id + "#main-key"
    status, followers = await control(session, "GET", f"{fedify}/_control/following")
    assert any(node.group_id in str(entry) and "accepted" in str(entry) for entry in
               (followers if isinstance(followers, list) else [followers]))


async def test_fedify__group_follows_peer_and_records_accept(node, fedify, session):
    peer_actor = f"{fedify}/users/peer"
    # When the Group follows the Fedify actor
    assert await run_cli("follow", peer_actor, "--data", str(node.config.data_dir)) == 0
    assert await node.run_deliveries() == 1

    # Then Fedify verified our Follow
    status, events = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Follow"})
    assert [e["actor"] for e in events] == [node.group_id]
    assert events[0]["verified"] is True

    # And its Accept (Fedify signs it itself) is accepted by our inbox and recorded
    async def accept_arrived():
        return await node.count("inbox", "type = 'Accept' AND actor = ?", peer_actor)

    await eventually(accept_arrived)
    await node.drain_inbox()
    assert await node.count("follows", "follower = ? AND followee = ? AND state = 'accepted'",
                            node.group_id, peer_actor) == 1
    status, log = await control(session, "GET", f"{fedify}/_control/deliveries")
    assert all(d["ok"] for d in log), log
