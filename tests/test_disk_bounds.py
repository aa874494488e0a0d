"""A stranger cannot fill the disk (issue 12, point 8): processed inbox bodies are pruned (ids kept for dedup),
and actor documents named by signatures that do not verify are not stored. The SSRF guard is on."""

from __future__ import annotations

import json
import time

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


# Variations (issue 12, acceptance 1): every way a signature may fail to verify, on every route that verifies one


def _bad_requests(node, server, wrong) -> list[tuple[str, str, bytes | None, dict[str, str]]]:
    """(method, url, body, headers) each naming eve's key, none of whose signatures verifies."""
    made = []
    for inbox in (node.base + "/inbox", node.group_id + "/inbox"):
        body = json.dumps(server.activity("eve", "Follow", node.group_id)).encode()
        made.append(("POST", inbox, body, signatures.sign("POST", inbox, server.key_id("eve"), wrong, body, AS_JSON)))
    body = json.dumps(server.activity("eve", "Follow", node.group_id)).encode()
    inbox = node.base + "/inbox"
    # eve's own key, but signed for another path, or over another body (its Digest then fails first)
    made.append(("POST", inbox, body, signatures.sign("POST", node.base + "/elsewhere", server.key_id("eve"),
                                                      server.keys["eve"], body, AS_JSON)))
    made.append(("POST", inbox, body + b" ", signatures.sign("POST", inbox, server.key_id("eve"),
                                                             server.keys["eve"], body, AS_JSON)))
    # eve's own key, two hours ago
    made.append(("POST", inbox, body, signatures.sign("POST", inbox, server.key_id("eve"), server.keys["eve"], body,
                                                      AS_JSON, now=time.time() - 7200)))
    for path in ("/members", "/decisions", "/followers"):
        url = node.group_id + path
        made.append(("GET", url, None, signatures.sign("GET", url, server.key_id("eve"), wrong, None, None)))
    return made


async def test_inbox__no_failing_signature_stores_a_document_on_any_route(world):
    node, server, session = world
    # Given eve's document, 200 kB: under the cap, so it would be kept if a signature of hers verified
    original = server.document
    server.document = lambda name: original(name) | ({"summary": "x" * 200_000} if name == "eve" else {})
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    before = await node.snapshot()
    # When each request whose signature does not verify is sent, three times
    for _ in range(3):
        for method, url, body, headers in _bad_requests(node, server, wrong):
            async with session.request(method, url, data=body, headers={**headers, "Content-Type": AS_JSON,
                                                                        "Accept": AS_JSON}) as r:
                text = await r.text()
            # Then each is refused (a GET of a public collection may still be answered, as to anyone unsigned)
            assert r.status in ((401, 400) if method == "POST" else (200, 401, 403)), (method, url, r.status, text)
            assert "x" * 1000 not in text
    # And no document was stored, and nothing changed but eve's real key, cached
    after = await node.snapshot()
    assert {t: r for t, r in after.items() if t != "remote_keys"} == \
        {t: r for t, r in before.items() if t != "remote_keys"}
    assert [row[0] for row in after["remote_keys"] if row not in before["remote_keys"]] in ([], [server.key_id("eve")])


async def test_inbox__every_processed_body_is_pruned_whatever_became_of_it(world):
    node, server, session = world
    pad = {"content": "y" * 50_000}
    elsewhere = "http://nowhere.test.example/objects/1"
    activities = [
        server.activity("eve", "Flag", [node.group_id]) | pad,
        server.activity("eve", "Like", elsewhere) | pad,
        server.activity("eve", "Like", node.base + "/posts/no-such-post") | pad,
        server.activity("eve", "Create", {"id": server.id("eve") + "/notes/1", "type": "Note", "content": "y" * 50_000,
                                          "attributedTo": server.id("eve")}),
        server.activity("eve", "Announce", node.base + "/posts/no-such-post") | pad,
        server.activity("eve", "Delete", server.id("eve") + "/notes/unknown") | pad,
        server.activity("eve", "Undo", {"type": "Like", "id": server.id("eve") + "/likes/none",
                                        "actor": server.id("eve"), "object": elsewhere}) | pad,
        server.activity("eve", "Follow", node.base + "/actors/nobody") | pad,
        server.activity("eve", "Accept", server.id("eve") + "/follows/none") | pad,
        server.activity("eve", "Move", node.group_id) | pad,
        server.activity("eve", "Block", node.group_id) | pad,
    ]
    for activity in activities:
        assert await send(node, session, server.key_id("eve"), server.keys["eve"], activity) in (202, 400), activity
    await node.drain_inbox()
    # Then no processed row keeps its body, whatever its outcome, and each has one
    async with node.db.execute("SELECT type, outcome, length(body) FROM inbox") as cur:
        rows = await cur.fetchall()
    assert rows and all(outcome and length == 0 for _, outcome, length in rows), rows
    async with node.db.execute("SELECT COALESCE(SUM(length(body)), 0) FROM inbox") as cur:
        assert (await cur.fetchone())[0] == 0


@pytest.mark.parametrize("over", [False, True], ids=["just-under", "just-over"])
async def test_actor__the_cap_is_counted_in_bytes_to_the_byte(world, over):
    node, server, session = world
    # Given eve's document padded with non-ASCII text to just under, or just over, 256 KiB as we store it
    original = server.document
    bare = json.dumps(original("eve") | {"summary": ""})
    room = 256 * 1024 - len(bare.encode())
    pad = "é" * (room // 6) + "x" * (room % 6 + (1 if over else 0))  # json.dumps writes é as \u00e9: 6 bytes
    server.document = lambda name: original(name) | ({"summary": pad} if name == "eve" else {})
    assert len(json.dumps(server.document("eve")).encode()) == 256 * 1024 + (1 if over else 0)
    # When her key verifies
    assert await send(node, session, server.key_id("eve"), server.keys["eve"],
                      server.activity("eve", "Follow", node.group_id)) == 202
    # Then her document is kept only when it fits
    assert await node.count("remote_actors", "uri = ?", server.id("eve")) == (0 if over else 1)
    assert await node.count("remote_keys", "owner = ?", server.id("eve")) == 1
