"""FEDERATION.md stays true: each JSON example has the shape of what the node really serves or sends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.documented import differences, examples
from tests.fediverse import run_cli


@pytest.fixture
async def served(node, remote, session) -> dict[str, Any]:
    """The real documents, by example name."""
    real: dict[str, Any] = {}
    async with session.get(node.group_id, headers={"Accept": "application/activity+json"}) as r:
        real["group-actor"] = await r.json(content_type=None)
    async with session.get(f"{node.base}/.well-known/webfinger?resource=acct:group@{node.config.host}") as r:
        real["webfinger"] = await r.json(content_type=None)
    await remote.post(session, node.group_id + "/inbox", remote.activity("Follow", node.group_id))
    await node.drain_inbox()
    assert await run_cli("follows", "approve", "1", "--data", str(node.config.data_dir)) == 0
    assert await run_cli("follow", remote.id, "--data", str(node.config.data_dir)) == 0
    await node.run_deliveries()
    # A member, followed by the remote too, posts to the Group, edits and deletes it.
    assert await run_cli("member", "add", "ada", "--data", str(node.config.data_dir)) == 0
    await remote.post(session, node.base + "/inbox", remote.activity("Follow", f"{node.base}/actors/ada"))
    await node.drain_inbox()
    data = str(node.config.data_dir)
    assert await run_cli("post", "--as", "ada", "--visibility", "public", "Soup on Friday", "--data", data) == 0
    async with node.db.execute("SELECT id, uuid FROM posts") as cur:
        post_id, uuid = await cur.fetchone()
    async with session.get(f"{node.base}/posts/{uuid}", headers={"Accept": "application/activity+json"}) as r:
        real["note"] = await r.json(content_type=None)
    assert await run_cli("post", "--as", "ada", "--edit", str(post_id), "Soup on Saturday", "--data", data) == 0
    assert await run_cli("post", "--as", "ada", "--delete", str(post_id), "--data", data) == 0
    while await node.run_deliveries():
        pass
    for received in remote.received:
        activity = received["activity"]
        name = activity["type"].lower()
        if name == "announce":
            name += "-id" if isinstance(activity["object"], str) else "-" + activity["object"]["type"].lower()
        real.setdefault(name, activity)
    # A public poll, closed, so the Question and the decision log are both there to read.
    assert await run_cli("propose", "--as", "ada", "--kind", "poll", "--title", "Where?", "--option", "Library",
                         "--option", "Park", "--scope", "public", "--closes", "1d", "--data", data) == 0
    async with node.db.execute("SELECT uuid FROM proposals") as cur:
        (proposal,) = await cur.fetchone()
    async with session.get(f"{node.base}/proposals/{proposal}", headers={"Accept": "application/activity+json"}) as r:
        real["question"] = await r.json(content_type=None)
    await node.pass_closing_time()
    await node.close_proposals()
    async with session.get(node.group_id + "/decisions/1", headers={"Accept": "application/activity+json"}) as r:
        real["decision-record"] = await r.json(content_type=None)
    async with session.get(f"{node.base}/ns") as r:
        real["context"] = await r.json(content_type=None)
    return real


async def test_federation_md__examples_match_what_the_node_sends(served):
    documented = examples()
    missing = documented.keys() - served.keys()
    assert not missing, f"no real document gathered for examples {missing}"
    problems = {name: differences(example, served[name]) for name, example in documented.items()}
    assert not any(problems.values()), problems


def test_federation_md__shape_check_catches_a_drifted_example():
    assert differences({"type": "Follow", "actor": "x"}, {"type": "Follow", "actor": "y"}) == []
    assert differences({"type": "Follow"}, {"type": "Accept"})
    assert differences({"a": 1}, {"a": 1, "b": 2}) == ["$.b: sent, not documented"]
    assert differences({"a": {"b": "s"}}, {"a": {"b": 3}})
