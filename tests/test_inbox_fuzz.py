"""Inbox fuzzing (issue 12): whatever a stranger or a known peer sends, the inbox never answers 5xx, a refused
request changes nothing, and what it accepts never makes the worker fail with an unexpected exception.

Against a real app on a loopback port with the SSRF guard on (a test DNS maps made-up public names to loopback).
Four families of input, each drawn by hypothesis:
- header sets: a validly signed request whose headers are then dropped, repeated, garbled or given odd values
  (Signature, Signature-Input, Digest, Content-Digest, Date, Host, Content-Type, Content-Length, ...);
- activities: every field of Create/Follow/Undo/Accept/Reject/Update/Delete/Announce/Like/Question/Flag given a
  wrong type, a hostile URL or a Unicode oddity, then *validly signed* by a peer whose key the node holds, so the
  input gets past the signature check and into the worker and the handlers;
- raw bodies, validly signed: deep nesting, huge arrays, big numbers, invalid UTF-8, lone surrogates escaped in
  JSON, NUL, sizes around the limit;
- unsigned requests whose keyId names hosts the guard must refuse (fullwidth digits, IPv6 forms, aliases).

Properties, checked after every request: no status >= 500; a refused request leaves every table as it was (the
signer's own key may be cached or refetched from its own origin, as tests/test_inbox_hostile.py allows); an
accepted one, once the worker has run, leaves no inbox row with the outcome `bug: …` (an unexpected exception);
nothing ever connects to the canary server behind the guard.

Reproducible: `derandomize=True` and no example database, so CI draws the same examples on every run and a
failure seen once is seen again; the search for new inputs is bench/fuzz_inbox.py's job (a seeded campaign of a
million bodies). The four property tests draw 560 examples; with the regressions for what fuzzing found (at the
end), the module takes ~12 s on one core.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node import uris
from node.activitypub import rfc9421, signatures
from node.appkeys import KEYS
from node.db import transaction
from node.processing.posts import publish_post
from node.store import follows, remote
from tests.factories import follow, member, node_follows, open_proposal
from tests.fediverse import AS_JSON, FakeActor, InProcessNode, free_port, init_node, listening
from tests.resolver import LoopbackDNS

pytestmark = pytest.mark.asyncio(loop_scope="module")

NODE_HOST = "alpha.test.example"
PEER_HOST = "peer.test.example"
INTRANET_HOST = "intranet.test.example"  # resolves to the canary's loopback address, vouched for nothing
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
MAX_BYTES = 24 * 1024  # the node's body limit here: "near" and "over" it stay cheap to send
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@dataclass
class Peer(FakeActor):
    """A FakeActor under a made-up public name, which also serves a Note at every /notes/… path."""

    host: str = PEER_HOST
    ed25519_key: ed25519.Ed25519PrivateKey | None = field(default_factory=ed25519.Ed25519PrivateKey.generate)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _get(self, request: web.Request) -> web.Response:
        if request.path.startswith("/notes/"):
            self.fetched.append(request.path)
            url = self.origin + request.path
            return web.json_response({"@context": "https://www.w3.org/ns/activitystreams", "id": url, "type": "Note",
                                      "attributedTo": self.id, "content": "<p>fetched</p>", "to": [PUBLIC]},
                                     content_type=AS_JSON)
        return await super()._get(request)


@dataclass
class World:
    node: InProcessNode
    peer: Peer
    session: aiohttp.ClientSession
    canary_port: int
    canary_hits: list[str]
    targets: list[str]  # URIs of ours worth aiming at: the Group, a member, a post, a proposal, our Follow
    our_follow: dict[str, Any]
    counter: list[int] = field(default_factory=lambda: [0])
    statuses: dict[int | None, int] = field(default_factory=dict)

    @property
    def inbox(self) -> str:
        return self.node.base + "/inbox"

    @property
    def port(self) -> int:
        return int(self.node.base.rsplit(":", 1)[1])

    def next_n(self) -> int:
        self.counter[0] += 1
        return self.counter[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    """alpha (guard on, follows auto-accepted) and a peer that follows it and that it follows; a member with a
    public post and an open poll; a canary server on loopback that nothing may reach."""
    hits: list[str] = []

    async def canary(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"secret": "from inside"})

    async with listening(canary) as canary_port:
        port = free_port()
        config = init_node(tmp_path_factory.mktemp("fuzz") / "alpha", port, "Alpha", host=NODE_HOST,
                           public_follows="auto", max_inbox_bytes=MAX_BYTES, inbox_rate_per_host=1e6,
                           inbox_burst_per_host=10**6)
        peer = await Peer(name="fuzz").start()
        dns = (LoopbackDNS().add(NODE_HOST, port).add(PEER_HOST, peer.port)
               .alias(INTRANET_HOST, "127.0.0.1"))
        node = await InProcessNode(config, resolver=dns).start()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as session:
            await follow(node, peer, session, node.group_id)  # the peer follows the Group: its key is cached
            await node_follows(node, node.group_id, peer.id)
            ada = await member(node, "ada", "partner")
            post = await publish_post(node.db, node.config, ada, "Hello, fuzz", "public")
            proposal = await open_proposal(node, ada, kind="poll", title="Which day?", options=["Mon", "Tue"],
                                           closes_at=datetime.now(UTC) + timedelta(days=30))
            post_uri = uris.post(node.config, post.uuid)
            row = await follows.get(node.db, node.group_id, peer.id)
            our_follow = {"id": row.activity_id, "type": "Follow", "actor": node.group_id, "object": peer.id}
            targets = [node.group_id, node.base + "/actors/ada", post_uri, uris.proposal(node.config, proposal.uuid),
                       row.activity_id, node.base + "/inbox"]
            world = World(node, peer, session, canary_port, hits, targets, our_follow)
            yield world
            print("statuses:", world.statuses)
            async with node.db.execute("SELECT outcome, COUNT(*) FROM inbox GROUP BY 1 ORDER BY 2 DESC") as cur:
                print("outcomes:", [tuple(r) for r in await cur.fetchall()])
        await node.close()
        await peer.close()


# --- sending ---------------------------------------------------------------------------------------------------


async def send_raw(world: World, raw: bytes) -> int | None:
    """Write one HTTP/1.1 request as bytes (odd headers included); the final status (after any 100 Continue), or
    None when the server closed without one. Read only the status: after refusing a body it did not read, the
    server may keep the connection open a while to drain it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    answer = b""
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(10):
            while chunk := await reader.read(4096):
                answer += chunk
                while answer.startswith(b"HTTP/1.1 1") and b"\r\n\r\n" in answer:  # interim: the final one follows
                    answer = answer.partition(b"\r\n\r\n")[2]
                if len(answer) >= 12 and not answer.startswith(b"HTTP/1.1 1"):
                    break
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    if not answer.startswith(b"HTTP/1.") or len(answer) < 12:
        return None
    return int(answer[9:12])


def serialise(path: str, headers: list[tuple[str, str | bytes]], body: bytes, content_length: str | None = "auto"
              ) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode()]
    for name, value in headers:
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("utf-8")))
    if content_length == "auto":
        lines.append(b"Content-Length: " + str(len(body)).encode())
    elif content_length is not None:
        lines.append(b"Content-Length: " + content_length.encode("utf-8"))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def signed(world: World, body: bytes, scheme: str, path: str = "/inbox") -> list[tuple[str, str]]:
    """Valid headers for `body`, signed by the peer with its cached key: cavage/RSA, RFC 9421 RSA or Ed25519."""
    peer, url = world.peer, world.node.base + path
    if scheme == "cavage":
        headers = signatures.sign("POST", url, peer.key_id, peer.key, body, AS_JSON)
    else:
        ed = scheme == "rfc9421-ed25519"
        key, key_id = (peer.ed25519_key, peer.ed25519_key_id) if ed else (peer.key, peer.key_id)
        headers = {"Host": f"{NODE_HOST}:{world.port}", **rfc9421.sign("POST", url, key_id, key, body)}
    headers.setdefault("Content-Type", AS_JSON)
    return list(headers.items())


# --- checking --------------------------------------------------------------------------------------------------


def without_cache_of(snapshot: dict[str, list], owner: str) -> dict[str, list]:
    """The snapshot minus the cached document and keys of `owner` (verifying fetches them from its own origin)."""
    return {**snapshot,
            "remote_actors": [row for row in snapshot["remote_actors"] if row[0] != owner],
            "remote_keys": [row for row in snapshot["remote_keys"] if row[1] != owner]}


async def heal(world: World) -> None:
    """Undo what an accepted fuzzed activity did to the fixture itself (the peer deleted itself, rotated its key,
    unfollowed), so later examples still reach the handlers as a known, followed peer. Test setup, not a check."""
    node, peer = world.node, world.peer
    held = await remote.actor(node.db, peer.id)
    keys = {peer.key_id: signatures.public_pem(peer.key)}
    cached = await remote.key(node.db, peer.key_id)
    follower = await follows.get(node.db, peer.id, node.group_id)
    followed = await follows.get(node.db, node.group_id, peer.id)
    if (held is not None and held.deleted_at is None and cached == (peer.id, keys[peer.key_id])
            and follower is not None and follower.state == "accepted"
            and followed is not None and followed.state == "accepted"):
        return
    async with transaction(node.db):
        await node.db.execute("DELETE FROM remote_actors WHERE uri = ?", (peer.id,))
        await remote.delete_keys_of(node.db, peer.id)
        await follows.upsert(node.db, peer.id, node.group_id, f"{peer.id}#follows/fuzz", "accepted")
        await follows.upsert(node.db, node.group_id, peer.id, world.our_follow["id"], "accepted")
    node.app[KEYS].forget(peer.id)


async def bugs(world: World) -> list[tuple[str, str]]:
    async with world.node.db.execute(
            "SELECT activity_id, outcome FROM inbox WHERE outcome LIKE 'bug:%'"
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def exchange(world: World, raw: bytes) -> int | None:
    """Send one request and check every property; return the status."""
    node = world.node
    before = await node.snapshot()
    status = await send_raw(world, raw)
    world.statuses[status] = world.statuses.get(status, 0) + 1
    assert status is None or status < 500, f"{status} for {raw[:2000]!r}"
    if status != 202:
        # A refused request stores and changes nothing (the signer's key may be (re)fetched from its origin).
        after = await node.snapshot()
        assert without_cache_of(after, world.peer.id) == without_cache_of(before, world.peer.id), raw[:2000]
    else:
        await node.drain_inbox()
        assert await bugs(world) == [], raw[:2000]
        await heal(world)
    assert world.canary_hits == []
    return status


# --- what is drawn ---------------------------------------------------------------------------------------------


def hostile_urls(world: World) -> list[str]:
    """URLs a fetch must never follow to the canary, spelled in the ways that got round guards before."""
    c, p = world.canary_port, world.peer.port
    return [
        f"http://127.0.0.1:{c}/", f"http://１２７．０．０．１:{c}/x", f"http://①②⑦.0.0.1:{c}/",
        f"http://127。0。0。1:{c}/", f"http://localhost:{c}/", f"http://[::1]:{c}/", f"http://[::ffff:127.0.0.1]:{c}/",
        f"http://0x7f000001:{c}/", f"http://2130706433:{c}/", f"http://{INTRANET_HOST}:{c}/users/x",
        f"http://{INTRANET_HOST.upper()}.:{c}/", "http://169.254.169.254/latest/meta-data/",
        f"http://ｐｅｅｒ.test.example:{p}/users/fuzz", f"http://PEER.test.example.:{p}/notes/x",
        f"http://{PEER_HOST}:{p}@127.0.0.1:{c}/", f"http://{PEER_HOST}:{p}/notes/\x00", "http://[::1",
        "http://", "http:///x", "//evil.example/", "javascript:alert(1)", "file:///etc/passwd", "urn:uuid:1",
        "http://xn--/", "http://" + "a" * 300 + ".example/", f"http://{PEER_HOST}:99999/", "https://exa mple.org/",
    ]


WEIRD_STRINGS = ["", " ", "\x00", "a\x00b", "\u202e", "\ufeff", "𝕏" * 10, "é" * 3, "\u0301", "%00", "%2e%2e/",
                 "<script>alert(1)</script>", "{}", "null", "0" * 50, "\n\r\t", "ﬁ", "Ⅻ", "١٢٣", "🏳️‍🌈"]


def json_values(world: World, urls: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any JSON value: wrong types for every field, deep and wide ones, big numbers, odd strings and URLs."""
    scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80)
               | st.sampled_from([2**63, -(2**63) - 1, 10**300]) | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=30) | st.sampled_from(WEIRD_STRINGS) | urls)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6),
                        max_leaves=25)


KINDS = ["Create", "Follow", "Undo", "Accept", "Reject", "Update", "Delete", "Announce", "Like", "Question", "Flag",
         "Add", "Remove", "Move", "Block", "EmojiReact", "Tombstone", "Note", "Person"]
FIELDS = ["id", "type", "actor", "object", "target", "to", "cc", "bto", "bcc", "audience", "content", "name",
          "summary", "attributedTo", "inReplyTo", "published", "updated", "endTime", "closed", "oneOf", "anyOf",
          "votersCount", "replies", "totalItems", "tag", "attachment", "url", "href", "mediaType", "icon", "image",
          "sensitive", "publicKey", "owner", "publicKeyPem", "inbox", "outbox", "followers", "endpoints",
          "sharedInbox", "preferredUsername", "assertionMethod", "controller", "@context", "signature", "proof",
          "quoteUrl", "_misskey_quote", "contentMap", "source", "formerType", "movedTo", "alsoKnownAs"]


def base_activity(world: World, kind: str, n: int, vote: bool = False) -> dict[str, Any]:
    """A well-formed activity of `kind` from the peer, aimed at us: the starting point for mutations."""
    peer, node = world.peer, world.node
    post, proposal = world.targets[2], world.targets[3]
    note = {"id": f"{peer.origin}/notes/{n}", "type": "Note", "attributedTo": peer.id, "content": f"<p>n {n}</p>",
            "to": [PUBLIC], "cc": [peer.id + "/followers"], "published": "2026-12-01T10:00:00Z",
            "tag": [{"type": "Mention", "href": node.group_id, "name": "@alpha"}], "attachment": []}
    objects: dict[str, Any] = {
        "Create": note,
        "Follow": node.group_id,
        "Undo": {"id": f"{peer.origin}/activities/{n}-inner", "type": "Follow", "actor": peer.id,
                 "object": node.group_id},
        "Accept": world.our_follow,
        "Reject": world.our_follow,
        "Update": peer.document(),
        "Delete": {"id": f"{peer.origin}/notes/{n}", "type": "Tombstone"},
        "Announce": post,
        "Like": post,
        "Flag": [post, node.base + "/actors/ada"],
        "Add": note["id"],
        "Move": peer.id,
    }
    activity = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": f"{peer.origin}/activities/{n}", "type": kind, "actor": peer.id, "to": [node.group_id]}
    if kind == "Question":
        activity |= {"oneOf": [{"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 0}}],
                     "endTime": "2027-01-01T00:00:00Z", "content": "?", "attributedTo": peer.id}
    elif kind in objects:
        activity["object"] = objects[kind]
    if kind == "Create" and vote:
        # A vote on our poll, as Mastodon sends it: a Note named after the option, in reply to the Question.
        activity["object"] = {**note, "name": "Mon", "inReplyTo": proposal, "content": None, "to": [node.group_id]}
    if kind == "Flag":
        activity["content"] = "spam"
    return copy.deepcopy(activity)  # mutations must not reach the world's own dicts (our Follow)


def mutate(draw, world: World, activity: dict[str, Any], values: st.SearchStrategy[Any]) -> dict[str, Any]:
    """Up to five edits: a field of the activity or of its object removed, or set to any value."""
    for _ in range(draw(st.integers(0, 5))):
        obj = activity.get("object")
        target = obj if isinstance(obj, dict) and draw(st.booleans()) else activity
        name = draw(st.sampled_from(FIELDS) | st.sampled_from(sorted(target)) if target else st.sampled_from(FIELDS))
        if draw(st.integers(0, 5)) == 0:
            target.pop(name, None)
        elif name == "type":
            target[name] = draw(st.sampled_from(KINDS) | values)
        else:
            target[name] = draw(values)
    return activity


# --- the properties --------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=250)
@given(data=st.data())
async def test_fuzzed_activities_signed_by_a_known_peer(world, data):
    """Wrong types and hostile values in every field, past the signature check and into the handlers."""
    urls = st.sampled_from(hostile_urls(world)) | st.sampled_from(world.targets) | st.builds(
        lambda path: f"{world.peer.origin}/{path}", st.sampled_from(["notes/1", "users/fuzz", "users/other", "x"]))
    values = json_values(world, urls)
    kind = data.draw(st.sampled_from(KINDS[:11]))
    activity = mutate(data.draw, world, base_activity(world, kind, world.next_n(), data.draw(st.booleans())), values)
    body = json.dumps(activity, ensure_ascii=data.draw(st.booleans())).encode()
    if len(body) > MAX_BYTES:
        body = json.dumps({**activity, "object": None}).encode()[:MAX_BYTES]
    scheme = data.draw(st.sampled_from(["cavage", "rfc9421-rsa", "rfc9421-ed25519"]))
    path = data.draw(st.sampled_from(["/inbox", "/actors/group/inbox", "/actors/ada/inbox"]))
    await exchange(world, serialise(path, signed(world, body, scheme, path), body))


def raw_bodies(world: World) -> st.SearchStrategy[bytes]:
    peer = world.peer

    def framed(extra: bytes) -> bytes:
        return (b'{"id": "' + f"{peer.origin}/activities/raw-{world.next_n()}".encode() + b'", "type": "Create", '
                b'"actor": "' + peer.id.encode() + b'", "object": ' + extra + b"}")

    depth = st.integers(1, 200)
    return st.one_of(
        depth.map(lambda d: framed(b"[" * d + b"]" * d)),
        depth.map(lambda d: framed(b'{"a":' * d + b"1" + b"}" * d)),
        st.integers(1, 6000).map(lambda n: framed(b"9" * n)),
        st.sampled_from([4300, 4301, 5000, 20_000]).map(lambda n: framed(b"-" + b"9" * n)),  # Python's int limit
        st.sampled_from([b"1e999", b"-1e99999", b"1e-99999", b"-0", b"0.0000000000000000000001e400", b"1E+309"])
        .map(framed),
        st.integers(0, MAX_BYTES // 2).map(lambda n: framed(b"[" + b"0," * n + b"0]")),  # near and over the limit
        st.integers(MAX_BYTES - 200, MAX_BYTES + 50).map(lambda n: framed(b'"' + b"x" * n + b'"')),
        st.sampled_from([b'"\\ud800"', b'"\\udfff\\ud800"', b'"\\u0000"', b'"\\ud83d\\ude00"', b'"a\x00b"',
                         b'"\xed\xa0\x80"', b'"\xff"', b'"\xc0\xaf"', b'"\\uZZZZ"', b"NaN", b"Infinity", b"01",
                         b"tru", b'{"id": 1, "id": 2}', b'"\xef\xbb\xbf"']).map(framed),
        st.sampled_from([b"", b"null", b"[]", b"[{}]", b'"str"', b"\xef\xbb\xbf{}", b"{}", b"{" * 1000,
                         b'{"type": "Create"}', b" " * 100 + b"{}", b"{}\x00", b"{} {}"]),
        st.binary(max_size=200).map(framed),
        st.binary(max_size=300),
    )


@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_raw_bodies_signed_by_a_known_peer(world, data):
    """Bodies a JSON parser chokes on, sizes around the limit, Unicode oddities: signed, so they reach parsing."""
    body = data.draw(raw_bodies(world))
    scheme = data.draw(st.sampled_from(["cavage", "rfc9421-rsa", "rfc9421-ed25519"]))
    headers = signed(world, body, scheme)
    if data.draw(st.integers(0, 9)) == 0:  # compressed: the limit holds after decompression
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    await exchange(world, serialise("/inbox", headers, body))


def header_edits(world: World) -> st.SearchStrategy[tuple[str, str, str | bytes]]:
    """(operation, header name, value): drop, set or add a header, with values that break each check."""
    now = int(time.time())
    c = world.canary_port
    key_ids = [world.peer.key_id, world.peer.ed25519_key_id, f"http://１２７．０．０．１:{c}/k#main-key",
               f"http://{INTRANET_HOST}:{c}/k", f"http://[::1]:{c}/", f"http://localhost:{c}/users/x#k",
               f"http://127.0.0.1:{c}/k", f"http://{PEER_HOST}:{world.peer.port}/users/other#main-key",
               world.node.group_id + "#main-key", "", "not a url", "http://peer.test.example:0/"]
    values = {
        "Signature": st.one_of(
            st.sampled_from(key_ids).map(lambda k: f'keyId="{k}",algorithm="rsa-sha256",'
                                                   f'headers="(request-target) host date digest",signature="AAAA"'),
            st.sampled_from(["", "keyId", 'keyId=""', 'keyId="x",signature=""', 'keyId="x",signature="=="',
                             'keyId="x",created=' + "9" * 500 + ',headers="(created)",signature="AA=="',
                             'keyId="x",expires=-1,signature="AA=="', 'keyId="x",algorithm="ecdsa",signature="AA=="',
                             'sig1=:AAAA:', 'keyId="x",headers="(request-target) host date digest x-a x-a",'
                             'signature="AA=="', 'keyId="x",headers="",signature="AA=="']),
            st.text(max_size=80)),
        "Signature-Input": st.one_of(
            st.sampled_from(key_ids).map(lambda k: f'sig1=("@method" "@target-uri" "@authority" "content-digest")'
                                                   f';created={now};keyid="{k}";alg="rsa-v1_5-sha256"'),
            st.sampled_from(['sig1=()', 'sig1=("@method");created=1', f'sig1=("@query-param";name="a");created={now}',
                             f'sig1=("@method" "@path" "host");created={now};keyid="x";expires=1',
                             f'sig1=("@method" "@path" "@authority");created={2**70};keyid="x"',
                             f'sig1=("@method" "@path" "@authority");created={now}.5;keyid="x"',
                             'sig1=("@method" "@method");keyid="x"', 'sig1="x"', "sig1=?1", "a=1, a=2", "\x00"]),
            st.text(max_size=80)),
        "Digest": st.sampled_from(["", "SHA-256=", "SHA-256=!!!", "MD5=abc", "SHA-512=" + "A" * 88,
                                   "SHA-256=" + base64.b64encode(hashlib.sha256(b"").digest()).decode(),
                                   "sha-256=a,sha-256=b", "SHA-256"]) | st.text(max_size=40),
        "Content-Digest": st.sampled_from(["", "sha-256=:AAAA:", "sha-256=x", "sha-512=:" + "A" * 88 + ":",
                                           "md5=:AA==:", "sha-256=:", "sha-256=?1", "sha-256=(:AA==:)"])
        | st.text(max_size=40),
        "Date": st.sampled_from(["", "yesterday", "Mon, 01 Jan 1900 00:00:00 GMT", "Fri, 31 Dec 99999 23:59:59 GMT",
                                 formatdate(now + 7200, usegmt=True), formatdate(now - 7200, usegmt=True),
                                 "Tue, 32 Dec 2026 25:61:61 GMT", "0", "-1", "9" * 400]) | st.text(max_size=40),
        "Host": st.sampled_from(["", "１２７．０．０．１", f"{NODE_HOST.upper()}:{world.port}",
                                 f"{NODE_HOST}.:{world.port}",
                                 f"{NODE_HOST}:{world.port}:1", f"{NODE_HOST}", "[::1]", "evil.example",
                                 f"ａｌｐｈａ.test.example:{world.port}", "a" * 300]) | st.text(max_size=30),
        "Content-Type": st.sampled_from(["", "application/activity+json; charset=utf-8",
                                         'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                                         "APPLICATION/JSON", "text/plain", "application/json; charset=latin-1",
                                         "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                                         "application/activity+json;;;", "*/*"]) | st.text(max_size=30),
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "zstd", "identity", "x-none", "gzip, gzip"]),
        "Authorization": st.sampled_from(['Signature keyId="x",signature="AA=="', "Bearer x", "Signature "]),
        "Transfer-Encoding": st.sampled_from(["gzip", "identity", "x"]),
        "Expect": st.sampled_from(["100-continue", "x"]),
        "X-Forwarded-For": st.sampled_from(["127.0.0.1", "::1", "1.2.3.4, 5.6.7.8", "x"]),
    }
    names = sorted(values)
    return st.tuples(st.sampled_from(["drop", "set", "add"]), st.sampled_from(names)).flatmap(
        lambda op_name: st.tuples(st.just(op_name[0]), st.just(op_name[1]),
                                  values[op_name[1]] | st.binary(max_size=20).map(
                                      lambda b: b.replace(b"\r", b"").replace(b"\n", b""))))


def apply_edits(headers: list[tuple[str, str | bytes]], edits: list[tuple[str, str, str | bytes]]
                ) -> list[tuple[str, str | bytes]]:
    for op, name, value in edits:
        if isinstance(value, str):
            value = value.replace("\r", "").replace("\n", "")
        if op in ("drop", "set"):
            headers = [(n, v) for n, v in headers if n.lower() != name.lower()]
        if op in ("set", "add"):
            headers.append((name, value))
    return headers


@settings(FUZZ, max_examples=150)
@given(data=st.data())
async def test_fuzzed_headers_on_a_signed_request(world, data):
    """A validly signed Follow whose headers are then broken: each check refuses, none fails or stores."""
    peer = world.peer
    activity = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{peer.origin}/activities/h{world.next_n()}",
                "type": data.draw(st.sampled_from(["Follow", "Like", "Undo"])), "actor": peer.id,
                "object": data.draw(st.sampled_from(world.targets))}
    body = json.dumps(activity).encode()
    scheme = data.draw(st.sampled_from(["cavage", "rfc9421-rsa", "rfc9421-ed25519", "unsigned"]))
    headers = [("Host", f"{NODE_HOST}:{world.port}"), ("Content-Type", AS_JSON)] if scheme == "unsigned" \
        else signed(world, body, scheme)
    headers = apply_edits(headers, data.draw(st.lists(header_edits(world), min_size=1, max_size=4)))
    content_length = data.draw(st.sampled_from(["auto"] * 6 + [
        None, "", "-1", "+5", "0x10", "1e3", " 5", "5, 5", "99999999999999999999999", str(len(body) - 1), "0",
        "١٢", str(MAX_BYTES + 1)]))
    await exchange(world, serialise("/inbox", headers, body, content_length))


@settings(FUZZ, max_examples=60)
@given(data=st.data())
async def test_unsigned_requests_naming_hosts_behind_the_guard(world, data):
    """A stranger names a keyId the guard must refuse, in the Unicode and address forms that got round it: 401 or
    429, nothing stored, nothing connects to the canary, and nothing of the canary's answer comes back."""
    key_id = data.draw(st.sampled_from(hostile_urls(world)) | st.builds(
        lambda host, suffix: f"http://{host}:{world.canary_port}/{suffix}",
        st.sampled_from(["１２７．０．０．１", "127.0.0.1", "⑫⑦.0.0.1", "127.1", "0177.0.0.1", "0.0.0.0", "[::]",
                         "[0:0:0:0:0:ffff:7f00:1]", "localhost.", "LOCALHOST", INTRANET_HOST, "ｌｏｃａｌｈｏｓｔ",
                         "127.0.0.1.nip.io", "⁰.0.0.0", "𝟏𝟐𝟕.0.0.1"]),
        st.sampled_from(["", "k", "users/x#main-key", "a?b=c#d"])))
    actor = key_id.split("#")[0]
    body = json.dumps({"id": f"{actor}#a{world.next_n()}", "type": "Follow", "actor": actor,
                       "object": world.node.group_id}).encode()
    headers = signatures.sign("POST", world.inbox, key_id, world.peer.key, body, AS_JSON)
    headers["Host"] = f"{NODE_HOST}:{world.port}"
    status = await exchange(world, serialise("/inbox", list(headers.items()), body))
    assert status in (400, 401, 429), status


# --- what the fuzzing found, kept as plain regressions ---------------------------------------------------------


def _framed(world: World, value: bytes) -> bytes:
    peer = world.peer
    return (b'{"id": "' + f"{peer.origin}/activities/found-{world.next_n()}".encode() + b'", "type": "Create", '
            b'"actor": "' + peer.id.encode() + b'", "object": {"n": ' + value + b"}}")


@pytest.mark.parametrize("value", [pytest.param(b"9" * 4301, id="int-past-python-4300-digit-limit"),
                                   pytest.param(b"-" + b"1" * 20_000, id="negative-20000-digits"),
                                   pytest.param(b"1e999", id="float-overflowing-to-infinity"),
                                   pytest.param(b"-1E+309", id="float-overflowing-to-minus-infinity")])
async def test_found__numbers_python_cannot_hold_are_a_400_not_a_500(world, value):
    # Given a known peer's validly signed body with a number Python's JSON cannot (or should not) hold:
    # 4301 digits raised ValueError (500); 1e999 became inf, stored and written back out as `Infinity`
    body = _framed(world, value)
    status = await exchange(world, serialise("/inbox", signed(world, body, "cavage"), body))
    assert status == 400


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_found__a_body_that_is_not_its_content_encoding_is_a_400_not_a_500(world, encoding):
    # Given a signed request saying Content-Encoding: gzip over a plain JSON body (aiohttp cannot decode it)
    body = _framed(world, b"1")
    headers = [*signed(world, body, "cavage"), ("Content-Encoding", encoding)]
    status = await exchange(world, serialise("/inbox", headers, body))
    assert status == 400


async def test_found__an_expect_header_that_is_not_utf8_is_a_417_not_a_500(world):
    # Given a signed request with `Expect: \x80`: aiohttp's own handler echoed it into its 417 and failed encoding it
    body = _framed(world, b"1")
    headers = [*signed(world, body, "cavage"), ("Expect", b"\x80")]
    assert await exchange(world, serialise("/inbox", headers, body)) == 417


@pytest.mark.parametrize("path", ["/login", "/home", "/actors/group", "/no/such/page", "/healthz"])
async def test_found__an_expect_header_that_is_not_utf8_is_no_500_on_any_route(world, path):
    raw = serialise(path, [("Host", "x"), ("Content-Type", "application/x-www-form-urlencoded"), ("Expect", b"\x80")],
                    b"a=1")
    assert await send_raw(world, raw) in (404, 405, 417)


async def test_found__expect_100_continue_still_gets_its_interim_answer(world):
    body = json.dumps({"id": f"{world.peer.origin}/activities/found-{world.next_n()}", "type": "Like",
                       "actor": world.peer.id, "object": world.targets[2]}).encode()
    headers = [*signed(world, body, "cavage"), ("Expect", "100-Continue")]
    assert await exchange(world, serialise("/inbox", headers, body)) == 202


async def test_found__a_bad_signature_naming_our_own_key_fetches_and_stores_nothing(world):
    # Given a stranger's request naming the Group's own key, with a signature that does not verify: the node used
    # to "refetch" its own actor over HTTP and cache its own key as a remote one
    body = json.dumps({"id": f"{world.peer.origin}/activities/found-{world.next_n()}", "type": "Follow",
                       "actor": world.node.group_id, "object": world.node.group_id}).encode()
    headers = signatures.sign("POST", world.inbox, world.node.group_id + "#main-key", world.peer.key, body, AS_JSON)
    assert await exchange(world, serialise("/inbox", list(headers.items()), body)) == 401


async def test_found__a_covered_header_that_is_not_utf8_is_a_400_not_a_500(world):
    # Given a validly signed request with a second Date line of bytes that are not UTF-8: the signing string
    # joins both, and encoding it failed
    body = _framed(world, b"1")
    headers = [*signed(world, body, "cavage"), ("Date", b"\xc6K\xfd")]
    assert await exchange(world, serialise("/inbox", headers, body)) == 400
