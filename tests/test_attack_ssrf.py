"""Issue 12, point 1, attacked again: every spelling of an internal address we could find, as a stranger's keyId,
as a redirect from a public host, as a name that resolves inside, and as the object of a followed actor's Announce.

The node runs under a made-up public name with the SSRF guard on. The internal service listens on loopback (IPv4
and IPv6) on a port no test DNS name vouches for, and answers a secret to anyone who reaches it. Each attack must
get the one generic 401 (or, in the worker, a refusal), the internal service must see no request, and nothing may
be stored: every table is compared before and after.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.resolver import DefaultResolver

from node.activitypub import rfc9421, signatures
from node.activitypub.keys import KEY_UNAVAILABLE
from tests.factories import node_follows
from tests.fediverse import AS_JSON, FakeActor, InProcessNode, free_port, init_node, pooled_key
from tests.resolver import LoopbackDNS
from tests.webclient import Visitor, make_member

SECRET = "internal-service-secret-7f3a"
# Names whose first character is a digit are what inet_aton reads as IPv4 (2130706433, 0177.0.0.1, 0x7f.1,
# "127.0.0.1 "): those go to the system resolver, as they would in production; it answers them without a network.
_NUMERIC = re.compile(r"^[0-9]")


class AttackDNS(LoopbackDNS):
    """The test DNS, plus the system resolver for numeric names, plus names that resolve to private addresses."""

    def __init__(self) -> None:
        super().__init__()
        self._system = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if host.lower().rstrip(".") not in self._names and _NUMERIC.match(host):
            return await self._system.resolve(host, port, family)
        return await super().resolve(host, port, family)

    async def close(self) -> None:
        """Shared by the node and the test's clients; the system resolver holds nothing to close."""


@contextlib.asynccontextmanager
async def internal_service():
    """A service on 127.0.0.1 and [::1] (one port) that only the node's network can reach: logs every request."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.host}{request.path_qs}")
        url = str(request.url)
        return web.json_response({"id": url.partition("#")[0], "type": "Person", "summary": SECRET,
                                  "inbox": url + "/inbox",
                                  "publicKey": {"id": url, "owner": url, "publicKeyPem": SECRET}},
                                 content_type=AS_JSON, headers={"X-Internal": SECRET})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await web.TCPSite(runner, "::1", port).start()
    try:
        yield port, seen
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def redirector(targets: list[str]):
    """A public-looking host: /to/N answers 302 (or 307, 301 for /to307/N, /to301/N) to targets[N]."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        kind, _, number = request.path.strip("/").partition("/")
        status = {"to": 302, "to307": 307, "to301": 301}.get(kind, 404)
        if status == 404 or not number.isdigit():
            return web.Response(status=404)
        return web.Response(status=status, headers={"Location": targets[int(number)]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port, seen
    finally:
        await runner.cleanup()


# {port} is the internal service's port. Each of these reaches the internal service if the guard lets it.
UNICODE_HOSTS = [
    "１２７．０．０．１:{port}",  # fullwidth digits and full stops
    "１２７.０.０.１:{port}",  # fullwidth digits
    "127．0．0．1:{port}",  # fullwidth full stops
    "①②⑦.0.0.①:{port}",  # circled digits
    "127。0。0。1:{port}",  # ideographic full stops
    "127｡0｡0｡1:{port}",  # halfwidth ideographic full stops
    "127․0․0․1:{port}",  # one dot leader
    "𝟏𝟐𝟕.𝟎.𝟎.𝟏:{port}",  # mathematical bold digits
    "𝟙𝟚𝟟.𝟘.𝟘.𝟙:{port}",  # mathematical double-struck digits
    "1２7.0.0.1:{port}",  # one fullwidth digit among ASCII
    "１２７．０．０．１．:{port}",  # fullwidth, with a trailing (fullwidth) dot
    "127.0.0.1。:{port}",  # trailing ideographic full stop
    "127.0.0.1.:{port}",  # trailing dot
    "127.0.0.1\u3000:{port}",  # trailing ideographic space (yarl keeps a space; inet_aton reads the address)
    "ｌｏｃａｌｈｏｓｔ:{port}",  # fullwidth localhost
    "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{port}",  # circled letters
    "LOCALHOST:{port}",
    "LocalHost.:{port}",
    "ｌｏｃａｌｈｏｓｔ．:{port}",
    "api.localhost:{port}",
    "localhost.localdomain:{port}",
    "xn--localhost-:{port}",  # punycode that decodes to nothing usable
    "1\u00ad27.0.0.1:{port}",  # soft hyphen (UTS 46 ignores it; yarl refuses it)
    "127.0.0.1\u200b:{port}",  # zero-width space
    "127.0.0.1\ufe0f:{port}",  # variation selector
    "⑯⑨.②⑤④.⑯⑨.②⑤④",  # circled cloud metadata
    "%31%32%37.0.0.1:{port}", "127%2e0%2e0%2e1:{port}", "%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1:{port}",  # escaped
    "127.0.0.1%00.test.example:{port}", "127.0.0.1%2F@test.example:{port}",
]
IPV6_HOSTS = [
    "[::1]:{port}", "[0:0:0:0:0:0:0:1]:{port}", "[0000::0001]:{port}", "[::ffff:127.0.0.1]:{port}",
    "[::ffff:7f00:1]:{port}", "[::FFFF:7F00:1]:{port}", "[::127.0.0.1]:{port}", "[::ffff:0:7f00:1]:{port}",
    "[64:ff9b::7f00:1]:{port}", "[2002:7f00:1::]:{port}", "[::]:{port}", "[fe80::1]:{port}",
    "[::ffff:169.254.169.254]", "[fd00:ec2::254]", "[::1%25lo]:{port}", "[fe80::1%25lo]:{port}",
]
IPV4_FORMS = [
    "127.0.0.1:{port}", "2130706433:{port}", "0177.0.0.1:{port}", "0x7f.1:{port}", "0x7f000001:{port}",
    "0x7f.0.0.1:{port}", "127.1:{port}", "127.0.1:{port}", "017700000001:{port}", "127.0.0.01:{port}",
    "127.000.000.001:{port}", "0:{port}", "0.0.0.0:{port}", "169.254.169.254", "10.0.0.1", "100.64.0.1",
]
# Names the node's DNS answers with an internal address (as a hostile or split-horizon DNS would).
PRIVATE_NAMES = {"intranet.test.example": "127.0.0.1", "v6.test.example": "::1",
                 "mapped.test.example": "::ffff:127.0.0.1", "metadata.test.example": "169.254.169.254",
                 "lan.test.example": "192.168.1.1", "nat64.test.example": "64:ff9b::7f00:1"}
NAME_HOSTS = [f"{name}:{{port}}" for name in PRIVATE_NAMES]
# Where a public host redirects to.
REDIRECT_TARGETS = [
    "http://127.0.0.1:{port}/actor", "http://[::1]:{port}/actor", "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]:{port}/actor", "http://１２７．０．０．１:{port}/actor", "http://2130706433:{port}/a",
    "http://0x7f.1:{port}/a", "http://intranet.test.example:{port}/actor", "http://v6.test.example:{port}/actor",
    "//127.0.0.1:{port}/actor", "http://localhost:{port}/actor", "http://ｌｏｃａｌｈｏｓｔ:{port}/actor",
    "http://127.0.0.1.:{port}/actor", "https://127.0.0.1:{port}/actor",
]


@pytest.fixture
async def world(tmp_path):
    """(node, the internal service's port and log, a client session, the DNS): the guard on."""
    async with internal_service() as (port, seen):
        dns = AttackDNS()
        for name, address in PRIVATE_NAMES.items():
            dns.alias(name, address)
        node_port = free_port()
        config = init_node(tmp_path / "alpha", node_port, "Alpha", host="alpha.test.example")
        assert config.allow_private_addresses is False
        dns.add("alpha.test.example", node_port)
        node = await InProcessNode(config, resolver=dns).start()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as session:
                yield node, port, seen, session, dns
        finally:
            await node.close()


async def _attack(node: InProcessNode, session: aiohttp.ClientSession, key_url: str) -> list[tuple[str, int, str]]:
    """A stranger signs, with a key of its own, an inbox POST (shared and the Group's) and a GET of the members
    collection, naming `key_url` as its keyId; (request, status, body + headers) for each."""
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams",
                       "id": "http://stranger.test.example/a/1", "type": "Follow",
                       "actor": "http://stranger.test.example/u", "object": node.group_id}).encode()
    answers = []
    for inbox in (node.base + "/inbox", node.group_id + "/inbox"):
        headers = signatures.sign("POST", inbox, key_url, pooled_key(), body, AS_JSON)
        async with session.post(inbox, data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
            answers.append((f"POST {inbox}", r.status, await r.text() + repr(dict(r.headers))))
    members = node.group_id + "/members"
    headers = signatures.sign("GET", members, key_url, pooled_key(), None, None)
    async with session.get(members, headers={**headers, "Accept": AS_JSON}) as r:
        answers.append((f"GET {members}", r.status, await r.text() + repr(dict(r.headers))))
    return answers


async def _every_key_url_refused(node, session, seen, key_urls: list[str]) -> None:
    before = await node.snapshot()
    failures = []
    for key_url in key_urls:
        for request, status, text in await _attack(node, session, key_url):
            body = text.split("{'", 1)[0] if text.startswith("{") else text
            refused = status == 401 and json.loads(text[:text.index("}") + 1]) == {"error": KEY_UNAVAILABLE}
            if not refused or SECRET in text or seen:
                failures.append((key_url, request, status, body[:200], list(seen)))
            seen.clear()
    assert failures == []
    # And nothing was stored: not a key, not a document, not a row anywhere
    assert await node.snapshot() == before


@pytest.mark.parametrize("family", ["unicode", "ipv6", "ipv4-forms", "private-names"])
async def test_ssrf__a_keyid_at_any_spelling_of_an_internal_address_is_never_fetched(world, family):
    node, port, seen, session, _ = world
    hosts = {"unicode": UNICODE_HOSTS, "ipv6": IPV6_HOSTS, "ipv4-forms": IPV4_FORMS, "private-names": NAME_HOSTS}
    key_urls = [f"http://{host.format(port=port)}/users/x#main-key" for host in hosts[family]]
    if family == "unicode":  # https and an upper-case scheme are the same guard
        key_urls += [f"HTTP://１２７．０．０．１:{port}/users/x#main-key", f"https://①②⑦.0.0.①:{port}/k#main-key"]
    await _every_key_url_refused(node, session, seen, key_urls)


async def test_ssrf__a_public_host_redirecting_inside_is_not_followed(world):
    node, port, seen, session, dns = world
    targets = [t.format(port=port) for t in REDIRECT_TARGETS]
    async with redirector(targets) as (public_port, redirected):
        dns.add("public.test.example", public_port)
        key_urls = [f"http://public.test.example:{public_port}/{kind}/{n}#main-key"
                    for n in range(len(targets)) for kind in ("to", "to307", "to301")]
        await _every_key_url_refused(node, session, seen, key_urls)
        # The public host was asked (each attack reached it), the internal one never
        assert len(redirected) >= len(key_urls)


async def test_ssrf__the_401_is_the_same_whether_the_key_host_answered_or_not(world, caplog):
    # Given the same attack at a name that does not exist and at the internal service by its address
    node, port, seen, session, _ = world
    caplog.set_level(logging.INFO, logger="node.activitypub.inbox")
    nowhere = await _attack(node, session, "http://nowhere.test.example/users/x#main-key")
    inside = await _attack(node, session, f"http://１２７．０．０．１:{port}/users/x#main-key")
    # The operator's log says why (the sender is told nothing of it)
    assert any("127.0.0.1 is not a public address" in r.getMessage() for r in caplog.records)
    # Then the answers are identical, word for word (headers aside from the date), and say nothing of either

    def words(answers):
        return [(request, status, text.split("{'", 1)[0]) for request, status, text in answers]
    assert words(nowhere) == words(inside)
    assert not seen


async def test_ssrf__a_followed_actors_announce_of_an_internal_object_fetches_nothing(world):
    # Given an actor the Group follows (so what it shares is worth fetching), on a public-looking name
    node, port, seen, session, dns = world
    friend = await FakeActor(name="friend", host="friend.test.example").start()
    try:
        dns.add(friend.host, friend.port)
        await node_follows(node, node.group_id, friend.id)
        hosts = ["１２７．０．０．１:{port}", "①②⑦.0.0.①:{port}", "[::ffff:127.0.0.1]:{port}", "2130706433:{port}",
                 "0x7f.1:{port}", "intranet.test.example:{port}", "v6.test.example:{port}", "ｌｏｃａｌｈｏｓｔ:{port}"]
        objects = [f"http://{host.format(port=port)}/notes/1" for host in hosts]
        # A first activity caches the friend's key and document: not part of what is compared
        like = friend.activity("Like", node.group_id)
        assert (await friend.post(session, node.base + "/inbox", like))[0] == 202
        await node.drain_inbox()
        before = await node.snapshot()
        # When the friend announces each internal URL, and the worker processes them
        for url in objects:
            assert (await friend.post(session, node.base + "/inbox", friend.activity("Announce", url)))[0] == 202
        await node.drain_inbox()
        # Then the internal service saw nothing, and nothing but the inbox rows (their outcomes) was stored
        assert seen == []
        after = await node.snapshot()
        assert {**after, "inbox": []} == {**before, "inbox": []}
        async with node.db.execute("SELECT outcome, length(body) FROM inbox WHERE type = 'Announce'") as cur:
            rows = await cur.fetchall()
        assert len(rows) == len(objects) and all(SECRET not in (outcome or "") for outcome, _ in rows)
    finally:
        await friend.close()


async def test_ssrf__a_real_signer_on_a_public_name_is_still_heard(world):
    # The counterpart: the guard refuses the inside, not everyone
    node, _, seen, session, dns = world
    peer = await FakeActor(name="peer", host="peer.test.example").start()
    try:
        dns.add(peer.host, peer.port)
        assert (await peer.post(session, node.base + "/inbox", peer.activity("Follow", node.group_id)))[0] == 202
        assert seen == []
    finally:
        await peer.close()


async def test_ssrf__a_follower_whose_inbox_is_inside_is_refused_at_the_door(world):
    # Given actors on public-looking names whose documents give an internal inbox, each in another spelling
    node, port, seen, session, dns = world
    inboxes = [f"http://{host.format(port=port)}/inbox" for host in
               ("１２７．０．０．１:{port}", "①②⑦.0.0.①:{port}", "[::1]:{port}", "[::ffff:7f00:1]:{port}",
                "0177.0.0.1:{port}", "intranet.test.example:{port}", "mapped.test.example:{port}")]
    followers = []
    before = await node.snapshot()
    try:
        for number, inbox in enumerate(inboxes):
            follower = await FakeActor(name=f"f{number}", host=f"f{number}.test.example").start()
            followers.append(follower)
            dns.add(follower.host, follower.port)
            document = follower.document() | {"inbox": inbox, "endpoints": {"sharedInbox": inbox}}
            follower.documents[follower.id] = (200, document)
            # When each follows the Group
            status, text = await follower.post(session, node.base + "/inbox",
                                               follower.activity("Follow", node.group_id))
            # Then it is refused with the generic 401 (an inbox must be on its actor's own origin)
            assert (status, json.loads(text)) == (401, {"error": KEY_UNAVAILABLE}), inbox
        await node.drain_inbox()
        await node.run_deliveries()
        # And nothing reached the internal service, and nothing was stored or queued
        assert seen == []
        assert await node.snapshot() == before
    finally:
        for follower in followers:
            await follower.close()


async def test_ssrf__an_rfc9421_keyid_inside_is_never_fetched_either(world):
    # The same through RFC 9421 (a structured-field keyid is ASCII: the escaped and numeric spellings)
    node, port, seen, session, _ = world
    hosts = ["127.0.0.1:{port}", "2130706433:{port}", "0x7f.1:{port}", "[::1]:{port}", "[::ffff:7f00:1]:{port}",
             "intranet.test.example:{port}", "v6.test.example:{port}", "%31%32%37.0.0.1:{port}",
             "xn--localhost-:{port}", "localhost.:{port}", "169.254.169.254"]
    body = json.dumps({"id": "http://stranger.test.example/a/2", "type": "Follow",
                       "actor": "http://stranger.test.example/u", "object": node.group_id}).encode()
    before = await node.snapshot()
    for host in hosts:
        key_url = f"http://{host.format(port=port)}/users/x#main-key"
        headers = {"Content-Type": AS_JSON, **rfc9421.sign("POST", node.base + "/inbox", key_url, pooled_key(), body)}
        async with session.post(node.base + "/inbox", data=body, headers=headers) as r:
            assert (r.status, await r.json()) == (401, {"error": KEY_UNAVAILABLE}), key_url
    assert seen == []
    assert await node.snapshot() == before


async def test_ssrf__a_partner_cannot_make_the_node_follow_inside(world):
    # A Partner's follow form takes a URL or @name@host: the guard holds there too (and no 500 on any spelling)
    node, port, seen, session, _ = world
    await make_member(node, "pat", "partner")
    pat = Visitor(node)
    try:
        await pat.sign_in("pat")
        hosts = ["１２７．０．０．１:{port}", "①②⑦.0.0.①:{port}", "[::1]:{port}", "[::ffff:7f00:1]:{port}",
                 "2130706433:{port}", "intranet.test.example:{port}", "ｌｏｃａｌｈｏｓｔ:{port}", "127.0.0.1.:{port}"]
        targets = [f"http://{h.format(port=port)}/actors/group" for h in hosts]
        targets += [f"@group@{h.format(port=port)}" for h in hosts]
        before = await node.snapshot()
        for target in targets:
            status, page = await pat.post("/follows", {"target": target})
            assert status == 400, (target, status)
            assert SECRET not in page
        assert seen == []
        assert await node.snapshot() == before
    finally:
        await pat.close()
