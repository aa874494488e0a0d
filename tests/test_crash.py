"""Nothing is lost: an activity acknowledged with 202 survives SIGKILL and is processed after restart."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fediverse import NodeProcess, cli, eventually, free_port, init_node

pytestmark = pytest.mark.slow


async def test_sigkill_after_202__activity_processed_after_restart(tmp_path, remote):
    config = init_node(tmp_path / "a", free_port(), "Alpha")
    group = f"{config.base_url}/actors/group"
    # Given a node that acknowledges but does not process yet (so the kill surely lands before processing)
    node = NodeProcess(config.data_dir, env={"CONGREGATION_PROCESS_INBOX": "false"}).start()
    try:
        async with aiohttp.ClientSession() as session:
            status, _ = await remote.post(session, config.base_url + "/inbox", remote.activity("Follow", group))
        assert status == 202
    finally:
        # When it is killed right after answering 202
        node.kill()

    code, out, _ = cli("follows", "list", "--data", str(config.data_dir))
    assert remote.id not in out

    # Then, restarted with processing on, it processes the activity it had acknowledged
    node = NodeProcess(config.data_dir, env={"CONGREGATION_PROCESS_INBOX": "true"}).start()
    try:
        async def follow_recorded():
            code, out, _ = cli("follows", "list", "--state", "pending", "--data", str(config.data_dir))
            return remote.id in out

        await eventually(follow_recorded)
    finally:
        node.stop()
