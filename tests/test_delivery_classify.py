"""Each kind of answer from an inbox leads to one outcome: done, refused for good, or retried later."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from node.activitypub.delivery import MAX_BACKOFF
from node.clock import ManualClock
from node.db import transaction
from node.store import follows, remote
from tests.delivery_fakes import ScriptedInbox, queue, row, worker_for
from tests.fediverse import free_port


@pytest.fixture
async def inbox():
    actor = await ScriptedInbox(name="peer").start()
    yield actor
    await actor.close()


@pytest.mark.parametrize("status", [200, 202])
async def test_delivery__2xx_is_done(node, inbox, status):
    clock = ManualClock()
    inbox.inbox_status = status
    await queue(node, clock, [inbox.inbox])
    assert await worker_for(node, clock).run_once() == 1
    r = await row(node)
    assert (r["state"], r["attempts"], r["last_status"]) == ("done", 1, status)
    assert len(inbox.received) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_delivery__refusals_are_final(node, inbox, status):
    clock = ManualClock()
    inbox.inbox_status = status
    await queue(node, clock, [inbox.inbox])
    worker = worker_for(node, clock)
    await worker.run_once()
    r = await row(node)
    assert (r["state"], r["attempts"], r["last_status"]) == ("failed", 1, status)
    clock.advance(30 * 24 * 3600)
    assert await worker.run_once() == 0


async def test_delivery__410_from_a_personal_inbox_drops_that_follower(node, inbox):
    # Given the remote actor follows the Group, and another follow of theirs that is not ours
    clock = ManualClock()
    inbox.inbox_status = 410
    actor = remote.RemoteActor(inbox.id, "Person", "peer", inbox.origin[7:], inbox.inbox, inbox.origin + "/inbox",
                               "Peer", "2024-01-01T00:00:00Z", None)
    async with transaction(node.db):
        await remote.upsert_actor(node.db, actor, "{}")
        await follows.upsert(node.db, inbox.id, node.group_id, inbox.origin + "/f1", "accepted")
        await follows.upsert(node.db, inbox.id, "https://elsewhere.example/users/x", inbox.origin + "/f2", "accepted")
    await queue(node, clock, [inbox.inbox])
    # When its personal inbox answers 410 Gone
    await worker_for(node, clock).run_once()
    # Then the delivery is final and the actor no longer follows anyone here
    assert (await row(node))["state"] == "failed"
    assert await node.count("follows", "follower = ? AND followee = ?", inbox.id, node.group_id) == 0
    assert await node.count("follows", "follower = ?", inbox.id) == 1


async def test_delivery__410_from_a_shared_inbox_drops_nobody(node, inbox):
    clock = ManualClock()
    inbox.inbox_status = 410
    actor = remote.RemoteActor(inbox.id, "Person", "peer", inbox.origin[7:], inbox.inbox, inbox.origin + "/inbox",
                               "Peer", "2024-01-01T00:00:00Z", None)
    async with transaction(node.db):
        await remote.upsert_actor(node.db, actor, "{}")
        await follows.upsert(node.db, inbox.id, node.group_id, inbox.origin + "/f1", "accepted")
    await queue(node, clock, [inbox.origin + "/inbox"])
    await worker_for(node, clock).run_once()
    assert await node.count("follows") == 1


@pytest.mark.parametrize("status", [401, 408, 429, 500, 502, 503])
async def test_delivery__transient_answers_are_retried_with_backoff(node, inbox, status):
    clock = ManualClock()
    inbox.inbox_status = status
    await queue(node, clock, [inbox.inbox])
    await worker_for(node, clock).run_once()
    r = await row(node)
    assert (r["state"], r["attempts"], r["last_status"]) == ("queued", 1, status)
    # First retry after 30 s ± 20 % jitter
    assert clock.now() + 24 <= r["next_attempt_at"] <= clock.now() + 36


async def test_delivery__connection_refused_is_retried(node):
    clock = ManualClock()
    await queue(node, clock, [f"http://127.0.0.1:{free_port()}/inbox"])
    await worker_for(node, clock).run_once()
    r = await row(node)
    assert (r["state"], r["attempts"], r["last_status"]) == ("queued", 1, None)
    assert "cannot post" in r["last_error"]
    assert clock.now() + 24 <= r["next_attempt_at"] <= clock.now() + 36


@pytest.mark.parametrize("retry_after, expected", [("120", 120), ("3600", 3600), ("999999", MAX_BACKOFF)])
async def test_delivery__429_retry_after_seconds_honoured_and_capped(node, inbox, retry_after, expected):
    clock = ManualClock()
    inbox.inbox_status, inbox.headers = 429, {"Retry-After": retry_after}
    await queue(node, clock, [inbox.inbox])
    await worker_for(node, clock).run_once()
    r = await row(node)
    assert r["state"] == "queued" and r["next_attempt_at"] == pytest.approx(clock.now() + expected, abs=0.01)


async def test_delivery__503_retry_after_http_date_honoured(node, inbox):
    clock = ManualClock(start=1_800_000_000.0)
    inbox.inbox_status, inbox.headers = 503, {"Retry-After": formatdate(clock.now() + 900, usegmt=True)}
    await queue(node, clock, [inbox.inbox])
    await worker_for(node, clock).run_once()
    r = await row(node)
    assert r["state"] == "queued" and r["next_attempt_at"] == pytest.approx(clock.now() + 900, abs=1.0)


async def test_delivery__short_retry_after_does_not_shorten_backoff(node, inbox):
    clock = ManualClock()
    inbox.inbox_status, inbox.headers = 429, {"Retry-After": "1"}
    await queue(node, clock, [inbox.inbox])
    await worker_for(node, clock).run_once()
    assert (await row(node))["next_attempt_at"] >= clock.now() + 24


async def test_delivery__a_row_is_not_resent_before_it_is_due(node, inbox):
    clock = ManualClock()
    inbox.inbox_status = 503
    await queue(node, clock, [inbox.inbox])
    worker = worker_for(node, clock)
    await worker.run_once()
    clock.advance(20)
    assert await worker.run_once() == 0
    clock.advance(20)
    assert await worker.run_once() == 1
    assert (await row(node))["attempts"] == 2
