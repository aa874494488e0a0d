"""Interop with a Fedify 2.3.6 peer: it receives the Group's Announces verified, and its posts to the Group are
re-shared to the Group's other followers."""

from __future__ import annotations

import pytest

from node.processing.posts import publish_post
from node.store import remote_objects
from tests.factories import add_member, control, deliver_all, fedify_follows_group, follow, received
from tests.fediverse import eventually

pytestmark = pytest.mark.interop


async def test_fedify__receives_group_announces_of_member_post_verified(make_posting_node, fedify, session):
    # Given the Fedify peer follows the Group (accepted at once)
    node = await make_posting_node()
    await fedify_follows_group(node, fedify, session)
    ada = await add_member(node)

    # When a member posts publicly to the Group and deliveries run
    post = await publish_post(node.db, node.config, ada, "Hello, fediverse", "public")
    await deliver_all(node)

    # Then Fedify verified both of the Group's Announces
    status, events = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Announce"})
    assert len(events) == 2, events
    assert all(e["verified"] is True and e["actor"] == node.group_id for e in events)
    assert all(e["signature"]["keyId"] == node.group_id + "#main-key" for e in events)
    note_id = f"{node.base}/posts/{post.uuid}"
    assert {e["object"] for e in events} == {note_id, note_id + "/activity"}
    status, log = await control(session, "GET", f"{fedify}/_control/inbox-log")
    assert all(entry.get("status", 202) < 300 for entry in log if entry.get("type") == "Announce"), log


async def test_fedify__post_to_group_reshared_to_other_followers(make_posting_node, fedify, make_remote,
                                                                 session):
    # Given the Fedify peer and a second remote both follow the Group
    node = await make_posting_node()
    await fedify_follows_group(node, fedify, session)
    other = await make_remote("other")
    await follow(node, other, session, node.group_id)

    # When Fedify posts a public Note addressed to the Group
    status, sent = await control(session, "POST", f"{fedify}/_control/note",
                                  json={"target": node.group_id, "content": "<p>Hi Group!</p>"})
    assert status == 200, sent

    async def arrived():
        return await node.count("inbox", "activity_id = ?", sent["createId"])

    await eventually(arrived)
    await node.drain_inbox()
    await deliver_all(node)

    # Then it is stored and the Group re-shared it to the other follower (both forms), not back to Fedify
    assert (await remote_objects.get(node.db, sent["noteId"])).content == "<p>Hi Group!</p>"
    objects = [a["object"] for a in received(other, "Announce")]
    assert sent["noteId"] in objects
    assert any(isinstance(o, dict) and o["id"] == sent["createId"] for o in objects)
    status, events = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Announce"})
    assert events == []
