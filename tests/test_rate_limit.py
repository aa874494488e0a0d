"""A host that floods the inbox gets 429 + Retry-After past its allowance; other hosts are unaffected."""

from __future__ import annotations

import asyncio
import json

from node.activitypub.ratelimit import HostRateLimiter


def test_rate_limiter__burst_then_refill():
    now = [0.0]
    limiter = HostRateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("a.example") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a.example") == 0.5
    assert limiter.take("b.example") == 0.0
    now[0] = 0.5
    assert limiter.take("a.example") == 0.0


async def test_inbox__burst_of_1000_from_one_host_gets_429_others_unaffected(node, make_remote, session):
    flooder, neighbour = await make_remote("flooder"), await make_remote("neighbour")
    activities = [flooder.activity("Like", node.group_id) for _ in range(1000)]
    signed = [(a, flooder.signed_headers("POST", node.base + "/inbox", json.dumps(a).encode()))
              for a in activities]
    gate = asyncio.Semaphore(50)

    async def send(activity, headers):
        async with gate:
            body = json.dumps(activity).encode()
            async with session.post(node.base + "/inbox", data=body, headers=headers) as r:
                return r.status, r.headers.get("Retry-After")

    results = await asyncio.gather(*(send(a, h) for a, h in signed))
    statuses = [s for s, _ in results]
    allowance = node.config.inbox_burst_per_host
    # The burst allowance, plus what refilled while the burst was being sent, got through.
    assert allowance <= statuses.count(202) < allowance + 200
    assert statuses.count(429) == 1000 - statuses.count(202)
    assert all(int(retry) >= 1 for s, retry in results if s == 429)
    assert await node.count("inbox", "actor = ?", flooder.id) == statuses.count(202)

    status, _ = await neighbour.post(session, node.base + "/inbox", neighbour.activity("Like", node.group_id))
    assert status == 202
