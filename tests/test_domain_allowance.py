"""Wildcard DNS hands out names for free, registrable domains it does not (issue 12, point 10).

Each subdomain of a wildcard domain used to get a fresh per-host allowance. Now every host under one registrable
domain (the Public Suffix List, bundled) also draws on one larger allowance of that domain, for inbox POSTs and for
the unknown keys we fetch; two owners under a public suffix (`a.github.io`, `b.github.io`) are two domains, an IP
address is its own (IPv6: its /64), and a sibling Congregation has an allowance of its own that no stranger under
its domain draws down.
"""

from __future__ import annotations

import json
import os

import aiohttp
import pytest
from aiohttp import web

from node.activitypub import signatures
from node.activitypub.ratelimit import Allowance
from node.activitypub.remote_actors import fetch_remote_actor
from node.appkeys import HTTP
from node.db import transaction
from node.domains import address_block, registrable_domain
from node.store import follows
from tests.fediverse import AS_JSON, InProcessNode, free_port, init_node, listening, pooled_key
from tests.resolver import LoopbackDNS
from tests.strangers import clients, stranger_addresses


class Wildcard:
    """A server answering for any name under it (wildcard DNS): an actor at every /users/NAME, all with one key."""

    def __init__(self) -> None:
        self.key = pooled_key()
        self.port = 0
        self.fetched: list[str] = []

    def actor(self, host: str, name: str = "u") -> str:
        return f"http://{host}:{self.port}/users/{name}"

    async def answer(self, request: web.Request) -> web.Response:
        if request.method != "GET" or not request.path.startswith("/users/"):
            return web.Response(status=202 if request.method == "POST" else 404)
        self.fetched.append(request.host.partition(":")[0])
        name = request.path.rsplit("/", 1)[-1]
        uri = f"http://{request.host}/users/{name}"
        return web.json_response({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": uri, "type": "Group" if name == "group" else "Person", "preferredUsername": name,
            "inbox": uri + "/inbox", "outbox": uri + "/outbox", "followers": uri + "/followers",
            "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": signatures.public_pem(self.key)},
        }, content_type=AS_JSON)

    async def like(self, node: InProcessNode, session: aiohttp.ClientSession, host: str,
                   name: str = "u") -> tuple[int, str | None]:
        """A Like of the Group by HOST's actor, signed with its (real, published) key: (status, Retry-After)."""
        actor = self.actor(host, name)
        body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "type": "Like", "actor": actor,
                           "id": f"http://{host}:{self.port}/likes/{os.urandom(6).hex()}",
                           "object": node.group_id}).encode()
        headers = signatures.sign("POST", node.base + "/inbox", actor + "#main-key", self.key, body, AS_JSON)
        async with session.post(node.base + "/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
            return r.status, r.headers.get("Retry-After")


@pytest.fixture
async def wild(tmp_path):
    """make(hosts, **settings): a node (SSRF guard on) whose test DNS maps every one of `hosts` to the wildcard
    server; yields (make, the wildcard server, the DNS)."""
    server, made = Wildcard(), []
    dns = LoopbackDNS()
    async with listening(server.answer) as port:
        server.port = port

        async def make(hosts: list[str], **settings) -> InProcessNode:
            node_port = free_port()
            dns.add("alpha.test.example", node_port)
            for host in hosts:
                dns.add(host, port)
            config = init_node(tmp_path / f"alpha{len(made)}", node_port, "Alpha", host="alpha.test.example",
                               **settings)
            made.append(await InProcessNode(config, resolver=dns).start())
            return made[-1]

        yield make, server, dns
        for node in made:
            await node.close()


# Tight allowances, refilling slower than any test runs: what is spent stays spent.
TIGHT = {"inbox_rate_per_host": 0.001, "inbox_burst_per_host": 2,
         "inbox_rate_per_domain": 0.001, "inbox_burst_per_domain": 50}
SUBDOMAINS = [f"s{i}.wild.example" for i in range(60)]


async def test_fifty_subdomains_share_one_domain_allowance(wild):
    make, server, dns = wild
    node = await make([*SUBDOMAINS, "other.example"], **TIGHT)
    async with clients(dns, stranger_addresses(60)) as sessions:
        # When 50 subdomains of one registrable domain each send a Like (each from another address: the domain,
        # not the client, is what is counted here), each fetched for once
        assert [await server.like(node, sessions[n], SUBDOMAINS[n]) for n in range(50)] == [(202, None)] * 50
        before = await node.snapshot()
        fetched = len(server.fetched)
        # Then a 51st subdomain, fresh to us, with a whole per-host allowance, is refused before its key is fetched
        status, retry_after = await server.like(node, sessions[50], SUBDOMAINS[50])
        assert status == 429 and int(retry_after) >= 1
        assert len(server.fetched) == fetched
        # And so is a second Like from a subdomain whose key we hold, though its own allowance has one left:
        # the domain's inbox allowance is spent
        status, retry_after = await server.like(node, sessions[51], SUBDOMAINS[0])
        assert status == 429 and int(retry_after) >= 1
        assert await node.snapshot() == before
        # While another registrable domain, from the very same address, is not held back
        assert await server.like(node, sessions[50], "other.example") == (202, None)


async def test_owners_under_a_public_suffix_are_not_merged(wild):
    make, server, dns = wild
    # github.io is a public suffix (the list's private section): alice.github.io and bob.github.io are two owners
    alice = [f"p{i}.alice.github.io" for i in range(4)]
    node = await make([*alice, "bob.github.io"], **{**TIGHT, "inbox_burst_per_domain": 3})
    async with clients(dns, stranger_addresses(5)) as sessions:
        # When alice's names spend alice's domain allowance
        statuses = [(await server.like(node, sessions[n], host))[0] for n, host in enumerate(alice)]
        assert statuses == [202, 202, 202, 429]
        # Then bob's is untouched
        assert (await server.like(node, sessions[4], "bob.github.io"))[0] == 202


async def test_a_sibling_has_its_own_allowance(wild):
    make, server, dns = wild
    sibling_host = "congregation.wild.example"
    node = await make([*SUBDOMAINS[:51], sibling_host], **TIGHT)
    # Given a sibling Congregation under the very domain strangers use: its Group and ours follow each other
    sibling = await fetch_remote_actor(node.db, node.app[HTTP], server.actor(sibling_host, "group"))
    async with transaction(node.db):
        await follows.upsert(node.db, node.group_id, sibling.uri, f"{node.group_id}#f", "accepted")
        await follows.upsert(node.db, sibling.uri, node.group_id, f"{sibling.uri}#f", "accepted")
    async with clients(dns, stranger_addresses(52)) as sessions:
        # When strangers' subdomains spend the domain's allowance
        statuses = [(await server.like(node, sessions[n], host))[0] for n, host in enumerate(SUBDOMAINS[:51])]
        assert statuses == [202] * 50 + [429]
        # Then the sibling's Group still gets through, more often than a stranger host's allowance would allow
        assert [(await server.like(node, sessions[51], sibling_host, "group"))[0] for _ in range(4)] == [202] * 4


def test_registrable_domains():
    assert registrable_domain("a.b.wild.example") == registrable_domain("wild.example") == "wild.example"
    assert registrable_domain("alice.github.io") != registrable_domain("bob.github.io")
    assert registrable_domain("x.alice.github.io") == "alice.github.io"
    assert registrable_domain("social.example.co.uk") == "example.co.uk"
    assert registrable_domain("github.io") == "github.io"  # a public suffix itself is its own
    assert registrable_domain("WWW.Example.COM.") == "example.com"
    # IDNA: the connector's (punycode) form of a name is what is counted
    assert registrable_domain("a.xn--bcher-kva.example") == "xn--bcher-kva.example"
    # An address is its own domain; IPv6 by /64, an IPv4-mapped address as the IPv4 address it is
    assert registrable_domain("203.0.113.7") == "203.0.113.7"
    assert registrable_domain("[2001:db8:1:2::7]") == registrable_domain("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert registrable_domain("2001:db8:1:3::1") != registrable_domain("2001:db8:1:2::1")
    assert address_block("::ffff:203.0.113.7") == "203.0.113.7"


def test_allowance__a_domain_of_many_hosts_and_a_sibling():
    now = [0.0]
    allowance = Allowance(rate=1.0, burst=2, domain_rate=1.0, domain_burst=5, clock=lambda: now[0])
    # Five hosts of one domain take one each; the sixth host, fresh, finds the domain spent
    assert [allowance.take(f"h{i}.wild.example:443") for i in range(5)] == [0.0] * 5
    assert allowance.take("h5.wild.example") == 1.0
    # A refusal takes nothing: the host's own bucket is whole once the domain refills
    now[0] = 1.0
    assert allowance.take("h5.wild.example") == 0.0
    assert allowance.take("h5.wild.example") == 1.0
    # Another domain, and a sibling under the spent one, are not held back
    assert allowance.take("other.example") == 0.0
    assert [allowance.take("congregation.wild.example", own=True) for _ in range(5)] == [0.0] * 5
