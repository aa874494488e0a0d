"""What the node's outbound fetches saw stays out of its answers to strangers.

Anyone can send a signature whose keyId names any URL, and so make the node fetch it, signed by the Group, from
where it stands: a server that only trusts this node, a name only its DNS knows. The 401 says the key could not
be had, the same words whatever happened; the log keeps the details.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web

from node.activitypub import signatures
from node.activitypub.keys import KEY_UNAVAILABLE
from tests.fediverse import AS_JSON, InProcessNode, free_port, init_node, listening, pooled_key
from tests.resolver import LoopbackDNS

SECRET = "only-the-node-may-see-this"


@pytest.fixture
async def intranet():
    """A server that answers only the node (as an allowlist would): each path its own kind of answer."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path == "/wrong-id":
            return web.json_response({"id": f"https://{SECRET}/x", "type": "Person"}, content_type=AS_JSON)
        if request.path == "/not-actor":
            return web.json_response({"id": str(request.url), "type": "Note", "content": SECRET}, content_type=AS_JSON)
        if request.path == "/bad-owner":  # a key whose owner no URL parser takes
            return web.json_response({"id": str(request.url), "type": "Key", "owner": "http://[::1",
                                      "publicKeyPem": SECRET}, content_type=AS_JSON)
        if request.path == "/bad-inbox":
            return web.json_response({"id": str(request.url), "type": "Person", "inbox": "http://[::1/inbox",
                                      "publicKey": {"id": str(request.url) + "#main-key", "owner": str(request.url),
                                                    "publicKeyPem": SECRET}}, content_type=AS_JSON)
        if request.path == "/html":
            return web.Response(text=SECRET, content_type="text/html")
        return web.Response(status=403, text=SECRET)

    async with listening(answer) as port:
        yield port, seen


@pytest.fixture
async def guarded(tmp_path, intranet):
    """A node under a made-up name, the SSRF guard on, whose DNS also knows the intranet and a private name."""
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example")
    dns = LoopbackDNS().add("alpha.test.example", port).add("intranet.test.example", intranet[0])
    dns.alias("dark.test.example", "127.0.0.1")
    node = await InProcessNode(config, resolver=dns).start()
    connector = aiohttp.TCPConnector(resolver=dns)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield node, session
    await node.close()


@pytest.mark.parametrize("key_url", [
    "http://intranet.test.example:{port}/wrong-id", "http://intranet.test.example:{port}/not-actor",
    "http://intranet.test.example:{port}/html", "http://intranet.test.example:{port}/forbidden",
    "http://dark.test.example:{port}/actor", "http://127.0.0.1:{port}/actor", "http://nowhere.test.example/actor",
    "http://[::1/actor", "http://" + "a" * 64 + ".test.example/actor",
    "http://intranet.test.example:{port}/bad-owner", "http://intranet.test.example:{port}/bad-inbox",
])
async def test_a_key_that_cannot_be_had__the_same_401_whatever_the_fetch_saw(guarded, intranet, key_url):
    node, session = guarded
    key_id = key_url.format(port=intranet[0]) + "#main-key"
    body = json.dumps({"id": "http://stranger.test.example/a/1", "type": "Follow",
                       "actor": "http://stranger.test.example/u", "object": node.group_id}).encode()
    post = signatures.sign("POST", node.base + "/inbox", key_id, pooled_key(), body, AS_JSON)
    members = node.group_id + "/members"  # verified even without authorized fetch: members may read it
    get = signatures.sign("GET", members, key_id, pooled_key(), None, None)
    # When a stranger signs an inbox POST, and a GET, with a key at that URL
    async with session.post(node.base + "/inbox", data=body, headers={**post, "Content-Type": AS_JSON}) as response:
        posted = response.status, await response.json()
    async with session.get(members, headers={**get, "Accept": AS_JSON}) as response:
        got = response.status, await response.json()
    # Then both are refused with the same words, which say nothing of what the node saw or could not reach
    assert posted == got == (401, {"error": KEY_UNAVAILABLE})
