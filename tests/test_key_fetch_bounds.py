"""Fetching an unknown key is work a stranger makes us do before we know who they are: it is bounded.

A keyId is any URL: without a bound, one unsigned POST was one GET from us to any server a stranger names (a
reflector), and slow servers named in many keyIds held every outbound connection, deliveries' included. Per key
host (and its registrable domain) and per client address, fetches get the inbox's allowance: past it, 429 and
Retry-After. A stranger's key is fetched in a pool of its own: only so many at once, one domain only its share,
one client only so many fetched at once; past the pool, 503 and Retry-After, so a real peer tries again. A cached key
costs nothing and is never refused. (tests/test_stranger_pool.py: who never waits behind strangers.)
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from node.activitypub import signatures
from node.activitypub.clients import STRANGER_FETCHES
from node.activitypub.keys import STRANGER_PER_CLIENT, STRANGER_PER_DOMAIN
from node.appkeys import KEYS, RESOLVER
from tests.fediverse import AS_JSON, InProcessNode, free_port, init_node, pooled_key
from tests.resolver import LoopbackDNS
from tests.strangers import clients, silent_server, stranger_addresses, until_done

# Names under one registrable domain (victim.example), and names each of a registrable domain of its own.
HOSTS = [f"h{i}.victim.example" for i in range(12)]
DOMAINS = [f"victim{i}.example" for i in range(STRANGER_FETCHES + 5)]


@pytest.fixture
async def victim():
    """Someone else's server, slow when told to be: counts every request it gets, and how many at once."""
    async with silent_server() as (port, state):
        state.release.set()
        yield port, state


@pytest.fixture
async def guarded(tmp_path, victim):
    """A node with the SSRF guard on, whose DNS knows the victim under many names; a burst of 10 per key host."""
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example", inbox_rate_per_host=0.01,
                       inbox_burst_per_host=10)
    dns = LoopbackDNS().add("alpha.test.example", port)
    for host in HOSTS + DOMAINS:
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
    assert len(state.seen) == 10
    assert [status for status, _ in results] == [401] * 10 + [429] * 20
    assert all(int(retry) >= 1 for status, retry in results if status == 429)


async def test_unknown_keys_across_hosts__only_so_many_fetched_at_once(guarded, victim):
    node, session = guarded
    port, state = victim
    # Given the victim's server, under names of many registrable domains, answering nobody until told to
    state.release.clear()
    # When more keys than the strangers' pool holds are sent together, from eight client addresses
    async with clients(node.app[RESOLVER], stranger_addresses(8)) as sessions:
        tasks = [asyncio.create_task(_post(node, sessions[n % 8], f"http://{host}:{port}/actor#key", n))
                 for n, host in enumerate(DOMAINS)]
        # Then the excess is refused at once (503: the pool is full, not the senders' fault), the fetches under way
        # still waiting
        await until_done(tasks, 5)
        await state.holding(STRANGER_FETCHES)
        assert len(state.seen) == STRANGER_FETCHES
        assert sorted(task.result() for task in tasks if task.done()) == [(503, "5")] * 5
        state.release.set()
        assert sorted(status for status, _ in await asyncio.gather(*tasks)) == [401] * STRANGER_FETCHES + [503] * 5
    assert state.most == STRANGER_FETCHES


async def test_unknown_keys__one_client_address_has_only_so_many_fetched(guarded, victim):
    node, session = guarded
    port, state = victim
    state.release.clear()
    # When one client sends keys of many domains at once, more than one client may have waiting
    tasks = [asyncio.create_task(_post(node, session, f"http://{host}:{port}/actor#key", n))
             for n, host in enumerate(DOMAINS[:STRANGER_PER_CLIENT + 3])]
    # Then only its share is fetched, the rest is told to slow down before anything is fetched for it
    await until_done(tasks, 3)
    await state.holding(STRANGER_PER_CLIENT)
    assert len(state.seen) == STRANGER_PER_CLIENT
    assert [task.result()[0] for task in tasks if task.done()] == [429] * 3
    state.release.set()
    await asyncio.gather(*tasks)


async def test_unknown_keys__one_domain_has_only_its_share_of_the_pool(guarded, victim):
    node, session = guarded
    port, state = victim
    state.release.clear()
    # When keys at many names under one registrable domain (wildcard DNS) are sent at once, from many clients
    async with clients(node.app[RESOLVER], stranger_addresses(len(HOSTS))) as sessions:
        tasks = [asyncio.create_task(_post(node, sessions[n], f"http://{host}:{port}/actor#key", n))
                 for n, host in enumerate(HOSTS)]
        # Then that domain gets its fair share of the pool, and the rest of the pool stays free for other domains
        await until_done(tasks, len(HOSTS) - STRANGER_PER_DOMAIN)
        await state.holding(STRANGER_PER_DOMAIN)
        assert len(state.seen) == STRANGER_PER_DOMAIN
        assert {task.result() for task in tasks if task.done()} == {(503, "5")}
        assert node.app[KEYS].stranger_slots.used == STRANGER_PER_DOMAIN
        state.release.set()
        await asyncio.gather(*tasks)
    assert node.app[KEYS].stranger_slots.used == 0
