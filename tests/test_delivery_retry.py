"""Backoff over days on a test-controlled clock: growth, the 6 h cap, the 7-day give-up, the host breaker."""

from __future__ import annotations

import itertools
import random

import pytest

from node.activitypub.delivery import GIVE_UP_AFTER, MAX_BACKOFF, next_delay, parse_retry_after
from node.clock import ManualClock
from node.store import hosts
from node.store.deliveries import next_due
from tests.delivery_fakes import ScriptedInbox, host_row, queue, row, worker_for

DAY = 24 * 3600.0


@pytest.fixture
async def inbox():
    actor = await ScriptedInbox(name="peer", inbox_status=503).start()
    yield actor
    await actor.close()


def test_next_delay__doubles_then_caps_near_six_hours():
    rng = random.Random(1)
    delays = [next_delay(n, rng=rng) for n in range(30)]
    assert 24 <= delays[0] <= 36
    assert all(d <= MAX_BACKOFF for d in delays)
    assert all(d >= 0.8 * MAX_BACKOFF for d in delays[10:])
    assert next_delay(3, retry_after=10 * DAY) == MAX_BACKOFF


def test_parse_retry_after__seconds_date_and_garbage():
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Thu, 01 Jan 2030 00:00:00 GMT", 1893455940.0) == 60
    assert parse_retry_after("Thu, 01 Jan 2015 00:00:00 GMT", 1893455940.0) == 0
    assert parse_retry_after("soon", 0) is None and parse_retry_after(None, 0) is None


async def _step_to_next(worker, node, clock) -> int:
    """Advance the clock to when the worker next has work, and do it."""
    clock.value = max(clock.value, await next_due(node.db))
    return await worker.run_once()


async def test_backoff__delays_grow_between_attempts(node, inbox):
    clock = ManualClock()
    await queue(node, clock, [inbox.inbox])
    worker = worker_for(node, clock)
    gaps = []
    for _ in range(8):
        before = clock.now()
        assert await _step_to_next(worker, node, clock) == 1
        gaps.append((await row(node))["next_attempt_at"] - max(before, clock.now()))
    assert all(b > a for a, b in itertools.pairwise(gaps)), gaps
    assert gaps[-1] <= MAX_BACKOFF


async def test_give_up__only_after_seven_days(node, inbox):
    # Given an inbox that answers 503 forever
    clock = ManualClock()
    created = clock.now()
    await queue(node, clock, [inbox.inbox])
    worker = worker_for(node, clock)
    # When the clock runs on, hour by hour, for nine days
    gave_up_at = None
    while clock.now() < created + 9 * DAY:
        clock.advance(3600)
        await worker.run_once()
        if (await row(node))["state"] != "queued":
            gave_up_at = clock.now()
            break
    # Then the row failed, no sooner than 7 days after it was created, and not much later
    r = await row(node)
    assert r["state"] == "failed" and "7 days" in r["last_error"]
    assert created + GIVE_UP_AFTER <= gave_up_at <= created + GIVE_UP_AFTER + MAX_BACKOFF + 3600


async def test_breaker__host_failing_a_day_is_unavailable_probed_and_recovers(node, inbox):
    clock = ManualClock()
    host = inbox.origin[len("http://"):]
    await queue(node, clock, [inbox.inbox])
    worker = worker_for(node, clock)
    # Given every attempt fails for a day
    while not (await host_row(node, host) or {}).get("unavailable"):
        assert await _step_to_next(worker, node, clock) == 1
    state = await host_row(node, host)
    assert state["last_failure_at"] - state["first_failure_at"] >= DAY
    # When more activities are queued for it, nothing is sent until the probe is due
    await queue(node, clock, [inbox.inbox], n=3)
    assert await worker.run_once() == 0
    clock.value = state["next_probe_at"] - 1
    assert await worker.run_once() == 0
    # Then exactly one probe goes out per interval, and fails
    sent = len(inbox.received)
    clock.value = state["next_probe_at"]
    assert await worker.run_once() == 1
    assert len(inbox.received) == sent + 1
    assert await worker.run_once() == 0
    assert (await host_row(node, host))["next_probe_at"] == pytest.approx(clock.now() + hosts.PROBE_EVERY)
    # When the host is back and the next probe succeeds
    inbox.inbox_status = 202
    clock.advance(hosts.PROBE_EVERY)
    assert await worker.run_once() == 1
    # Then the host is reset and its whole queue is due at once
    state = await host_row(node, host)
    assert (state["unavailable"], state["first_failure_at"]) == (0, None)
    assert await worker.drain() == 3
    assert await node.count("deliveries", "state = 'done'") == 4


async def test_breaker__host_seen_alive_resets_and_makes_queue_due(node, inbox):
    clock = ManualClock()
    host = inbox.origin[len("http://"):]
    await queue(node, clock, [inbox.inbox], n=2)
    worker = worker_for(node, clock)
    while not (await host_row(node, host) or {}).get("unavailable"):
        await _step_to_next(worker, node, clock)
    assert await worker.run_once() == 0
    # When a verified signed request arrives from that host
    inbox.inbox_status = 202
    await worker.peer_seen_alive(host.upper())
    # Then its deliveries go out now, without waiting for a probe
    assert (await host_row(node, host))["unavailable"] == 0
    assert await worker.run_once() == 2
    assert await node.count("deliveries", "state = 'done'") == 2


async def test_breaker__seen_alive_for_a_healthy_host_writes_nothing(node, inbox):
    clock = ManualClock()
    worker = worker_for(node, clock)
    await worker.peer_seen_alive("healthy.example")
    assert await host_row(node, "healthy.example") is None


async def test_give_up__rows_of_an_unavailable_host_expire_after_seven_days(node, inbox):
    # Given a host that became unavailable with three rows queued for it
    clock = ManualClock()
    created = clock.now()
    await queue(node, clock, [inbox.inbox], n=3)
    host = inbox.origin[len("http://"):]
    worker = worker_for(node, clock)
    while not (await host_row(node, host) or {}).get("unavailable"):
        await _step_to_next(worker, node, clock)
    # When the clock runs on, hour by hour (only probes go out meanwhile)
    while await node.count("deliveries", "state = 'queued'"):
        assert clock.now() < created + GIVE_UP_AFTER + 2 * 3600
        clock.advance(3600)
        await worker.run_once()
    # Then all three are given up at seven days, whether or not they were the probe
    assert clock.now() >= created + GIVE_UP_AFTER
    assert await node.count("deliveries", "state = 'failed' AND last_error LIKE 'gave up after 7 days%'") == 3
