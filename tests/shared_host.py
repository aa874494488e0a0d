"""A server with two accounts, alice and eve, reached by a made-up name through the test resolver (SSRF guard on),
beside an in-process node: for the tests of whose keys count and of what a stranger may make us store."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub import signatures
from tests.fediverse import AS_JSON, InProcessNode, free_port, init_node, listening, pooled_key
from tests.resolver import LoopbackDNS

SHARED = "shared.test.example"


class SharedServer:
    """Two accounts, alice and eve, on one server: eve controls only her own document."""

    def __init__(self, port: int):
        self.origin = f"http://{SHARED}:{port}"
        # Two distinct keys: the pool may hand the same one out twice.
        self.keys = {"alice": pooled_key(), "eve": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.extra: dict[str, list[dict[str, Any]]] = {"alice": [], "eve": []}

    def id(self, name: str) -> str:
        return f"{self.origin}/users/{name}"

    def key_id(self, name: str) -> str:
        return self.id(name) + "#main-key"

    def document(self, name: str) -> dict[str, Any]:
        own = {"id": self.key_id(name), "owner": self.id(name), "publicKeyPem": signatures.public_pem(self.keys[name])}
        return {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": self.id(name), "type": "Person", "preferredUsername": name, "inbox": self.id(name) + "/inbox",
                "outbox": self.id(name) + "/outbox", "publicKey": [own, *self.extra[name]]}

    def planted(self) -> dict[str, Any]:
        """Alice's key id, listed by eve as hers, with eve's key."""
        return {"id": self.key_id("alice"), "owner": self.id("eve"),
                "publicKeyPem": signatures.public_pem(self.keys["eve"])}

    async def answer(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[-1]
        if request.method == "GET" and name in self.keys:
            return web.json_response(self.document(name), content_type=AS_JSON)
        return web.Response(status=404)

    def activity(self, name: str, kind: str, obj: Any) -> dict[str, Any]:
        return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{self.origin}/a/{os.urandom(6).hex()}",
                "type": kind, "actor": self.id(name), "object": obj}


@contextlib.asynccontextmanager
async def shared_host_world(tmp_path):
    """(node, the shared server, a client session resolving through the same test DNS)."""
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example")
    dns = LoopbackDNS().add("alpha.test.example", port)
    holder: dict[str, SharedServer] = {}

    async def answer(request: web.Request) -> web.Response:
        return await holder["server"].answer(request)

    async with listening(answer) as shared_port:
        holder["server"] = server = SharedServer(shared_port)
        dns.add(SHARED, shared_port)
        node = await InProcessNode(config, resolver=dns).start()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as session:
                yield node, server, session
        finally:
            await node.close()
