"""The Group re-shares what its posters send it in public, and only that: an edit that narrows a post's audience
is stored for whom it is addressed to, and never announced to the Group's followers."""

from __future__ import annotations

import json

from node.activitypub.as2.parse import PUBLIC
from node.store import remote_objects
from tests.factories import deliver_all, follow, received


async def test_an_edit_that_makes_a_reshared_post_non_public_is_not_reshared(make_posting_node, make_remote, session):
    # Given a post to the Group from an approved follower, re-shared to the Group's other follower
    node = await make_posting_node()
    poster, other = await make_remote("poster"), await make_remote("other")
    await follow(node, poster, session, node.group_id)
    await follow(node, other, session, node.group_id)
    body = {"id": f"{poster.origin}/notes/1", "type": "Note", "attributedTo": poster.id, "content": "<p>hi</p>",
            "to": [node.group_id], "cc": [PUBLIC], "audience": node.group_id}
    assert (await poster.post(session, node.base + "/inbox", poster.activity("Create", body)))[0] == 202
    await node.drain_inbox()
    await deliver_all(node)
    before = len(received(other, "Announce"))
    assert before == 2
    # When its author edits it into a post for their followers only
    narrowed = {**body, "content": "<p>for my followers only</p>", "cc": [poster.id + "/followers"],
                "updated": "2030-01-01T00:00:00Z"}
    assert (await poster.post(session, node.base + "/inbox", poster.activity("Update", narrowed)))[0] == 202
    await node.drain_inbox()
    await deliver_all(node)
    # Then the Group's other follower is sent nothing of it, and the Group's outbox holds nothing of it
    assert len(received(other, "Announce")) == before
    assert "for my followers only" not in json.dumps(other.received)
    async with node.db.execute("SELECT COUNT(*) FROM outbox WHERE body LIKE '%for my followers only%'") as cur:
        assert (await cur.fetchone())[0] == 0
    # And the copy kept here is no longer public
    assert (await remote_objects.get(node.db, body["id"])).public is False
