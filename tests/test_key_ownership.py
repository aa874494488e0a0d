"""One account on a server cannot take another account's key on the same server (issue 12, point 7).

A key counts for an actor only if its owner is that actor, it is on the actor's origin and it is named under
the actor's URI (or is the very key whose URL answered); a cached key owned by another actor is never replaced;
refetches are throttled per key, so one account's bad signatures do not spend another's. The SSRF guard is on:
the shared server is reached by a made-up name through the test resolver.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node.activitypub import signatures
from tests.fediverse import AS_JSON, InProcessNode, multikey, pooled_key
from tests.shared_host import SharedServer, shared_host_world


@pytest.fixture
async def world(tmp_path):
    async with shared_host_world(tmp_path) as made:
        yield made


async def post(node: InProcessNode, session, server: SharedServer, name: str, activity: dict[str, Any],
               key_id: str | None = None) -> int:
    body = json.dumps(activity).encode()
    headers = signatures.sign("POST", node.base + "/inbox", key_id or server.key_id(name), server.keys[name], body,
                              AS_JSON)
    async with session.post(node.base + "/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
        return r.status


async def alice_key(node: InProcessNode, server: SharedServer) -> list[tuple]:
    async with node.db.execute("SELECT owner, public_key_pem FROM remote_keys WHERE key_id = ?",
                               (server.key_id("alice"),)) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def test_key__another_account_listing_it_does_not_replace_it(world):
    node, server, session = world
    # Given alice's key is cached
    assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202
    before = await alice_key(node, server)
    assert before == [(server.id("alice"), signatures.public_pem(server.keys["alice"]))]
    # When eve's document lists alice's key id as eve's, and eve signs something
    server.extra["eve"] = [server.planted()]
    assert await post(node, session, server, "eve", server.activity("eve", "Follow", node.group_id)) == 202
    # Then alice's cached key is still hers, and her next signature verifies
    assert await alice_key(node, server) == before
    assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202


async def test_key__listed_by_another_account_before_it_is_cached_is_not_planted(world):
    node, server, session = world
    # Given eve lists alice's key id before the node has ever seen alice
    server.extra["eve"] = [server.planted()]
    assert await post(node, session, server, "eve", server.activity("eve", "Follow", node.group_id)) == 202
    # Then nothing is cached under alice's key id
    assert await alice_key(node, server) == []
    # And alice's first signature verifies with her own key
    assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202
    assert await alice_key(node, server) == [(server.id("alice"), signatures.public_pem(server.keys["alice"]))]


async def test_key__eve_signing_with_alices_key_id_changes_nothing(world):
    node, server, session = world
    server.extra["eve"] = [server.planted()]
    before = await node.snapshot()
    # When eve signs an activity of her own with alice's key id (and her own key)
    status = await post(node, session, server, "eve", server.activity("eve", "Follow", node.group_id),
                        key_id=server.key_id("alice"))
    # Then it is refused, and only alice's real key (fetched from alice's own document) was cached
    assert status == 401
    after = await node.snapshot()
    assert {t: rows for t, rows in after.items() if t != "remote_keys"} == \
        {t: rows for t, rows in before.items() if t != "remote_keys"}
    assert await alice_key(node, server) == [(server.id("alice"), signatures.public_pem(server.keys["alice"]))]


async def test_key__update_listing_another_accounts_key_changes_nothing_of_hers(world):
    node, server, session = world
    for name in ("alice", "eve"):
        assert await post(node, session, server, name, server.activity(name, "Follow", node.group_id)) == 202
    await node.drain_inbox()
    before = await alice_key(node, server)
    # When eve sends an Update of herself listing alice's key id as hers
    server.extra["eve"] = [server.planted()]
    assert await post(node, session, server, "eve", server.activity("eve", "Update", server.document("eve"))) == 202
    await node.drain_inbox()
    # Then alice's key is untouched, and she still signs
    assert await alice_key(node, server) == before
    assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202


async def test_key__refetch_is_throttled_per_key_not_per_host(world):
    node, server, session = world
    for name in ("alice", "eve"):
        assert await post(node, session, server, name, server.activity(name, "Follow", node.group_id)) == 202
    # Given eve spends a refetch on her own key with a bad signature
    body = json.dumps(server.activity("eve", "Follow", node.group_id)).encode()
    headers = signatures.sign("POST", node.base + "/inbox", server.key_id("eve"), pooled_key(), body, AS_JSON)
    async with session.post(node.base + "/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
        assert r.status == 401
    # When alice rotates her key and signs with the new one
    server.keys["alice"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Then the node refetches alice's key (eve's refetch was eve's alone) and accepts her
    assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202


# Every way we found for eve's document to claim alice's key id. Each is tried before alice's key is cached and
# after, by a Follow (the key fetch) and by an Update of herself (the cached document).
def _plants(server: SharedServer) -> dict[str, dict[str, Any]]:
    eve_pem = signatures.public_pem(server.keys["eve"])
    ed = ed25519.Ed25519PrivateKey.generate()
    return {
        "owner-eve": {"publicKey": server.planted()},
        "owner-alice": {"publicKey": {"id": server.key_id("alice"), "owner": server.id("alice"),
                                      "publicKeyPem": eve_pem}},
        "no-owner": {"publicKey": {"id": server.key_id("alice"), "publicKeyPem": eve_pem}},
        "multikey-controller-eve": {"assertionMethod": [{
            "id": server.key_id("alice"), "type": "Multikey", "controller": server.id("eve"),
            "publicKeyMultibase": multikey(ed.public_key())}]},
        "multikey-controller-alice": {"assertionMethod": [{
            "id": server.key_id("alice"), "type": "Multikey", "controller": server.id("alice"),
            "publicKeyMultibase": multikey(ed.public_key())}]},
    }


def _about(snapshot: dict[str, list], who: str, not_of: str) -> dict[str, list]:
    """Every row of every table that mentions `who`, but for rows keyed by `not_of` (eve's own document does)."""
    return {table: [row for row in rows if any(isinstance(v, str) and who in v for v in row)
                    and not (isinstance(row[0], str) and row[0].startswith(not_of))]
            for table, rows in snapshot.items()}


@pytest.mark.parametrize("cached_first", [True, False], ids=["alice-cached", "alice-unseen"])
async def test_key__no_listing_by_another_account_takes_it(world, cached_first):
    node, server, session = world
    plants = _plants(server)
    original = server.document
    if cached_first:
        assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202
    await node.drain_inbox()
    alice = server.id("alice")
    for name, plant in plants.items():
        before = _about(await node.snapshot(), alice, server.id("eve"))

        def planted(who: str, plant=plant) -> dict[str, Any]:
            document = original(who)
            if who != "eve":
                return document
            if "publicKey" in plant:
                return document | {"publicKey": [*document["publicKey"], plant["publicKey"]]}
            return document | plant
        server.document = planted
        # When eve, with the plant in her document, signs a Follow and an Update of herself
        assert await post(node, session, server, "eve", server.activity("eve", "Follow", node.group_id)) == 202, name
        assert await post(node, session, server, "eve", server.activity("eve", "Update", planted("eve"))) == 202
        await node.drain_inbox()
        # Then no row about alice changed, in any table
        assert _about(await node.snapshot(), alice, server.id("eve")) == before, name
        server.document = original
    # And alice's own key is the one that verifies her
    assert await post(node, session, server, "alice", server.activity("alice", "Follow", node.group_id)) == 202
    assert await alice_key(node, server) == [(alice, signatures.public_pem(server.keys["alice"]))]
