"""Strangers' key fetches have a pool of their own: filling it starves nobody else (issue 12, point 5).

The attack: 200 unsigned POSTs naming silent key servers in their keyIds held all 100 outbound connections for
30 s; a real peer's Follow got 401 and a delivery fell into backoff. Here 200 silent servers (one loopback server
under 200 made-up names, each its own registrable domain, the SSRF guard on) are held open by an event the test
controls, and asserted by cause and order: while the strangers' pool is full, a known peer's key is fetched and
its Follow accepted, and a delivery goes out and is done; the strangers past the pool's size were answered 503 +
Retry-After at once, and nothing of theirs was stored.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import aiohttp
import pytest
from aiohttp import web

from node.activitypub import signatures
from node.activitypub.clients import STRANGER_FETCHES
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.keys import STRANGER_PER_CLIENT, STRANGER_PER_DOMAIN
from node.activitypub.netguard import OwnThreadsResolver
from node.appkeys import DELIVERY, HTTP, KEYS
from node.processing.follows import follow
from node.store import local_actors
from tests.fediverse import AS_JSON, InProcessNode, free_port, init_node, listening, pooled_key
from tests.resolver import LoopbackDNS
from tests.strangers import clients, silent_server, stranger_addresses, stranger_post, until_done

SILENT = [f"silent{i}.example" for i in range(200)]


@pytest.fixture
async def world(tmp_path):
    """Alpha (under attack) and Beta (a real peer), each under a made-up name; 200 silent key servers."""
    async with silent_server() as (silent_port, silent):
        dns = LoopbackDNS()
        alpha_port, beta_port = free_port(), free_port()
        dns.add("alpha.test.example", alpha_port).add("beta.test.example", beta_port)
        for name in SILENT:
            dns.add(name, silent_port)
        alpha = await InProcessNode(init_node(tmp_path / "alpha", alpha_port, "Alpha", host="alpha.test.example"),
                                    resolver=dns).start()
        beta = await InProcessNode(init_node(tmp_path / "beta", beta_port, "Beta", host="beta.test.example"),
                                   resolver=dns).start()
        try:
            yield alpha, beta, dns, silent_port, silent
        finally:
            silent.release.set()
            await beta.close()
            await alpha.close()


async def _flood(alpha: InProcessNode, sessions: list[aiohttp.ClientSession], port: int) -> list[asyncio.Task]:
    """200 POSTs, each naming another silent server's key, spread over the client sessions."""
    return [asyncio.create_task(stranger_post(alpha, sessions[n % len(sessions)], f"http://{host}:{port}/k#key", n))
            for n, host in enumerate(SILENT)]


async def test_a_full_strangers_pool__a_known_peer_and_a_delivery_go_through(world):
    alpha, beta, dns, port, silent = world
    keys = alpha.app[KEYS]
    # Given Alpha follows Beta: Beta's Group is an actor Alpha holds (its key is not cached: none was needed yet)
    await follow(alpha.db, alpha.config, await local_actors.group(alpha.db), alpha.app[HTTP], beta.group_id)
    assert await alpha.count("remote_keys") == 0
    assert await alpha.count("deliveries", "state = 'queued'") == 1
    before = await alpha.snapshot()

    # When 200 strangers, from 25 addresses, send POSTs whose keys are on 200 silent servers
    async with clients(dns, stranger_addresses(25)) as sessions:
        flood = await _flood(alpha, sessions, port)
        # Then the pool's worth are being fetched, held open, and every other one was answered at once:
        # 503 (our capacity, not their fault) with a Retry-After
        await until_done(flood, len(SILENT) - STRANGER_FETCHES)
        await silent.holding(STRANGER_FETCHES)
        refused = [task.result() for task in flood if task.done()]
        assert refused == [(503, "5")] * (len(SILENT) - STRANGER_FETCHES)
        assert len(silent.seen) == STRANGER_FETCHES and keys.stranger_slots.used == STRANGER_FETCHES
        # And the operator sees the pool full in /metrics
        async with sessions[0].get(alpha.base + "/metrics") as response:
            scraped = await response.text()
        assert f'congregation_key_fetches{{pool="strangers",what="in_flight"}} {STRANGER_FETCHES}.0' in scraped
        assert 'congregation_key_fetches{pool="known",what="in_flight"} 0.0' in scraped
        # And a signed GET (of the decision log, which reads the signer) naming another silent key is told the
        # same, not queued
        log_url = alpha.group_id + "/decisions"
        headers = {**signatures.sign("GET", log_url, f"http://{SILENT[0]}:{port}/other#key", pooled_key()),
                   "Accept": AS_JSON}
        async with sessions[0].get(log_url, headers=headers) as response:
            assert (response.status, response.headers.get("Retry-After")) == (503, "5")
        # And nothing of theirs was stored
        assert await alpha.snapshot() == before

        # When, with the pool still full, Alpha's delivery (the Follow) goes out to Beta
        assert await alpha.run_deliveries() == 1
        # Then it is done: deliveries have connections of their own
        assert await alpha.count("deliveries", "state = 'done'") == 1
        assert silent.open == STRANGER_FETCHES

        # When Beta follows back: its Follow reaches Alpha signed with a key Alpha has never fetched
        await beta.drain_inbox()
        await follow(beta.db, beta.config, await local_actors.group(beta.db), beta.app[HTTP], alpha.group_id)
        assert await beta.run_deliveries() == 1
        # Then Alpha fetched Beta's key through the known peers' pool, and took the Follow (202): Beta's
        # delivery is done, and Alpha records the request once its worker has run
        assert await beta.count("deliveries", "state = 'done'") == 1
        assert await alpha.count("remote_keys") >= 1
        await alpha.drain_inbox()
        assert await alpha.count("follows", "follower = ? AND followee = ?", beta.group_id, alpha.group_id) == 1
        # All of that while the strangers' pool was full the whole time
        assert silent.open == STRANGER_FETCHES and len(silent.seen) == STRANGER_FETCHES
        middle = await alpha.snapshot()

        # When the silent servers finally answer (404)
        silent.release.set()
        results = await asyncio.gather(*flood)
        # Then the fetched ones are refused with the generic 401, nothing of theirs is stored, and the pool drains
        assert sorted(status for status, _ in results) == [401] * STRANGER_FETCHES + [503] * (200 - STRANGER_FETCHES)
        assert keys.stranger_slots.used == 0
        assert await alpha.snapshot() == middle
        # And a new stranger's key is fetched again (401 once it is not found), not refused
        assert (await stranger_post(alpha, sessions[0], f"http://{SILENT[0]}:{port}/again#key", 1000))[0] == 401
        assert len(silent.seen) == STRANGER_FETCHES + 1


@pytest.fixture
async def proxied(tmp_path):
    """A node behind a proxy it trusts (on 127.0.0.1), which forwards each client's address; the silent servers."""
    async with silent_server() as (silent_port, silent):
        port = free_port()
        dns = LoopbackDNS().add("proxied.test.example", port)
        for name in SILENT:
            dns.add(name, silent_port)
        config = init_node(tmp_path / "proxied", port, "Proxied", host="proxied.test.example",
                           trusted_proxies="127.0.0.1")
        node = await InProcessNode(config, resolver=dns).start()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns, limit=0)) as session:
                yield node, session, silent_port, silent
        finally:
            silent.release.set()
            await node.close()


async def test_many_addresses_of_one_ipv6_64__one_client(proxied):
    """Behind a trusted proxy, 20 addresses of one /64 (one host holds a whole /64) are one client."""
    node, session, port, silent = proxied
    before = await node.snapshot()

    def post(n: int, forwarded_for: str) -> asyncio.Task:
        return asyncio.create_task(stranger_post(node, session, f"http://{SILENT[n]}:{port}/k#key", n,
                                                 headers={"X-Forwarded-For": forwarded_for}))

    # When 20 addresses of one /64 send keys of 20 silent servers at once
    tasks = [post(n, f"2001:db8:1:2::{n + 1:x}") for n in range(20)]
    # Then that client has its share waiting, and the rest is refused before anything is fetched for it
    await until_done(tasks, 20 - STRANGER_PER_CLIENT)
    await silent.holding(STRANGER_PER_CLIENT)
    assert {task.result() for task in tasks if task.done()} == {(429, "5")}
    assert len(silent.seen) == STRANGER_PER_CLIENT
    # While another /64 is another client: its key is fetched
    other = post(50, "2001:db8:1:3::1")
    await silent.holding(STRANGER_PER_CLIENT + 1)
    # And an address the client wrote left of the proxy's own hop is not believed
    assert await stranger_post(node, session, f"http://{SILENT[51]}:{port}/k#key", 51,
                               headers={"X-Forwarded-For": "2001:db8:9::1, 2001:db8:1:2::99"}) == (429, "5")
    silent.release.set()
    statuses = sorted(s for s, _ in await asyncio.gather(*tasks, other))
    assert statuses == [401] * (STRANGER_PER_CLIENT + 1) + [429] * (20 - STRANGER_PER_CLIENT)
    assert await node.snapshot() == before


async def test_keys_redirecting_to_one_slow_host__only_its_share(world):
    """Keys at 20 domains all redirect to one slow host: the host gets its domain's share, not the pool."""
    alpha, beta, dns, port, silent = world

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://slow.example:{port}/actor")

    async with listening(redirect) as redirector:
        for n in range(20):
            dns.add(f"mirror{n}.example", redirector)
        dns.add("slow.example", port)
        before = await alpha.snapshot()
        async with clients(dns, stranger_addresses(5)) as sessions:
            tasks = [asyncio.create_task(stranger_post(alpha, sessions[n % 5], f"http://mirror{n}.example:{redirector}"
                                                       f"/k#key", n)) for n in range(20)]
            # Then the slow host holds only its domain's share; every other fetch gave up on the redirect at once
            await until_done(tasks, 20 - STRANGER_PER_DOMAIN)
            await silent.holding(STRANGER_PER_DOMAIN)
            assert set(silent.seen) == {"slow.example"} and len(silent.seen) == STRANGER_PER_DOMAIN
            assert {task.result() for task in tasks if task.done()} == {(401, None)}
            assert alpha.app[KEYS].stranger_slots.used == STRANGER_PER_DOMAIN
            silent.release.set()
            await asyncio.gather(*tasks)
        assert alpha.app[KEYS].stranger_slots.used == 0
        assert await alpha.snapshot() == before


async def test_every_pool_keeps_the_ssrf_guard(world):
    """Four pools, one guard: a name resolving inside, or an address written inside, is refused by each."""
    alpha, beta, dns, port, silent = world
    dns.alias("inside.example", "127.0.0.1")
    pools = [alpha.app[HTTP], alpha.app[DELIVERY].client, alpha.app[KEYS].client, alpha.app[KEYS].strangers]
    assert len({id(client) for client in pools}) == 4  # general, deliveries, known peers' keys, strangers' keys
    for client in pools:
        for url in (f"http://inside.example:{port}/actor", f"http://127.0.0.1:{port}/actor",
                    f"http://[::ffff:127.0.0.1]:{port}/actor"):
            with pytest.raises(FetchError):
                await client.get_json(url)
            with pytest.raises(FetchError):
                await client.post(url, b"{}")
    assert silent.seen == []


async def test_strangers_dns_has_threads_of_its_own():
    """A name whose DNS never answers holds a thread for the system resolver's whole timeout: strangers' names are
    looked up on threads of their own, and the loop's (every other lookup's) stay free."""
    gate = threading.Event()

    def silent_dns(*args):  # the fault: a DNS server that does not answer (the system resolver cannot be pointed)
        gate.wait(30)
        raise socket.gaierror("no answer")

    resolver = OwnThreadsResolver(2, getaddrinfo=silent_dns)
    lookups = [asyncio.create_task(resolver.resolve(f"s{i}.silent.example", 80)) for i in range(40)]
    try:
        await asyncio.sleep(0)  # one turn of the loop: each task hands its lookup over (no time passes)
        async with asyncio.timeout(5):  # only ever reached if the loop's threads were taken
            assert await asyncio.get_running_loop().getaddrinfo("localhost", 80)
    finally:
        gate.set()
        assert all(isinstance(r, socket.gaierror) for r in await asyncio.gather(*lookups, return_exceptions=True))
        await resolver.close()


async def test_strangers_dns__answers_the_connector_can_use():
    """The strangers' resolver with the real getaddrinfo, behind the guard, through a real connection."""
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"id": str(request.url)}, content_type=AS_JSON)

    async with listening(answer) as port:
        client = HttpClient(allow_private=True, max_bytes=1 << 16, connect_timeout=3, total_timeout=5,
                            max_redirects=0, resolver=OwnThreadsResolver(1))
        try:
            assert await client.get_json(f"http://localhost:{port}/actor", check_id=False)
        finally:
            await client.close()
