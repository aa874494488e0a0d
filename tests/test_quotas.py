"""One remote actor, or one remote server, cannot make us keep more than its quota (issue 12, point 8): pending
inbox rows (429 at the inbox), stored objects (pruned per author, refused per server for accounts nobody here
follows), and no object document over 256 KiB. The SSRF guard is on; peers are reached by made-up names.

The limits are lowered in these tests (the real ones are hundreds of rows and MiB) so a quota fills in a few
requests; the code paths are the real ones."""

from __future__ import annotations

import json

import pytest

from node.activitypub import quotas, signatures
from node.activitypub.quotas import Limit
from node.db import transaction
from node.store import follows
from tests.factories import deliver_all
from tests.fediverse import AS_JSON
from tests.object_servers import PUBLIC, World, object_world
from tests.shared_host import shared_host_world


async def send_signed(node, session, server, name: str, activity) -> tuple[int, dict[str, str], str]:
    body = json.dumps(activity).encode()
    headers = signatures.sign("POST", node.base + "/inbox", server.key_id(name), server.keys[name], body, AS_JSON)
    async with session.post(node.base + "/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
        return r.status, dict(r.headers), await r.text()


@pytest.fixture
async def shared(tmp_path):
    async with shared_host_world(tmp_path) as made:
        yield made


@pytest.fixture
async def world(tmp_path):
    async with object_world(tmp_path) as made:
        yield made


async def outcome(node, activity_id: str) -> str | None:
    async with node.db.execute("SELECT outcome FROM inbox WHERE activity_id = ?", (activity_id,)) as cur:
        return (await cur.fetchone())[0]


def all_but_inbox(snapshot: dict) -> dict:
    return {table: rows for table, rows in snapshot.items() if table != "inbox"}


# Pending inbox rows: 429 at the inbox, nothing stored


async def test_inbox__an_actor_past_its_pending_quota_is_told_to_come_back_and_nothing_is_stored(shared, monkeypatch):
    node, server, session = shared
    monkeypatch.setattr(quotas, "PENDING_PER_ACTOR", Limit(3, 16 * quotas.MIB))
    # Given eve has three activities waiting for the worker
    for _ in range(3):
        status, _, _ = await send_signed(node, session, server, "eve", server.activity("eve", "Like", node.group_id))
        assert status == 202
    before = await node.snapshot()
    # When she sends a fourth
    status, headers, text = await send_signed(node, session, server, "eve",
                                              server.activity("eve", "Like", node.group_id))
    # Then it is refused with a reason and a time to come back, and nothing changed
    assert status == 429 and "waiting to be processed" in json.loads(text)["error"]
    assert headers["Retry-After"] == str(quotas.RETRY_AFTER_SECONDS)
    assert await node.snapshot() == before
    # And once the worker caught up, she is heard again
    await node.drain_inbox()
    status, _, _ = await send_signed(node, session, server, "eve", server.activity("eve", "Like", node.group_id))
    assert status == 202


async def test_inbox__a_server_past_its_pending_quota_is_refused_for_every_account(shared, monkeypatch):
    node, server, session = shared
    monkeypatch.setattr(quotas, "PENDING_PER_ACTOR", Limit(3, 16 * quotas.MIB))
    monkeypatch.setattr(quotas, "PENDING_PER_SERVER", Limit(4, 64 * quotas.MIB))
    # Given alice has three activities waiting and eve one, on the same server
    for name in ("alice", "alice", "alice", "eve"):
        status, _, _ = await send_signed(node, session, server, name, server.activity(name, "Like", node.group_id))
        assert status == 202
    before = await node.snapshot()
    # When eve, under her own quota, sends another
    status, _, text = await send_signed(node, session, server, "eve", server.activity("eve", "Like", node.group_id))
    # Then the server's quota refuses it, and nothing changed
    assert status == 429 and json.loads(text)["error"].startswith("your server has 4 activities")
    assert await node.snapshot() == before


async def test_inbox__pending_bytes_count_too(shared, monkeypatch):
    node, server, session = shared
    monkeypatch.setattr(quotas, "PENDING_PER_ACTOR", Limit(100, 60_000))
    big = server.activity("eve", "Like", node.group_id) | {"content": "x" * 40_000}
    assert (await send_signed(node, session, server, "eve", big))[0] == 202
    before = await node.snapshot()
    # When a second 40 kB activity would pass her 60 kB
    again = server.activity("eve", "Like", node.group_id) | {"content": "x" * 40_000}
    status, _, text = await send_signed(node, session, server, "eve", again)
    # Then it is refused, and a small one still fits
    assert status == 429 and "KiB) waiting" in json.loads(text)["error"]
    assert await node.snapshot() == before
    assert (await send_signed(node, session, server, "eve", server.activity("eve", "Like", node.group_id)))[0] == 202


# Stored objects


async def become_group_follower(world: World, actor) -> None:
    status, _ = await actor.post(world.session, world.node.base + "/inbox",
                                 actor.activity("Follow", world.node.group_id))
    assert status == 202
    await world.node.drain_inbox()
    await deliver_all(world.node)


async def post(world: World, actor, suffix: str, content: str = "<p>post</p>", to: tuple[str, ...] = ()) -> str:
    note = actor.note(suffix, content, to=to)
    await world.send(actor, actor.activity("Create", note, to=[PUBLIC, *to]))
    await world.node.drain_inbox()
    return note["id"]


async def test_objects__a_followed_authors_oldest_are_pruned_past_their_cap(world, monkeypatch):
    monkeypatch.setattr(quotas, "FOLLOWED_AUTHOR", Limit(3, 16 * quotas.MIB))
    friend = await world.actor("friend", followed=True)
    other = await world.actor("other", followed=True)
    kept_elsewhere = await post(world, other, "1")
    # Given a followed author posts five Notes
    uris = [await post(world, friend, str(i)) for i in range(5)]
    # Then only the newest three are kept, and another author's post is untouched
    async with world.node.db.execute("SELECT uri FROM remote_objects WHERE author = ? ORDER BY uri",
                                     (friend.id,)) as cur:
        assert [row[0] for row in await cur.fetchall()] == uris[2:]
    assert await world.stored(kept_elsewhere) == "<p>post</p>"


async def test_objects__a_group_posters_oldest_are_pruned_at_the_lower_cap(world, monkeypatch):
    monkeypatch.setattr(quotas, "OTHER_AUTHOR", Limit(2, 4 * quotas.MIB))
    poster = await world.actor("poster", followed=False)
    await become_group_follower(world, poster)
    uris = [await post(world, poster, str(i), to=(world.node.group_id,)) for i in range(3)]
    assert [await world.stored(u) is not None for u in uris] == [False, True, True]


async def test_objects__accounts_nobody_follows_share_a_quota_per_server(world, monkeypatch):
    monkeypatch.setattr(quotas, "UNFOLLOWED_PER_SERVER", Limit(2, 32 * quotas.MIB))
    # Given a follower of the Group whose server holds two of its posts here
    poster = await world.actor("poster", followed=False)
    await become_group_follower(world, poster)
    for i in range(2):
        await post(world, poster, str(i), to=(world.node.group_id,))
    before = await world.node.snapshot()
    # When a third arrives
    note = poster.note("2", "<p>one more</p>", to=(world.node.group_id,))
    create = await world.send(poster, poster.activity("Create", note, to=[PUBLIC, world.node.group_id]))
    await world.node.drain_inbox()
    # Then it is refused with the reason, and nothing else changed (nothing stored, nothing re-shared)
    assert (await outcome(world.node, create)).startswith("refused: test.example has 2 objects")
    assert all_but_inbox(await world.node.snapshot()) == all_but_inbox(before)
    # And an account on another name of the same registrable domain (wildcard DNS) is the same server
    other = await world.actor("other", followed=False)
    assert other.host != poster.host
    await become_group_follower(world, other)
    before = await world.node.snapshot()
    note = other.note("0", "<p>from a fresh name</p>", to=(world.node.group_id,))
    create = await world.send(other, other.activity("Create", note, to=[PUBLIC, world.node.group_id]))
    await world.node.drain_inbox()
    assert (await outcome(world.node, create)).startswith("refused: test.example has 2 objects")
    assert all_but_inbox(await world.node.snapshot()) == all_but_inbox(before)
    # And once a member follows that account, its posts are its own to keep
    async with transaction(world.node.db):
        await follows.upsert(world.node.db, world.member, poster.id, world.member + "#f", "accepted")
    assert await world.stored(await post(world, poster, "3", to=(world.node.group_id,))) == "<p>post</p>"


async def test_objects__a_document_over_256_kib_is_refused_and_nothing_is_stored(world):
    # Given a followed author with one small post stored
    friend = await world.actor("friend", followed=True)
    small = friend.note("small", "<p>small</p>")
    await world.send(friend, friend.activity("Create", small))
    await world.node.drain_inbox()
    before = await world.node.snapshot()
    # When their next Note is 300 kB (under the inbox's 1 MiB), and an edit would make the small one as large
    big = await world.send(friend, friend.activity("Create", friend.note("big", "<p>" + "x" * 300_000 + "</p>")))
    update = await world.send(friend, friend.activity("Update", small | {"content": "x" * 300_000}))
    await world.node.drain_inbox()
    # Then both are refused with the reason, and nothing but the rows' outcomes changed
    for activity_id in (big, update):
        assert await outcome(world.node, activity_id) == "refused: the object's document is over 256 KiB"
    assert all_but_inbox(await world.node.snapshot()) == all_but_inbox(before)
