"""The SSRF guard, on, with nodes reached by made-up names through a test resolver (tests/resolver.py).

The guard checks the host in the form the connector will use (yarl's IDNA normalisation) and, at the socket,
the very address about to be connected to; a test resolver vouches only for the loopback servers it maps.
"""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.netguard import AddressRefused, GuardedResolver
from node.appkeys import HTTP
from node.processing.follows import answer_request, follow
from node.processing.posts import publish_post
from node.store import local_actors
from tests.factories import exchange
from tests.fediverse import InProcessNode, free_port, init_node, listening
from tests.resolver import LoopbackDNS
from tests.webclient import make_member


@pytest.fixture
async def loopback():
    """A loopback server that logs every request it receives, whatever its path."""
    requests: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        requests.append(request.path)
        return web.json_response({"id": str(request.url), "type": "Note"}, content_type="application/activity+json")

    async with listening(answer) as port:
        yield port, requests


def client(resolver=None) -> HttpClient:
    return HttpClient(allow_private=False, max_bytes=1 << 20, connect_timeout=5.0, total_timeout=10.0,
                      max_redirects=3, resolver=resolver)


@pytest.mark.parametrize("host", [
    pytest.param("１２７．０．０．１", id="fullwidth-digits-and-dots"),
    pytest.param("①②⑦.0.0.①", id="circled-digits"),
    pytest.param("127。0。0。1", id="ideographic-full-stops"),
    pytest.param("１２７.0.0.1", id="fullwidth-digits"),
    pytest.param("ｌｏｃａｌｈｏｓｔ", id="fullwidth-localhost"),
    pytest.param("localhost.", id="localhost-trailing-dot"),
])
async def test_guard__unicode_spellings_of_loopback_refused_without_connecting(loopback, host):
    # Given a loopback server, and a host that yarl normalises to loopback
    port, requests = loopback
    http = client(LoopbackDNS())
    try:
        # When the node is asked to fetch from it
        with pytest.raises(FetchError, match="not a public address"):
            await http.get_json(f"http://{host}:{port}/actor")
    finally:
        await http.close()
    # Then nothing reached the server
    assert requests == []


async def test_guard__a_vouched_loopback_server_is_reached_only_by_its_mapped_name(loopback):
    # Given a test resolver that maps a made-up public name to the loopback server, and an alias it does not vouch
    port, requests = loopback
    dns = LoopbackDNS().add("alpha.test.example", port).alias("intranet.test.example", "127.0.0.1")
    http = client(dns)
    try:
        # Then the mapped name is reached, with the guard on
        document = await http.get_json(f"http://alpha.test.example:{port}/actor", sign=False)
        assert document["id"] == f"http://alpha.test.example:{port}/actor"
        # And neither the same server by its address nor a name the resolver does not vouch for
        for url in (f"http://127.0.0.1:{port}/literal", f"http://intranet.test.example:{port}/alias"):
            with pytest.raises(FetchError):
                await http.get_json(url, sign=False)
    finally:
        await http.close()
    assert requests == ["/actor"]


async def test_guard__the_socket_refuses_a_private_address_whatever_the_resolver_said():
    # Given a guard over a resolver that vouches for one loopback port only
    guard = GuardedResolver(False, LoopbackDNS().add("alpha.test.example", 8001))
    # Then a socket for another private address (or port) is refused before connecting, a public one is made
    for address, port in (("127.0.0.1", 8002), ("10.0.0.1", 80), ("::1", 8001), ("169.254.169.254", 80)):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with pytest.raises(AddressRefused):
            guard.socket_factory((family, socket.SOCK_STREAM, 6, "", (address, port)))
    for address, port in (("127.0.0.1", 8001), ("93.184.215.14", 443)):
        guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))).close()


async def test_two_nodes__guard_on__a_follow_and_a_post_travel_by_made_up_names(tmp_path):
    # Given two nodes at http://alpha.test.example:PORT and http://beta.test.example:PORT, serving on loopback,
    # each with its own clock and its own test resolver, the SSRF guard on
    ports = {"alpha": free_port(), "beta": free_port()}
    nodes = {}
    for name, port in ports.items():
        config = init_node(tmp_path / name, port, name.title(), host=f"{name}.test.example")
        assert config.allow_private_addresses is False
        dns = LoopbackDNS()
        for other, other_port in ports.items():
            dns.add(f"{other}.test.example", other_port)
        nodes[name] = await InProcessNode(config, resolver=dns).start()
    a, b = nodes["alpha"], nodes["beta"]
    try:
        assert a.clock is not b.clock
        # When A's Group follows B's Group by its URL, B approves (a Group's request waits for it), and B's member
    # posts in public
        group_a = await local_actors.group(a.db)
        result = await follow(a.db, a.config, group_a, a.app[HTTP], b.group_id)
        assert not result.already
        await exchange(a, b)
        pending = "SELECT id FROM follows WHERE follower = ? AND state = 'pending'"
        async with b.db.execute(pending, (a.group_id,)) as cur:
            (request,) = await cur.fetchone()
        await answer_request(b.db, b.config, await local_actors.group(b.db), b.app[HTTP], request, accept=True)
        await exchange(a, b)
        assert await a.count("follows", "follower = ? AND followee = ? AND state = 'accepted'", a.group_id,
                             b.group_id) == 1
        await make_member(b, "bea")
        post = await publish_post(b.db, b.config, await local_actors.by_username(b.db, "bea"), "Hello from Beta",
                                  "public")
        await exchange(a, b)
        # Then the post reached A, through the guard
        assert await a.count("remote_objects", "uri LIKE ? AND type = 'Note'", f"%/{post.uuid}") == 1
        # And A's guard is still on: B's server by its loopback address is refused
        with pytest.raises(FetchError, match="not a public address"):
            await a.app[HTTP].get_json(f"http://127.0.0.1:{ports['beta']}/actors/group")
    finally:
        await a.close()
        await b.close()
