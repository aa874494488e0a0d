"""The Congregation's name and summary live in its settings: after an operator edits them, the next start
sends Update(Group) to the Group's followers (siblings and fediverse), once."""

from __future__ import annotations

from node import config as configuration
from tests.factories import deliver_all, follow, received
from tests.fediverse import InProcessNode, update_settings


async def restart(node: InProcessNode) -> InProcessNode:
    await node.close()
    return await InProcessNode(configuration.load(node.config.data_dir, env={})).start()


async def test_group_update__a_renamed_congregation_tells_its_followers_at_the_next_start(
        make_posting_node, remote, session):
    # Given a Congregation with a follower on the fediverse
    node = await make_posting_node()
    await follow(node, remote, session, node.group_id)
    try:
        # When it restarts unchanged, nothing is sent
        node = await restart(node)
        assert await node.count("outbox", "type = 'Update'") == 0
        # When the operator renames it and restarts
        update_settings(node.config.data_dir, name="Alpha Commons", summary="Gardens and soup.")
        node = await restart(node)
        # Then Update(Group) with the new document is queued before anything is delivered, and reaches the follower
        assert await node.count("deliveries", "activity_id LIKE ?", node.group_id + "#updates/%") == 1
        await deliver_all(node)
        [update] = received(remote, "Update")
        assert update["actor"] == node.group_id
        assert (update["object"]["name"], update["object"]["summary"]) == ("Alpha Commons", "Gardens and soup.")
        # And a further restart does not send it again
        node = await restart(node)
        assert await node.count("outbox", "type = 'Update'") == 1
    finally:
        await node.close()
