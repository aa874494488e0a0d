"""A stranger cannot stall inbound processing (issue 12, point 6): relevance is decided before any fetch, rows of
different actors run side by side (one actor's strictly in order), strangers' rows hold only a few slots, and a
slow origin costs one row a bounded time, after which it is retried with backoff.

Object servers are loopback servers under made-up public names (the SSRF guard stays on) whose object URLs are
held open by an asyncio.Event the test controls; what is asserted is cause and order, never a duration. The
worker's per-row fetch bound is made short here only so that a step ends soon while a server is still held."""

from __future__ import annotations

import os

import pytest

from node.activitypub.worker import STRANGER_SLOTS
from node.appkeys import INBOX_WORKER
from tests.factories import deliver_all
from tests.object_servers import PUBLIC, object_world

FETCH_SECONDS = 0.5


@pytest.fixture
async def world(tmp_path):
    async with object_world(tmp_path, FETCH_SECONDS) as made:
        yield made


async def test_worker__a_followed_post_is_stored_while_three_slow_object_servers_are_held(world):
    # Given three followed actors on three servers, each sending a Create that names its Note by id, and the Note
    # URLs held open
    slow = [await world.actor(f"slow{i}", followed=True) for i in range(3)]
    held = [await world.send(s, s.activity("Create", s.serve(s.note("1", f"slow {s.name}")))) for s in slow]
    # And, after them in the queue, a followed friend's post
    friend = await world.actor("friend", followed=True)
    post = friend.note("1", "<p>on time</p>")
    await world.send(friend, friend.activity("Create", post))
    for server in slow:
        server.on_end = world.stored_now(post["id"])
    # When the worker takes one step while no held server ever answers
    assert await world.node.app[INBOX_WORKER].run_once() == 4
    # Then every slow fetch was in flight, none was answered, and the friend's post is stored
    assert all(s.entered.is_set() and not s.release.is_set() for s in slow)
    assert [s.object_requests for s in slow] == [["/objects/1"]] * 3
    assert await world.stored(post["id"]) == "<p>on time</p>"
    # And it was stored before the node gave up any of the held requests, not after
    assert [s.seen_at_end for s in slow] == [[True]] * 3
    # And each slow row waits for a retry with its reason, not stored, nothing given up
    for activity_id, server in zip(held, slow, strict=True):
        outcome, attempts, processed, _ = await world.row(activity_id)
        assert ("took longer" in outcome, attempts, processed) == (True, 1, 0)
        assert await world.stored(server.note("1", "")["id"]) is None


async def test_worker__slow_rows_are_retried_with_backoff_and_block_no_one(world):
    slow = [await world.actor(f"slow{i}", followed=True) for i in range(3)]
    held = [await world.send(s, s.activity("Create", s.serve(s.note("1", f"slow {s.name}")))) for s in slow]
    friend = await world.actor("friend", followed=True)
    worker = world.node.app[INBOX_WORKER]
    assert await worker.run_once() == 3
    # When the friend posts again before the retry is due
    later = friend.note("2", "<p>meanwhile</p>")
    await world.send(friend, friend.activity("Create", later))
    assert await worker.run_once() == 1
    # Then it is stored at once, and the slow servers were not asked again
    assert await world.stored(later["id"]) == "<p>meanwhile</p>"
    assert [len(s.object_requests) for s in slow] == [1, 1, 1]
    # When the first backoff (30 s) passes, the servers still held: each is tried once more, and waits longer
    due = [(await world.row(a))[3] for a in held]
    world.node.advance(31)
    assert await worker.run_once() == 3
    assert [len(s.object_requests) for s in slow] == [2, 2, 2]
    again = [await world.row(a) for a in held]
    assert all(attempts == 2 and next_at - due_at >= 60 for (_, attempts, _, next_at), due_at
               in zip(again, due, strict=True))
    # When the servers answer and the second backoff passes, the posts are stored
    for server in slow:
        server.release.set()
    world.node.advance(61)
    assert await worker.drain() == 3
    assert [await world.stored(s.note("1", "")["id"]) for s in slow] == [f"slow {s.name}" for s in slow]


async def test_worker__a_strangers_create_makes_no_request_at_all(world):
    # Given a stranger nobody here follows, whose object URLs are counted (and would be answered at once)
    stranger = await world.actor("stranger", followed=False)
    stranger.release.set()
    public = stranger.activity("Create", stranger.serve(stranger.note("1", "spam")), to=[PUBLIC])
    # A mention of a member by reference concerns us, but nothing here would keep it either
    mention = stranger.activity("Create", stranger.serve(stranger.note("2", "hi ada")), to=[world.member])
    embedded = stranger.activity("Create", stranger.note("3", "spam"), to=[PUBLIC])
    shared = stranger.activity("Announce", stranger.serve(stranger.note("4", "spam")), to=[PUBLIC])
    for activity in (public, mention, embedded, shared):
        await world.send(stranger, activity)
    before = await world.node.snapshot()
    asked = list(stranger.fetched)  # the inbox fetched the stranger's key to verify the signatures
    # When the worker processes them
    assert await world.node.drain_inbox() == 4
    # Then not one request went out for them, and the rows say why they were dropped
    assert stranger.fetched == asked and stranger.object_requests == []
    outcomes = [(await world.row(a["id"]))[0] for a in (public, mention, embedded, shared)]
    assert outcomes[0].startswith("dropped: not from an actor anyone here follows")
    assert outcomes[1].startswith("dropped: only a post of an actor we follow")
    assert outcomes[2].startswith("dropped: not from an actor anyone here follows")
    assert outcomes[3] == "ignored: Announce from an actor we do not follow"
    # And nothing but those rows' outcomes changed
    after = await world.node.snapshot()
    assert {t: r for t, r in after.items() if t != "inbox"} == {t: r for t, r in before.items() if t != "inbox"}


async def test_worker__an_actors_update_is_applied_after_its_create_even_when_the_create_waits(world):
    # Given a followed actor sends a Create naming its Note by id (held open), then an Update of that Note
    author = await world.actor("author", followed=True)
    note = author.note("1", "<p>first</p>")
    create = await world.send(author, author.activity("Create", author.serve(note)))
    update = await world.send(author, author.activity("Update", note | {"content": "<p>edited</p>"}))
    # And another actor's post behind both
    friend = await world.actor("friend", followed=True)
    await world.send(friend, friend.activity("Create", friend.note("1", "<p>hello</p>")))
    worker = world.node.app[INBOX_WORKER]
    # When a step ends with the Create still waiting for its server
    assert await worker.run_once() == 2
    # Then the Update was not applied before it (not even looked at), while the other actor's post was stored
    assert (await world.row(create))[1:3] == (1, 0)
    assert await world.row(update) == (None, 0, 0, 0.0)
    assert await world.stored(note["id"]) is None
    assert await world.stored(friend.note("1", "")["id"]) == "<p>hello</p>"
    # And while the Create waits for its retry, the Update waits behind it
    assert await worker.run_once() == 0
    # When the server answers and the retry is due: the Create, then the Update
    author.release.set()
    world.node.advance(31)
    assert await worker.drain() == 2
    assert (await world.row(create))[0] == "stored"
    assert (await world.row(update))[0] == "updated"
    assert await world.stored(note["id"]) == "<p>edited</p>"


async def test_worker__one_actors_rows_run_in_order_beside_other_actors(world):
    # Given two followed actors, each sending a Create and then an Update of it, interleaved
    actors = [await world.actor(f"a{i}", followed=True) for i in range(2)]
    notes = [a.note("1", "<p>one</p>") for a in actors]
    for actor, note in zip(actors, notes, strict=True):
        await world.send(actor, actor.activity("Create", note))
    for actor, note in zip(actors, notes, strict=True):
        await world.send(actor, actor.activity("Update", note | {"content": "<p>two</p>"}))
    # When one step processes them side by side
    assert await world.node.app[INBOX_WORKER].run_once() == 4
    # Then each Update found its Create applied
    assert [await world.stored(n["id"]) for n in notes] == ["<p>two</p>", "<p>two</p>"]


async def test_worker__strangers_rows_hold_only_their_slots(world):
    # Given six Group followers nobody here follows, on six servers, each posting to the Group by reference
    posters = []
    for i in range(6):
        poster = await world.actor(f"poster{i}", followed=False)
        status, _ = await poster.post(world.session, world.node.base + "/inbox",
                                      poster.activity("Follow", world.node.group_id))
        assert status == 202
        posters.append(poster)
    await world.node.drain_inbox()
    await deliver_all(world.node)
    for poster in posters:
        note = poster.note(os.urandom(3).hex(), "<p>to the Group</p>", to=(world.node.group_id,))
        await world.send(poster, poster.activity("Create", poster.serve(note), to=[world.node.group_id]))
    # And a followed friend's post after them
    friend = await world.actor("friend", followed=True)
    post = friend.note("1", "<p>on time</p>")
    await world.send(friend, friend.activity("Create", post))
    # When a step runs with every poster's server held
    assert await world.node.app[INBOX_WORKER].run_once() == 7
    # Then every poster's fetch was made, never more than the strangers' slots at once, and the friend's post
    # is stored
    assert all(p.object_requests for p in posters)
    assert 1 <= world.in_flight.most <= STRANGER_SLOTS
    assert await world.stored(post["id"]) == "<p>on time</p>"
