"""A remote actor follows the Group; the Group answers; the relationship shows in the collections."""

from __future__ import annotations

from tests.fediverse import run_cli


async def test_follow__pending_until_approved_then_accept_delivered(node, remote, session):
    # Given a remote actor who sends a Follow to the Group
    follow = remote.activity("Follow", node.group_id)
    status, _ = await remote.post(session, node.group_id + "/inbox", follow)
    assert status == 202

    # When the worker processes it
    await node.drain_inbox()

    # Then it waits for approval and nothing is sent yet
    assert await node.count("follows", "follower = ? AND state = 'pending'", remote.id) == 1
    assert await node.run_deliveries() == 0

    # When the host approves from the CLI
    row_id = (await (await node.db.execute("SELECT id FROM follows")).fetchone())[0]
    assert await run_cli("follows", "approve", str(row_id), "--data", str(node.config.data_dir)) == 0
    assert await node.run_deliveries() == 1

    # Then the remote inbox received an Accept embedding its Follow, signed by the Group
    accept = remote.received[-1]["activity"]
    assert accept["type"] == "Accept" and accept["actor"] == node.group_id
    assert accept["object"]["id"] == follow["id"]
    assert 'keyId="' + node.group_id + '#main-key"' in remote.received[-1]["headers"]["Signature"]
    async with session.get(node.group_id + "/followers?page=1", headers={"Accept": "application/activity+json"}) as r:
        assert (await r.json())["orderedItems"] == [remote.id]


async def test_follow__auto_setting_accepts_at_once(make_node, remote, session):
    node = await make_node(public_follows="auto")
    await remote.post(session, node.group_id + "/inbox", remote.activity("Follow", node.group_id))
    await node.drain_inbox()
    assert await node.count("follows", "state = 'accepted'") == 1
    assert await node.run_deliveries() == 1
    assert remote.received[-1]["activity"]["type"] == "Accept"


async def test_undo_follow__removes_the_follower(make_node, remote, session):
    node = await make_node(public_follows="auto")
    follow = remote.activity("Follow", node.group_id)
    await remote.post(session, node.base + "/inbox", follow)
    await node.drain_inbox()
    await remote.post(session, node.base + "/inbox", remote.activity("Undo", follow))
    await node.drain_inbox()
    assert await node.count("follows") == 0


async def test_delete_actor__tombstones_and_drops_follows(make_node, remote, session):
    node = await make_node(public_follows="auto")
    await remote.post(session, node.base + "/inbox", remote.activity("Follow", node.group_id))
    await node.drain_inbox()
    await remote.post(session, node.base + "/inbox", remote.activity("Delete", remote.id))
    await node.drain_inbox()
    assert await node.count("follows") == 0
    assert await node.count("remote_actors", "uri = ? AND deleted_at IS NOT NULL", remote.id) == 1
    assert await node.count("remote_keys") == 0


async def test_group_follows_remote__accept_recorded(node, remote, session):
    assert await run_cli("follow", remote.id, "--data", str(node.config.data_dir)) == 0
    assert await node.run_deliveries() == 1
    follow = remote.received[-1]["activity"]
    assert follow["type"] == "Follow" and follow["object"] == remote.id
    await remote.post(session, node.base + "/inbox", remote.activity("Accept", follow["id"]))
    await node.drain_inbox()
    assert await node.count("follows", "follower = ? AND state = 'accepted'", node.group_id) == 1
