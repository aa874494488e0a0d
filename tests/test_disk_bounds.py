"""A stranger cannot fill the disk (issue 12, point 8): processed inbox bodies are pruned (ids kept for dedup),
and actor documents named by signatures that do not verify are not stored. The SSRF guard is on."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub import signatures
from tests.fediverse import AS_JSON
from tests.shared_host import shared_host_world


@pytest.fixture
async def world(tmp_path):
    async with shared_host_world(tmp_path) as made:
        yield made


async def send(node, session, key_id: str, key, activity) -> int:
    body = json.dumps(activity).encode()
    headers = signatures.sign("POST", node.base + "/inbox", key_id, key, body, AS_JSON)
    async with session.post(node.base + "/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
        return r.status


async def test_inbox__processed_flags_keep_their_ids_but_not_their_bodies(world):
    node, server, session = world
    # Given a stranger sends 20 big Flags, and the worker processes them
    padding = "x" * 200_000
    flags = [server.activity("eve", "Flag", [node.group_id]) | {"content": padding} for _ in range(20)]
    for flag in flags:
        assert await send(node, session, server.key_id("eve"), server.keys["eve"], flag) == 202
    await node.drain_inbox()
    # Then every row is kept (with its outcome) and none keeps its body
    async with node.db.execute("SELECT activity_id, outcome, length(body) FROM inbox") as cur:
        rows = {row[0]: row[1:] for row in await cur.fetchall()}
    assert set(rows) == {flag["id"] for flag in flags}
    assert all(outcome and length == 0 for outcome, length in rows.values())
    # And a replay of one of them is still recognised as seen: nothing changes
    before = await node.snapshot()
    assert await send(node, session, server.key_id("eve"), server.keys["eve"], flags[0]) in (200, 202)
    await node.drain_inbox()
    assert await node.snapshot() == before


async def test_inbox__bad_signatures_store_no_actor_document(world):
    node, server, session = world
    pad = {"id": server.id("eve") + "#pad", "owner": server.id("eve"), "publicKeyPem": "x" * 100_000}
    server.extra["eve"] = [pad]
    before = await node.snapshot()
    # When 10 POSTs name eve's key but are signed with another
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for _ in range(10):
        activity = server.activity("eve", "Follow", node.group_id)
        assert await send(node, session, server.key_id("eve"), wrong, activity) == 401
    # Then her key may be cached, but not her document, and nothing else changed
    after = await node.snapshot()
    assert after["remote_actors"] == before["remote_actors"]
    assert {t: r for t, r in after.items() if t != "remote_keys"} == \
        {t: r for t, r in before.items() if t != "remote_keys"}
    # Only her real key: the 100 kB "key" her document also lists is not one
    assert [row[0] for row in after["remote_keys"] if row not in before["remote_keys"]] == [server.key_id("eve")]
    # And once a signature of hers verifies, her document is kept
    assert await send(node, session, server.key_id("eve"), server.keys["eve"],
                      server.activity("eve", "Follow", node.group_id)) == 202
    assert await node.count("remote_actors", "uri = ?", server.id("eve")) == 1


async def test_actor__a_document_over_the_cap_is_never_stored(world):
    node, server, session = world
    # Given eve's document carries 300 kB of padding
    big = "x" * 300_000
    original = server.document
    server.document = lambda name: original(name) | ({"summary": big} if name == "eve" else {})
    # When she signs a Follow (her key verifies)
    assert await send(node, session, server.key_id("eve"), server.keys["eve"],
                      server.activity("eve", "Follow", node.group_id)) == 202
    # Then her key is cached, her document is not
    assert await node.count("remote_keys", "owner = ?", server.id("eve")) == 1
    assert await node.count("remote_actors", "uri = ?", server.id("eve")) == 0


async def test_actor__an_update_over_the_cap_is_ignored_and_stores_nothing(world):
    node, server, session = world
    assert await send(node, session, server.key_id("eve"), server.keys["eve"],
                      server.activity("eve", "Follow", node.group_id)) == 202
    await node.drain_inbox()
    before = await node.snapshot()
    # When eve sends an Update of herself with 300 kB of padding
    update = server.activity("eve", "Update", server.document("eve") | {"summary": "x" * 300_000})
    assert await send(node, session, server.key_id("eve"), server.keys["eve"], update) == 202
    await node.drain_inbox()
    # Then the row says why, without its body, and nothing else changed
    after = await node.snapshot()
    async with node.db.execute("SELECT outcome, body FROM inbox WHERE activity_id = ?", (update["id"],)) as cur:
        assert tuple(await cur.fetchone()) == ("ignored: the actor's document is over 256 KiB", "")
    assert {t: r for t, r in after.items() if t != "inbox"} == {t: r for t, r in before.items() if t != "inbox"}
