"""Concurrency per host and overall, shared-inbox collapse, and the `congregation deliveries` report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import pytest

from node.clock import ManualClock
from node.commands.deliveries import cmd_deliveries
from node.db import transaction
from node.store import follows as follows_store
from node.store import remote
from node.store.posts import follower_inboxes
from node.store.remote import RemoteActor
from tests.delivery_fakes import ScriptedInbox, queue, worker_for


def _actor(uri: str, inbox: str, shared: str | None) -> RemoteActor:
    return RemoteActor(uri, "Person", None, uri.split("/")[2], inbox, shared, None, "", None)


@pytest.fixture
async def inboxes():
    made: list[ScriptedInbox] = []

    async def make(**kwargs) -> ScriptedInbox:
        made.append(await ScriptedInbox(**kwargs).start())
        return made[-1]

    yield make
    for actor in made:
        await actor.close()


@contextlib.asynccontextmanager
async def running(worker):
    task = asyncio.create_task(worker.run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_per_host_limit__slow_host_never_sees_more_than_n_at_once(node, inboxes):
    # Given 20 deliveries to one slow host that holds every request, and 5 to a quick one
    clock = ManualClock()
    slow = await inboxes(name="slow", gate=asyncio.Event())
    quick = await inboxes(name="quick")
    await queue(node, clock, [slow.inbox], n=20)
    await queue(node, clock, [quick.inbox], n=5)
    worker = worker_for(node, clock, per_host=4)
    async with running(worker):
        # When the worker runs, the slow host gets its 4 and the quick host is not held up by it
        await slow.wait_received(4)
        await quick.wait_received(5)
        assert slow.in_flight == 4
        # Then, released, the slow host drains through at most 4 at a time
        slow.gate.set()
        await slow.wait_received(20)
    assert slow.max_in_flight == 4
    assert len(slow.received) == 20
    assert len({r["activity"]["id"] for r in slow.received}) == 20


async def test_overall_limit__caps_requests_across_hosts(node, inboxes):
    clock = ManualClock()
    peers = [await inboxes(name=f"p{i}") for i in range(4)]
    await queue(node, clock, [p.inbox for p in peers], n=3)
    worker = worker_for(node, clock, per_host=4, concurrency=6)
    claimed = await worker.claim()
    assert len(claimed) == 6
    assert await worker.claim() == []


async def _followed_by(node, followers: list[RemoteActor]) -> None:
    async with transaction(node.db):
        for i, actor in enumerate(followers):
            await remote.upsert_actor(node.db, actor, "{}")
            await follows_store.upsert(node.db, actor.uri, node.group_id, f"{actor.uri}/follow/{i}", "accepted")


async def test_follower_inboxes__shared_inbox_once_per_host_else_personal(node):
    await _followed_by(node, [
        _actor("https://a.example/users/1", "https://a.example/users/1/inbox", "https://a.example/inbox"),
        _actor("https://a.example/users/2", "https://a.example/users/2/inbox", "https://a.example/inbox"),
        _actor("https://b.example/users/3", "https://b.example/users/3/inbox", None),
        _actor("https://b.example/users/4", "https://b.example/users/4/inbox", None),
    ])
    assert await follower_inboxes(node.db, node.group_id) == [
        "https://a.example/inbox", "https://b.example/users/3/inbox", "https://b.example/users/4/inbox"]


async def test_shared_inbox__three_followers_on_one_host_get_one_post(node, inboxes):
    clock = ManualClock()
    peer = await inboxes(name="peer")
    await _followed_by(node, [_actor(f"{peer.origin}/users/u{i}", f"{peer.origin}/users/u{i}/inbox",
                                     peer.origin + "/inbox") for i in range(3)])
    await queue(node, clock, await follower_inboxes(node.db, node.group_id))
    assert await worker_for(node, clock).drain() == 1
    assert [r["path"] for r in peer.received] == ["/inbox"]


async def test_deliveries_command__depth_and_failing_hosts(node, inboxes, capsys):
    clock = ManualClock()
    bad = await inboxes(name="bad", inbox_status=503)
    good = await inboxes(name="good")
    await queue(node, clock, [bad.inbox, good.inbox], n=2)
    await worker_for(node, clock).drain()
    assert await cmd_deliveries(argparse.Namespace(data=str(node.config.data_dir))) == 0
    out = capsys.readouterr().out
    assert "2 queued, 2 done, 0 failed" in out
    assert "oldest queued" in out
    assert f"{bad.origin[7:]}\tfailing for" in out and "last error: " in out
    assert good.origin[7:] not in out
