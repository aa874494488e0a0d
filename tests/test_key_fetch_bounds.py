"""Fetching an unknown key is work a stranger makes us do before we know who they are: it is bounded.

A keyId is any URL: without a bound, one unsigned POST was one GET from us to any server a stranger names (a
reflector), and slow servers named in many keyIds held every outbound connection, deliveries' included. Per key
host, fetches get the inbox's allowance; across hosts, only so many run at once. Past either: 429 and
Retry-After, so a real peer tries again; a cached key costs nothing and is never refused.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from node.activitypub import signatures
from node.activitypub.keys import MAX_KEY_FETCHES
from tests.fediverse import AS_JSON, InProcessNode, eventually, free_port, init_node, listening, pooled_key
from tests.resolver import LoopbackDNS

HOSTS = [f"h{i}.victim.test.example" for i in range(MAX_KEY_FETCHES + 5)]


@pytest.fixture
async def victim():
    """Someone else's server, slow when told to be: counts every request it gets, and how many at once."""
    state = {"seen": [], "open": 0, "most": 0, "release": asyncio.Event()}
    state["release"].set()

    async def answer(request: web.Request) -> web.Response:
        state["seen"].append(request.path)
        state["open"] += 1
        state["most"] = max(state["most"], state["open"])
        await state["release"].wait()
        state["open"] -= 1
        return web.Response(status=404)

    async with listening(answer) as port:
        yield port, state
        state["release"].set()


@pytest.fixture
async def guarded(tmp_path, victim):
    """A node with the SSRF guard on, whose DNS knows the victim under many names; a burst of 10 per key host."""
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example", inbox_rate_per_host=0.01,
                       inbox_burst_per_host=10)
    dns = LoopbackDNS().add("alpha.test.example", port)
    for host in HOSTS:
        dns.add(host, victim[0])
    node = await InProcessNode(config, resolver=dns).start()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns, limit=0)) as session:
        yield node, session
    await node.close()


async def _post(node: InProcessNode, session: aiohttp.ClientSession, key_id: str, n: int) -> tuple[int, str | None]:
    body = json.dumps({"id": f"http://stranger.test.example/{n}", "type": "Follow",
                       "actor": "http://stranger.test.example/u", "object": node.group_id}).encode()
    headers = signatures.sign("POST", node.base + "/inbox", key_id, pooled_key(), body, AS_JSON)
    async with session.post(node.base + "/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
        return r.status, r.headers.get("Retry-After")


async def test_unknown_keys_at_one_host__fetched_only_up_to_its_allowance(guarded, victim):
    node, session = guarded
    port, state = victim
    # When a stranger sends 30 POSTs, each naming another page of the victim's server as its key
    results = [await _post(node, session, f"http://{HOSTS[0]}:{port}/page/{n}#key", n) for n in range(30)]
    # Then the node fetched 10 of them (the per-host burst), and told the rest to come back later
    assert len(state["seen"]) == 10
    assert [status for status, _ in results] == [401] * 10 + [429] * 20
    assert all(int(retry) >= 1 for status, retry in results if status == 429)


async def test_unknown_keys_across_hosts__only_so_many_fetched_at_once(guarded, victim):
    node, session = guarded
    port, state = victim
    # Given the victim's server answering nobody until told to
    state["release"].clear()
    # When one key at each of more hosts than may be fetched at once is sent together
    tasks = [asyncio.create_task(_post(node, session, f"http://{host}:{port}/actor#key", n))
             for n, host in enumerate(HOSTS)]
    # Then the excess is refused at once, with the fetches under way still waiting
    await eventually(lambda: asyncio.sleep(0, (sum(task.done() for task in tasks), len(state["seen"]))
                                           == (5, MAX_KEY_FETCHES)))
    assert sorted(task.result()[0] for task in tasks if task.done()) == [429] * 5
    state["release"].set()
    assert sorted(status for status, _ in await asyncio.gather(*tasks)) == [401] * MAX_KEY_FETCHES + [429] * 5
    assert state["most"] == MAX_KEY_FETCHES
