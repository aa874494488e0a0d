"""Two nodes as real `congregation serve` processes find each other and become related by follows."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fediverse import NodeProcess, cli, eventually, free_port, init_node

pytestmark = pytest.mark.slow

AS = {"Accept": "application/activity+json"}


@pytest.fixture
def two_processes(tmp_path):
    a_cfg = init_node(tmp_path / "a", free_port(), "Alpha")
    b_cfg = init_node(tmp_path / "b", free_port(), "Beta")
    a, b = NodeProcess(a_cfg.data_dir).start(), NodeProcess(b_cfg.data_dir).start()
    yield a, b
    a.stop()
    b.stop()


async def _items(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(url + "?page=1", headers=AS) as response:
        assert response.status == 200
        return (await response.json())["orderedItems"]


async def test_two_processes__a_follows_b_by_handle_b_approves_from_cli(two_processes):
    a, b = two_processes
    a_group = f"{a.config.base_url}/actors/group"
    b_group = f"{b.config.base_url}/actors/group"
    b_handle = f"@group@{b.config.host}"

    # Given A's operator follows B by its WebFinger handle
    code, out, err = cli("follow", b_handle, "--data", str(a.data))
    assert code == 0, err
    assert b_group in out

    async with aiohttp.ClientSession() as session:
        # Then B shows a pending request from A, which its operator sees in the CLI
        async def pending_at_b():
            code, out, _ = cli("follows", "list", "--state", "pending", "--data", str(b.data))
            return out if a_group in out else None

        listing = await eventually(pending_at_b)
        request_id = listing.split("\t", 1)[0]
        assert await _items(session, f"{b_group}/followers") == []

        # When B's operator approves it from the CLI
        code, _, err = cli("follows", "approve", request_id, "--data", str(b.data))
        assert code == 0, err

        # Then both sides show the relationship
        async def a_follows_b():
            return await _items(session, f"{a_group}/following") == [b_group]

        await eventually(a_follows_b)
        assert await _items(session, f"{b_group}/followers") == [a_group]

        # And B can find A by URL: B's Group follows back by A's actor URL
        code, out, err = cli("follow", a_group, "--data", str(b.data))
        assert code == 0, err
        code, out, _ = cli("follows", "list", "--outgoing", "--data", str(b.data))
        assert f"pending\t{a_group}" in out

        # When A's operator approves B's request in turn, they are siblings on both sides
        async def pending_at_a():
            code, out, _ = cli("follows", "list", "--state", "pending", "--data", str(a.data))
            return out if b_group in out else None

        request_id = (await eventually(pending_at_a)).split("\t", 1)[0]
        code, out, _ = cli("siblings", "--data", str(a.data))
        assert out.startswith("they asked") and b_group in out
        assert cli("follows", "approve", request_id, "--data", str(a.data))[0] == 0

        async def siblings_on_both_sides():
            return all(cli("siblings", "--data", str(n.data))[1].startswith("sibling\t") for n in (a, b))

        await eventually(siblings_on_both_sides)
