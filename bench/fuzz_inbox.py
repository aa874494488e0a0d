"""Inbox fuzzing campaign: a million mutated requests against real nodes; never a 5xx, never a side effect.

    python bench/fuzz_inbox.py [--bodies N] [--processes P] [--seed S] [--batch B] [--concurrency C]

Each of P processes runs, on 127.0.0.1 and in its own event loop (uvloop when installed):
  - a node: `congregation init` into a temporary directory, then the app `congregation serve` runs, on a real
    loopback port, with the SSRF guard on (a test DNS maps made-up public names to loopback servers, and only
    those) and the inbox and delivery workers stepped by the campaign rather than by timers;
  - a known peer on a loopback server of its own (RSA and Ed25519 keys, a Note at every /notes/… path) that follows
    the Group and that the Group follows; a member with a public post and an open poll, so activities have targets;
  - a canary server on loopback that the guard must keep every fetch from (its hits are counted);
  - a client that sends requests from a seeded mutational generator over raw sockets: a corpus of real-world shaped
    activities (Mastodon, Misskey, Lemmy, Pleroma, Epicyon shapes) mutated field by field and byte by byte, signed
    validly by the peer (draft-cavage and RFC 9421, Ed25519 mostly, RSA too) so they reach the handlers, or with
    headers dropped, garbled or repeated, unsigned with keyIds behind the guard, or with odd framing (Content-Length,
    chunked, gzip, Expect).

Per batch (default 500 requests) the node's tables are audited: every insert, update and delete is recorded by
triggers the campaign adds to its throwaway database. While a batch is in flight the workers do not run, so the only
write a request may cause is the inbox row of an activity it got a 202 for (and the signer's key cache, refetched
from its own origin); anything else is a side effect and fails the run. Then the inbox worker drains the accepted
rows, and no row may end with the outcome `bug: …` (an unexpected exception in a handler).

At the start, the same client drives a trivial aiohttp handler in the same processes for a few seconds with the same
requests: the campaign's rate is reported as a fraction of it, as bench/inbox.py does.

Prints bodies tried, bodies/s, the count of 5xx (must be 0), the counts by status, side effects, worker bugs, and the
time a million would take at this rate. Exits 1 on any 5xx, side effect, worker bug or canary hit. The batches with
a 5xx, a side effect or a request left unanswered are written to fuzz_inbox-findings-<process>.txt, to replay.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import copy
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/fuzz_inbox.py`: the node and tests/ are importable
    sys.path.insert(0, str(ROOT))

SCRIPT = Path(__file__).resolve()
AS_JSON = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
NODE_HOST = "alpha.fuzz.example"
PEER_HOST = "peer.fuzz.example"
INTRANET_HOST = "intranet.fuzz.example"  # resolves to the canary's address, vouched for nothing: the guard refuses
# The node's body limit in the campaign: 64 KiB rather than the default 1 MiB, so bodies "near" and "over" it are
# cheap to send a million times; the code path is the same.
MAX_BYTES = 64 * 1024
TRIVIAL_SECONDS = 4.0
REQUEST_TIMEOUT = 15.0


# --- the world of one process ---------------------------------------------------------------------------------


def audit_triggers(path: Path) -> None:
    """Record every row written to every table of the node's (throwaway) database in `fuzz_audit`."""
    refs = {"inbox": "activity_id", "remote_keys": "owner", "remote_actors": "uri"}
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        db.execute("CREATE TABLE fuzz_audit (seq INTEGER PRIMARY KEY, tbl TEXT, op TEXT, ref TEXT)")
        for table in tables:
            column = refs.get(table)
            for op, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                ref = f"{row}.{column}" if column else "''"
                db.execute(f'CREATE TRIGGER "fuzz_audit_{table}_{op}" AFTER {op} ON "{table}" BEGIN '
                           f"INSERT INTO fuzz_audit (tbl, op, ref) VALUES ('{table}', '{op}', {ref}); END")
        db.commit()


class ErrorLog(logging.Handler):
    """Counts ERROR records of the node's own loggers (an unexpected exception anywhere in it)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("node"):
            self.count += 1
            if len(self.samples) < 5:
                self.samples.append(f"{record.name}: {record.getMessage()[:300]}"
                                    + (f" ({record.exc_info[1]!r})"[:300] if record.exc_info else ""))


@dataclass
class World:
    node: Any
    peer: Any
    canary_hits: list[str]
    targets: dict[str, str]
    our_follow: dict[str, Any]

    @property
    def port(self) -> int:
        return int(self.node.base.rsplit(":", 1)[1])


async def build_world(data: Path, canary_port: int, canary_hits: list[str]) -> World:
    import aiohttp
    from aiohttp import web
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from node import config as configuration
    from node import uris
    from node.activitypub import rfc9421
    from node.processing.posts import publish_post
    from node.store import follows
    from tests.factories import member, node_follows, open_proposal
    from tests.fediverse import FakeActor, InProcessNode, free_port, init_node
    from tests.resolver import LoopbackDNS

    class Peer(FakeActor):
        @property
        def origin(self) -> str:
            return f"http://{PEER_HOST}:{self.port}"

        async def _get(self, request: web.Request) -> web.Response:
            if request.path.startswith("/notes/"):
                url = self.origin + request.path
                return web.json_response({"@context": "https://www.w3.org/ns/activitystreams", "id": url,
                                          "type": "Note", "attributedTo": self.id, "content": "<p>fetched</p>",
                                          "to": [PUBLIC]}, content_type=AS_JSON)
            return await super()._get(request)

        async def _post(self, request: web.Request) -> web.Response:
            await request.read()  # deliveries to the peer: taken, not kept (a million would fill memory)
            return web.Response(status=202)

    port = free_port()
    # Every inbox rate and burst (per host, per domain, whatever this version has) lifted: the campaign sends from
    # one peer far faster than any server would, and a 429 would end its requests at the rate limiter.
    limits = {f.name: 1_000_000_000 for f in dataclasses.fields(configuration.Config)
              if "inbox" in f.name and ("rate" in f.name or "burst" in f.name)}
    config = init_node(data, port, "Fuzz", host=NODE_HOST, public_follows="auto", max_inbox_bytes=MAX_BYTES,
                       **limits)
    audit_triggers(config.data_dir / "congregation.sqlite3")
    peer = await Peer(name="fuzz", ed25519_key=ed25519.Ed25519PrivateKey.generate()).start()
    dns = LoopbackDNS().add(NODE_HOST, port).add(PEER_HOST, peer.port).alias(INTRANET_HOST, "127.0.0.1")
    node = await InProcessNode(config, resolver=dns).start()
    # The peer follows the Group (auto-accepted; its key gets cached), and the Group follows the peer.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as session:
        for kind, obj in (("Follow", node.group_id), ("Like", node.group_id)):
            for scheme in ("cavage", "rfc9421-ed25519"):
                body = json.dumps(peer.activity(kind, obj)).encode()
                url = node.base + "/inbox"
                headers = (peer.signed_headers("POST", url, body) if scheme == "cavage" else
                           {"Content-Type": AS_JSON, **rfc9421.sign("POST", url, peer.ed25519_key_id,
                                                                    peer.ed25519_key, body)})
                status, text = await peer.post(session, url, body, headers=headers)
                if status != 202:
                    raise RuntimeError(f"priming {kind} ({scheme}) refused: {status} {text}")
    await node.drain_inbox()
    await node_follows(node, node.group_id, peer.id)
    ada = await member(node, "ada", "partner")
    post = await publish_post(node.db, node.config, ada, "Hello, fuzz", "public")
    proposal = await open_proposal(node, ada, kind="poll", title="Which day?", options=["Mon", "Tue"],
                                   closes_at=datetime.now(UTC) + timedelta(days=300))
    row = await follows.get(node.db, node.group_id, peer.id)
    targets = {"group": node.group_id, "ada": node.base + "/actors/ada", "post": uris.post(node.config, post.uuid),
               "proposal": uris.proposal(node.config, proposal.uuid), "follow": row.activity_id,
               "inbox": node.base + "/inbox", "canary": f"http://127.0.0.1:{canary_port}/"}
    our_follow = {"id": row.activity_id, "type": "Follow", "actor": node.group_id, "object": peer.id}
    return World(node, peer, canary_hits, targets, our_follow)


async def heal(world: World) -> bool:
    """Undo what accepted fuzzed activities did to the world itself (the peer deleted itself, rotated its key,
    unfollowed), so later batches still reach the handlers as a known, followed peer. Between batches only."""
    from node.activitypub import signatures
    from node.appkeys import KEYS
    from node.db import transaction
    from node.store import follows, remote

    node, peer = world.node, world.peer
    held = await remote.actor(node.db, peer.id)
    cached = await remote.key(node.db, peer.key_id)
    follower = await follows.get(node.db, peer.id, node.group_id)
    followed = await follows.get(node.db, node.group_id, peer.id)
    if (held is not None and held.deleted_at is None and cached == (peer.id, signatures.public_pem(peer.key))
            and follower is not None and follower.state == "accepted"
            and followed is not None and followed.state == "accepted"):
        return False
    async with transaction(node.db):
        await node.db.execute("DELETE FROM remote_actors WHERE uri = ?", (peer.id,))
        await remote.delete_keys_of(node.db, peer.id)
        await follows.upsert(node.db, peer.id, node.group_id, f"{peer.id}#follows/fuzz", "accepted")
        await follows.upsert(node.db, node.group_id, peer.id, world.our_follow["id"], "accepted")
    node.app[KEYS].forget(peer.id)
    return True


# --- the generator --------------------------------------------------------------------------------------------


WEIRD_STRINGS = ["", " ", "\x00", "a\x00b", "\u202e", "\ufeff", "𝕏" * 10, "é", "\u0301", "%00", "%2e%2e/", "ﬁ",
                 "<script>alert(1)</script>", "{}", "null", "0" * 50, "\n\r\t", "Ⅻ", "١٢٣", "🏳️‍🌈", "\\", '"',
                 "A" * 3000, "\u0000\u0001\u001f", "\u2028\u2029", "ｈｔｔｐ", "Create", "Follow", "@context",
                 "https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"]
KINDS = ["Create", "Follow", "Undo", "Accept", "Reject", "Update", "Delete", "Announce", "Like", "Question", "Flag",
         "Add", "Remove", "Move", "Block", "EmojiReact", "Tombstone", "Note", "Person", "Group", "Page", "Article",
         "Image", "Video", "Event", "Collection", "OrderedCollection", "Link", "Mention", "Hashtag", "Emoji",
         "Document", "Service", "Application", "Invite", "Join", "Leave", "Offer", "TentativeAccept", "View"]
FIELDS = ["id", "type", "actor", "object", "target", "to", "cc", "bto", "bcc", "audience", "content", "name",
          "summary", "attributedTo", "inReplyTo", "published", "updated", "endTime", "closed", "oneOf", "anyOf",
          "votersCount", "replies", "totalItems", "tag", "attachment", "url", "href", "mediaType", "icon", "image",
          "sensitive", "publicKey", "owner", "publicKeyPem", "inbox", "outbox", "followers", "endpoints",
          "sharedInbox", "preferredUsername", "assertionMethod", "controller", "@context", "signature", "proof",
          "quoteUrl", "_misskey_quote", "contentMap", "source", "formerType", "movedTo", "alsoKnownAs", "items",
          "orderedItems", "first", "next", "partOf", "instrument", "result", "origin", "context", "conversation"]


def hostile_urls(world: World, canary_port: int) -> list[str]:
    c, p = canary_port, world.peer.port
    return [
        f"http://127.0.0.1:{c}/", f"http://１２７．０．０．１:{c}/x", f"http://①②⑦.0.0.1:{c}/", f"http://127。0。0。1:{c}/",
        f"http://localhost:{c}/", f"http://[::1]:{c}/", f"http://[::ffff:127.0.0.1]:{c}/", f"http://0x7f000001:{c}/",
        f"http://2130706433:{c}/", f"http://{INTRANET_HOST}:{c}/users/x", f"http://{INTRANET_HOST.upper()}.:{c}/",
        f"http://127.1:{c}/", f"http://0177.0.0.1:{c}/", f"http://[0:0:0:0:0:ffff:7f00:1]:{c}/",
        f"http://𝟏𝟐𝟕.0.0.1:{c}/", f"http://ｌｏｃａｌｈｏｓｔ:{c}/", "http://169.254.169.254/latest/meta-data/",
        f"http://ｐｅｅｒ.fuzz.example:{p}/users/fuzz", f"http://PEER.fuzz.example.:{p}/notes/x",
        f"http://{PEER_HOST}:{p}@127.0.0.1:{c}/", f"http://{PEER_HOST}:{p}/notes/\x00", "http://[::1", "http://",
        "http:///x", "//evil.example/", "javascript:alert(1)", "file:///etc/passwd", "urn:uuid:1", "http://xn--/",
        "http://" + "a" * 300 + ".example/", f"http://{PEER_HOST}:99999/", "https://exa mple.org/", "data:,x",
        f"http://{PEER_HOST}:{p}/notes/../../users/fuzz", f"http://{PEER_HOST}:{p}/notes/%2e%2e", "gopher://x/",
    ]


class Generator:
    """A seeded mutational generator: a corpus of real-world shaped activities, mutated by field and by byte."""

    def __init__(self, world: World, canary_port: int, seed: int):
        self.rng = random.Random(seed)
        self.world = world
        self.peer = world.peer
        self.t = world.targets
        self.n = 0
        self.hostile = hostile_urls(world, canary_port)
        peer_urls = [f"{self.peer.origin}/{path}" for path in
                     ("notes/1", "notes/2", "users/fuzz", "users/fuzz/followers", "users/other", "x", "")]
        self.urls = self.hostile + peer_urls + list(self.t.values()) + [PUBLIC]
        self.key_ids = [self.peer.key_id, self.peer.ed25519_key_id, *self.hostile[:20],
                        f"{self.peer.origin}/users/other#main-key", self.t["group"] + "#main-key", "", "not a url"]
        self.templates = [getattr(self, name) for name in dir(self) if name.startswith("tpl_")]
        # (the chance of this header treatment, a function making headers)
        self.epoch = int(time.time())
        self.date = formatdate(usegmt=True)

    # -- values

    def value(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(self.urls)
        if r < 0.40:
            return self.rng.choice(WEIRD_STRINGS)
        if r < 0.55:
            return self.rng.choice([None, True, False, 0, -1, 1.5, -0.0, 2**53 + 1, 2**63, -(2**63) - 1, 10**30,
                                    1.7976931348623157e308, 5e-324, 10**300])
        if r < 0.62:
            return self.rng.choice(KINDS)
        if r < 0.70:
            return "".join(chr(self.rng.choice((self.rng.randrange(32, 127), self.rng.randrange(0x80, 0x3000),
                                                self.rng.randrange(0x1F000, 0x1FAFF), self.rng.randrange(0, 32))))
                           for _ in range(self.rng.randrange(1, 40)))
        if depth > 3:
            return self.rng.choice([[], {}, None])
        if r < 0.85:
            return [self.value(depth + 1) for _ in range(self.rng.choice((0, 1, 2, 3, 8)))]
        if r < 0.97:
            return {self.rng.choice(FIELDS): self.value(depth + 1) for _ in range(self.rng.randrange(0, 5))}
        nest = self.rng.randrange(10, 120)
        deep: Any = "x"
        for _ in range(nest):
            deep = [deep] if self.rng.random() < 0.5 else {"a": deep}
        return deep

    # -- the corpus: shapes seen from real servers

    def _note(self, **extra: Any) -> dict[str, Any]:
        p, n = self.peer, self.n
        return {"id": f"{p.origin}/notes/{n}", "type": "Note", "attributedTo": p.id, "content": f"<p>note {n}</p>",
                "published": "2026-12-01T10:00:00Z", "to": [PUBLIC], "cc": [p.id + "/followers"],
                "url": f"{p.origin}/@fuzz/{n}", "sensitive": False, "summary": None, "inReplyTo": None,
                "tag": [], "attachment": [], **extra}

    def _activity(self, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        p = self.peer
        return {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
                             {"sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#"}],
                "id": f"{p.origin}/activities/{self.n}", "type": kind, "actor": p.id, "object": obj,
                "to": [PUBLIC], "cc": [self.t["group"]], **extra}

    def tpl_mastodon_note(self) -> dict[str, Any]:
        o = self.peer.origin
        note = self._note(tag=[{"type": "Mention", "href": self.t["group"], "name": "@group@alpha"},
                               {"type": "Hashtag", "href": f"{o}/tags/fuzz", "name": "#fuzz"},
                               {"type": "Emoji", "name": ":blob:", "id": f"{o}/emojis/1",
                                "icon": {"type": "Image", "mediaType": "image/png", "url": f"{o}/e.png"}}],
                          attachment=[{"type": "Document", "mediaType": "image/jpeg", "url": f"{o}/a.jpg",
                                       "name": "alt text", "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
                                       "width": 1200, "height": 800}],
                          contentMap={"en": "<p>hello</p>"}, conversation="tag:peer,2026:objectId=1:objectType=C",
                          replies={"id": f"{self.peer.origin}/notes/{self.n}/replies", "type": "Collection",
                                   "first": {"type": "CollectionPage", "items": [], "next": None}})
        return self._activity("Create", note)

    def tpl_reply_to_our_post(self) -> dict[str, Any]:
        return self._activity("Create", self._note(inReplyTo=self.t["post"], to=[PUBLIC, self.t["ada"]]))

    def tpl_poll_vote(self) -> dict[str, Any]:
        vote = self._note(name=self.rng.choice(["Mon", "Tue", "Wed", ""]), inReplyTo=self.t["proposal"],
                          content=None, to=[self.t["group"]], cc=[])
        return self._activity("Create", vote, to=[self.t["group"]], cc=[])

    def tpl_mastodon_question(self) -> dict[str, Any]:
        question = self._note(type="Question", endTime="2027-01-01T00:00:00Z", votersCount=3,
                              oneOf=[{"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": i}}
                                     for i, name in enumerate(["yes", "no", "maybe"])])
        return self._activity("Create", question)

    def tpl_misskey_quote(self) -> dict[str, Any]:
        note = self._note(_misskey_content="hello $[x2 big]", _misskey_quote=self.t["post"], quoteUrl=self.t["post"],
                          source={"content": "hello", "mediaType": "text/x.misskey.markdown"},
                          _misskey_reaction=":blob:")
        return self._activity("Create", note)

    def tpl_lemmy_page(self) -> dict[str, Any]:
        page = self._note(type="Page", name="A Lemmy post", audience=self.t["group"], mediaType="text/html",
                          source={"content": "**hi**", "mediaType": "text/markdown"}, commentsEnabled=True,
                          stickied=False)
        return self._activity("Create", page, audience=self.t["group"])

    def tpl_emoji_react(self) -> dict[str, Any]:
        return self._activity(self.rng.choice(["EmojiReact", "Like"]), self.t["post"], content="🔥",
                              tag=[{"type": "Emoji", "name": ":fire:"}])

    def tpl_follow(self) -> dict[str, Any]:
        return self._activity("Follow", self.rng.choice([self.t["group"], self.t["ada"]]), to=[self.t["group"]])

    def tpl_undo(self) -> dict[str, Any]:
        inner_kind = self.rng.choice(["Follow", "Like", "Announce", "Block"])
        target = self.t["group"] if inner_kind == "Follow" else self.t["post"]
        inner = {"id": f"{self.peer.origin}/activities/{self.n}-inner", "type": inner_kind, "actor": self.peer.id,
                 "object": target}
        return self._activity("Undo", inner if self.rng.random() < 0.8 else inner["id"])

    def tpl_answer(self) -> dict[str, Any]:
        kind = self.rng.choice(["Accept", "Reject"])
        activity = self._activity(kind, copy.deepcopy(self.world.our_follow)
                                  if self.rng.random() < 0.7 else self.t["follow"])
        if self.rng.random() < 0.3:
            del activity["id"]  # transient, as Epicyon sends them
        return activity

    def tpl_update_actor(self) -> dict[str, Any]:
        return self._activity("Update", self.peer.document())

    def tpl_update_note(self) -> dict[str, Any]:
        return self._activity("Update", self._note(content="<p>edited</p>", updated="2026-12-01T11:00:00Z"))

    def tpl_delete(self) -> dict[str, Any]:
        obj = self.rng.choice([{"id": f"{self.peer.origin}/notes/{self.rng.randrange(self.n + 1)}",
                                "type": "Tombstone"}, f"{self.peer.origin}/notes/{self.n}"])
        if self.rng.random() < 0.02:  # the peer deletes itself: rare, or the rest of its batch reaches no handler
            obj = self.peer.id
        return self._activity("Delete", obj)

    def tpl_announce(self) -> dict[str, Any]:
        obj = self.rng.choice([self.t["post"], f"{self.peer.origin}/notes/{self.n}", self.tpl_mastodon_note()])
        return self._activity("Announce", obj)

    def tpl_like(self) -> dict[str, Any]:
        return self._activity("Like", self.rng.choice([self.t["post"], self.t["proposal"]]))

    def tpl_flag(self) -> dict[str, Any]:
        return self._activity("Flag", [self.t["ada"], self.t["post"]], content="spam, please look",
                              to=[self.t["group"]])

    def tpl_other(self) -> dict[str, Any]:
        kind = self.rng.choice(["Move", "Block", "Add", "Remove", "View", "Read", "Listen", "Invite", "Join"])
        return self._activity(kind, self.rng.choice([self.peer.id, self.t["group"], self.t["post"]]),
                              target=f"{self.peer.origin}/users/fuzz/collections/featured")

    # -- mutation

    def mutate_tree(self, activity: dict[str, Any]) -> dict[str, Any]:
        for _ in range(self.rng.choice((0, 0, 1, 1, 1, 2, 2, 3, 4, 6))):
            # Walk into a random container, then change one thing in it.
            node: Any = activity
            for _ in range(self.rng.randrange(0, 3)):
                children = ([v for v in node.values() if isinstance(v, dict | list)] if isinstance(node, dict)
                            else [v for v in node if isinstance(v, dict | list)])
                if not children:
                    break
                node = self.rng.choice(children)
            op = self.rng.random()
            if isinstance(node, list):
                if node and op < 0.5:
                    node[self.rng.randrange(len(node))] = self.value()
                elif op < 0.8:
                    node.append(self.value())
                else:
                    node.extend([self.value()] * self.rng.choice((10, 100, 1000)))
                continue
            key = self.rng.choice(list(node) or FIELDS) if op < 0.6 else self.rng.choice(FIELDS)
            if op < 0.1:
                node.pop(key, None)
            elif key in ("id", "actor") and node is activity and self.rng.random() < 0.7:
                # Mostly keep the activity's own id and actor: past the origin checks is where the handlers are.
                node[key] = self.rng.choice([f"{self.peer.origin}/activities/{self.n}-{self.rng.random()}",
                                             self.value()]) if key == "id" else self.value()
            elif key == "type":
                node[key] = self.rng.choice(KINDS) if self.rng.random() < 0.8 else self.value()
            elif isinstance(node.get(key), str) and self.rng.random() < 0.3:
                text = node[key]
                cut = self.rng.randrange(len(text) + 1)
                node[key] = text[:cut] + self.rng.choice(WEIRD_STRINGS[:24]) + text[cut:]
            else:
                node[key] = self.value()
        return activity

    def mutate_bytes(self, body: bytes) -> bytes:
        op = self.rng.randrange(12)
        if op == 0 and body:
            return body[: self.rng.randrange(len(body))]
        if op == 1:
            at = self.rng.randrange(len(body) + 1)
            return body[:at] + self.rng.randbytes(self.rng.randrange(1, 8)) + body[at:]
        if op == 2:
            return body[:-1] + b', "n": ' + self.rng.choice([b"9" * 4301, b"-" + b"1" * 20_000, b"1e999", b"-1E+309",
                                                               b"NaN", b"Infinity", b"01", b"1" * 300]) + b"}"
        if op == 3:
            return body[:-1] + b', "type": "Follow", "id": "x"}'  # repeated keys
        if op == 4:
            depth = self.rng.choice((65, 100, 1000, 50_000))
            return body[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
        if op == 5:
            oddity = self.rng.choice([b"\\ud800", b"\\udfff\\ud800", b"\\u0000", b"\xed\xa0\x80", b"\xff\xfe",
                                     b"\xc0\xaf", b"\\uZZ"])
            return body[:-1] + b', "s": "' + oddity + b'"}'
        if op == 6:
            return b"\xef\xbb\xbf" + body
        if op == 7:
            return self.rng.choice([b"", b"null", b"[]", b"[{}]", b'"str"', b"{}", b"{" * 1000, b"{} {}", body * 2])
        if op == 8:  # near and over the size limit
            pad = MAX_BYTES - len(body) - 20 + self.rng.randrange(-200, 200)
            return body[:-1] + b', "pad": "' + b"x" * max(pad, 0) + b'"}'
        if op == 9:
            return body.replace(b'"', b"'", 1)
        if op == 10:
            return b"[" + body + b"]"
        return body.upper()

    def body(self) -> bytes:
        self.n += 1
        activity = self.mutate_tree(self.rng.choice(self.templates)())
        try:
            body = json.dumps(activity, ensure_ascii=self.rng.random() < 0.5).encode("utf-8", "surrogatepass")
        except ValueError:  # an int Python will not print (over 4300 digits)
            body = b"{}"
        if len(body) > MAX_BYTES * 2:
            body = body[: MAX_BYTES * 2]
        if self.rng.random() < 0.12:
            body = self.mutate_bytes(body)
        return body

    # -- headers and framing

    def signed(self, body: bytes, path: str, scheme: str) -> list[tuple[str, str]]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        from node.activitypub import rfc9421, signatures

        peer, url, host = self.peer, f"http://{NODE_HOST}:{self.world.port}{path}", f"{NODE_HOST}:{self.world.port}"
        if scheme.startswith("rfc9421"):
            ed = scheme.endswith("ed25519")
            key, key_id = (peer.ed25519_key, peer.ed25519_key_id) if ed else (peer.key, peer.key_id)
            return [("Host", host), ("Content-Type", AS_JSON),
                    *rfc9421.sign("POST", url, key_id, key, body, now=self.epoch).items()]
        headers = {"Host": host, "Date": self.date, "Digest": signatures.body_digest(body), "Content-Type": AS_JSON}
        covered = ["(request-target)", "host", "date", "digest", "content-type"]
        message = signatures.signing_string("POST", path, headers, covered)
        if scheme == "cavage-ed25519":
            signature, key_id, algorithm = peer.ed25519_key.sign(message), peer.ed25519_key_id, "hs2019"
        else:
            signature = peer.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            key_id, algorithm = peer.key_id, "rsa-sha256"
        headers["Signature"] = (f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(covered)}",'
                                f'signature="{base64.b64encode(signature).decode()}"')
        return list(headers.items())

    def header_value(self, name: str) -> str | bytes:
        r = self.rng.random()
        if r < 0.15:
            return self.rng.randbytes(self.rng.randrange(0, 20)).replace(b"\r", b"").replace(b"\n", b"")
        if r < 0.3:
            return self.rng.choice(WEIRD_STRINGS[:24]).replace("\r", "").replace("\n", "")
        choices = {
            "Signature": [f'keyId="{self.rng.choice(self.key_ids)}",algorithm="rsa-sha256",headers="(request-target)'
                          f' host date digest",signature="AAAA"', 'keyId="x",created=' + "9" * 500 +
                          ',headers="(created)",signature="AA=="', 'keyId="x",expires=-1,signature="AA=="',
                          'keyId="x",algorithm="ecdsa",signature="AA=="', "sig1=:AAAA:", 'keyId=""', "keyId"],
            "Signature-Input": [f'sig1=("@method" "@target-uri" "@authority" "content-digest");created={self.epoch};'
                                f'keyid="{self.rng.choice(self.key_ids)}"', "sig1=()", 'sig1=("@method");created=1',
                                f'sig1=("@query-param";name="a");created={self.epoch}', "a=1, a=2",
                                f'sig1=("@method" "@path" "@authority");created={2**70};keyid="x"'],
            "Digest": ["", "SHA-256=", "SHA-256=!!!", "MD5=abc", "SHA-512=" + "A" * 88, "sha-256=a,sha-256=b"],
            "Content-Digest": ["", "sha-256=:AAAA:", "sha-256=x", "sha-512=:" + "A" * 88 + ":", "sha-256=?1"],
            "Date": ["", "yesterday", "Mon, 01 Jan 1900 00:00:00 GMT", "Fri, 31 Dec 99999 23:59:59 GMT",
                     formatdate(self.epoch + 7200, usegmt=True), "9" * 400],
            "Host": ["", "１２７．０．０．１", f"{NODE_HOST.upper()}:{self.world.port}",
                     f"{NODE_HOST}.:{self.world.port}", NODE_HOST, "[::1]", "evil.example",
                     f"ａｌｐｈａ.fuzz.example:{self.world.port}"],
            "Content-Type": ["", "application/activity+json; charset=utf-8", "APPLICATION/JSON", "text/plain",
                             'application/ld+json; profile="https://www.w3.org/ns/activitystreams"', "*/*",
                             "application/json; charset=latin-1", "multipart/form-data; boundary=x"],
            "Authorization": ['Signature keyId="x",signature="AA=="', "Bearer x", "Signature "],
            "Expect": ["100-continue", "x"],
            "X-Forwarded-For": ["127.0.0.1", "::1", "1.2.3.4, 5.6.7.8"],
        }
        return self.rng.choice(choices.get(name, [""]))

    def request(self) -> tuple[bytes, bytes, bool]:
        """(the raw request, the body as the node will see it, whether it used odd framing)."""
        body = self.body()
        path = self.rng.choices(["/inbox", "/actors/group/inbox", "/actors/ada/inbox", "/actors/nobody/inbox"],
                                [80, 10, 8, 2])[0]
        r = self.rng.random()
        if r < 0.70:
            scheme = self.rng.choices(["cavage-ed25519", "rfc9421-ed25519", "cavage-rsa", "rfc9421-rsa"],
                                      [45, 45, 5, 5])[0]
            headers = self.signed(body, path, scheme)
        elif r < 0.90:
            headers = self.signed(body, path, self.rng.choice(["cavage-ed25519", "rfc9421-ed25519"]))
            names = ["Signature", "Signature-Input", "Digest", "Content-Digest", "Date", "Host", "Content-Type",
                     "Authorization", "Expect", "X-Forwarded-For"]
            for _ in range(self.rng.randrange(1, 4)):
                name, op = self.rng.choice(names), self.rng.random()
                if op < 0.3:
                    headers = [(n, v) for n, v in headers if n.lower() != name.lower()]
                elif op < 0.7:
                    headers = [(n, v) for n, v in headers if n.lower() != name.lower()] + [
                        (name, self.header_value(name))]
                else:
                    headers.append((name, self.header_value(name)))
        else:
            # Unsigned, or signed with a keyId the node must not (or cannot) fetch.
            from node.activitypub import signatures

            key_id = self.rng.choice(self.key_ids)
            headers = [("Host", f"{NODE_HOST}:{self.world.port}"), ("Date", self.date), ("Content-Type", AS_JSON),
                       ("Digest", signatures.body_digest(body))]
            if self.rng.random() < 0.8:
                garbage = base64.b64encode(self.rng.randbytes(64)).decode()
                headers.append(("Signature", f'keyId="{key_id}",algorithm="hs2019",headers="(request-target) host '
                                             f'date digest",signature="{garbage}"'))
        odd, sent, content_length = False, body, str(len(body))
        f = self.rng.random()
        if f < 0.03:
            sent = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
            content_length = str(len(sent))
        elif f < 0.045:
            headers.append(("Content-Encoding", self.rng.choice(["gzip", "deflate", "br", "x-none"])))
            odd = True
        elif f < 0.06:
            content_length = self.rng.choice(["", "-1", "+5", "0x10", "1e3", " 5", "5, 5", "١٢",
                                              str(max(len(body) - 1, 0)), "0", "99999999999999999999999"])
            if "5" in content_length and len(body) < 5:
                content_length = "0"  # never more than we send: the server would rightly wait for the rest
            odd = True
        elif f < 0.07:
            content_length = None
            headers.append(("Transfer-Encoding", "chunked"))
            sent = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                            for part in (body[i:i + 1000] for i in range(0, len(body), 1000))) + b"0\r\n\r\n"
            odd = True
        lines = [f"POST {path} HTTP/1.1".encode()]
        lines += [n.encode() + b": " + (v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape"))
                  for n, v in headers]
        if content_length is not None:
            lines.append(b"Content-Length: " + content_length.encode())
        if odd:
            lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + sent, body, odd


def expected_ids(body: bytes) -> set[str]:
    """The inbox row ids a 202 for this body may have stored: its id, or the transient answer's body hash."""
    ids = {f"urn:congregation:transient:sha256:{hashlib.sha256(body).hexdigest()}"}
    with contextlib.suppress(ValueError, RecursionError):
        activity = json.loads(body)
        if isinstance(activity, dict) and isinstance(activity.get("id"), str):
            ids.add(activity["id"])
    return ids


# --- the client -----------------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; a request with odd framing gets a connection of its own."""

    # After these the server may not have read the body (refused before reading it) and closes, or lingers to
    # drain it: the next request goes on a new connection.
    CLOSE_AFTER = frozenset({"404", "413", "417"})

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes, alone: bool) -> str:
        reused = not alone and self.writer is not None
        status = await self._send(raw, alone)
        if reused and status.startswith("no answer"):
            # The server closed the idle connection as we wrote: this request never reached it. Once more, afresh.
            status = await self._send(raw, True)
        return status

    async def _send(self, raw: bytes, alone: bool) -> str:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if alone or self.writer is None:
                    self.close()
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.writer.write(raw)
                while True:
                    head = await self.reader.readuntil(b"\r\n\r\n")
                    status = head[9:12].decode()
                    if not status.startswith("1"):
                        break
                length, close = 0, alone or status in self.CLOSE_AFTER
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                if close:
                    self.close()
                else:
                    await self.reader.readexactly(length)
                return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
            self.close()
            return f"no answer ({exc.__class__.__name__})"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(port: int, requests: list[bytes | tuple[bytes, bool]], concurrency: int) -> list[str]:
    statuses: list[str] = [""] * len(requests)
    queue = iter(range(len(requests)))

    async def worker() -> None:
        connection = Connection(port)
        for index in queue:
            item = requests[index]
            raw, alone = item if isinstance(item, tuple) else (item, False)
            statuses[index] = await connection.send(raw, alone)
        connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


# --- one process ----------------------------------------------------------------------------------------------


async def trivial_rate(requests: list[tuple[bytes, bool]], concurrency: int, seconds: float) -> float:
    """Requests/s the same client gets from a trivial aiohttp handler that reads the body and answers 202."""
    from aiohttp import web

    from tests.fediverse import free_port

    async def handler(request: web.Request) -> web.Response:
        with contextlib.suppress(Exception):
            await request.read()
        return web.json_response({"ok": True}, status=202)

    app = web.Application(client_max_size=MAX_BYTES)
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    done, started = 0, time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            await drive(port, requests, concurrency)
            done += len(requests)
    finally:
        await runner.cleanup()
    return done / (time.perf_counter() - started)


def keep_findings(index: int, batch: list[tuple[bytes, bytes, bool]], statuses: list[str],
                  result: dict[str, Any]) -> None:
    """Append a batch that caused a 5xx or a side effect to a file in the working directory, to replay it."""
    path = Path(f"fuzz_inbox-findings-{index}.txt").resolve()
    with open(path, "a", encoding="utf-8") as out:
        for (raw, _, _), status in zip(batch, statuses, strict=True):
            out.write(f"{status}\t{raw!r}\n")
        out.write("\n")
    result["findings_file"] = str(path)


async def run_process(args: argparse.Namespace) -> dict[str, Any]:
    from aiohttp import web

    from node.db import transaction
    from tests.fediverse import free_port

    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.WARNING)
    hits: list[str] = []

    async def canary(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"secret": "from inside"})

    canary_app = web.Application()
    canary_app.router.add_route("*", "/{tail:.*}", canary)
    canary_runner = web.AppRunner(canary_app, access_log=None)
    await canary_runner.setup()
    canary_port = free_port()
    await web.TCPSite(canary_runner, "127.0.0.1", canary_port).start()

    result: dict[str, Any] = {"statuses": collections.Counter(), "side_effects": collections.Counter(),
                              "side_effect_samples": [], "fivexx_samples": [], "bodies": 0,
                              "heals": 0}
    with tempfile.TemporaryDirectory(prefix="congregation-fuzz-") as tmp:
        world = await build_world(Path(tmp) / "node", canary_port, hits)
        node = world.node
        gen = Generator(world, canary_port, args.seed * 1_000_003 + args.index)
        # The same client against a trivial handler first, with requests like the campaign's.
        sample = [gen.request() for _ in range(min(args.batch, 500))]
        result["trivial_rate"] = await trivial_rate([(raw, odd) for raw, _, odd in sample], args.concurrency,
                                                    TRIVIAL_SECONDS)
        async with transaction(node.db):
            await node.db.execute("DELETE FROM fuzz_audit")
        allowed_cache = {world.peer.id}
        started = time.perf_counter()
        generating = worker_time = 0.0
        last_report = started
        while result["bodies"] < args.bodies:
            count = min(args.batch, args.bodies - result["bodies"])
            t0 = time.perf_counter()
            gen.epoch, gen.date = int(time.time()), formatdate(usegmt=True)
            batch = [gen.request() for _ in range(count)]
            generating += time.perf_counter() - t0
            statuses = await drive(world.port, [(raw, odd) for raw, _, odd in batch], args.concurrency)
            result["bodies"] += count
            accepted_ids: set[str] = set()
            for (raw, body, _), status in zip(batch, statuses, strict=True):
                result["statuses"][status] += 1
                if status.startswith("5") and len(result["fivexx_samples"]) < 5:
                    result["fivexx_samples"].append(raw[:3000].decode("utf-8", "replace"))
                if status == "202":
                    accepted_ids |= expected_ids(body)
            # What the requests wrote, the workers idle: only their own inbox rows and the signer's key cache.
            async with node.db.execute("SELECT tbl, op, ref FROM fuzz_audit") as cur:
                writes = await cur.fetchall()
            bad = any(status.startswith(("5", "no answer")) for status in statuses)
            for table, op, ref in writes:
                if table == "inbox" and op == "INSERT" and ref in accepted_ids:
                    continue
                if table in ("remote_keys", "remote_actors") and ref in allowed_cache:
                    continue
                bad = True
                result["side_effects"][f"{op} {table}"] += 1
                if len(result["side_effect_samples"]) < 5:
                    result["side_effect_samples"].append(f"{op} {table} {ref}")
            if bad:
                keep_findings(args.index, batch, statuses, result)
            t0 = time.perf_counter()
            # An hour passes per batch (the node's clock only): rows whose fetches failed are retried as they fall
            # due and given up after their last attempt, so waiting rows do not pile up into the quota's 429s.
            node.advance(3600)
            await node.drain_inbox()
            worker_time += time.perf_counter() - t0
            result["heals"] += await heal(world)
            async with transaction(node.db):
                await node.db.execute("DELETE FROM fuzz_audit")
            now = time.perf_counter()
            if args.progress and now - last_report > args.progress:
                last_report = now
                print(f"  [process {args.index}] {result['bodies']:,} bodies, "
                      f"{result['bodies'] / (now - started):,.0f}/s, 5xx "
                      f"{sum(v for k, v in result['statuses'].items() if k.startswith('5'))}",
                      file=sys.stderr, flush=True)
        elapsed = time.perf_counter() - started
        async with node.db.execute("SELECT COUNT(*), SUM(outcome LIKE 'bug:%') FROM inbox") as cur:
            rows, bugs = await cur.fetchone()
        async with node.db.execute(
                "SELECT outcome, COUNT(*) FROM inbox GROUP BY outcome ORDER BY 2 DESC LIMIT 12") as cur:
            outcomes = [(str(o)[:80], c) for o, c in await cur.fetchall()]
        async with node.db.execute("SELECT activity_id, outcome FROM inbox WHERE outcome LIKE 'bug:%' LIMIT 5") as cur:
            bug_samples = [f"{a[:100]}: {o[:300]}" for a, o in await cur.fetchall()]
        await node.close()
        await world.peer.close()
    await canary_runner.cleanup()
    result.update(elapsed=elapsed, generating=generating, worker=worker_time, inbox_rows=rows, bugs=bugs or 0,
                  bug_samples=bug_samples, outcomes=outcomes, canary_hits=len(hits), log_errors=errors.count,
                  log_samples=errors.samples)
    return result


# --- the campaign ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=1_000_000, help="requests in all (default 1,000,000)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="processes, each a node and a client (default: one per core)")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed; same seed, same bodies (default 1)")
    parser.add_argument("--batch", type=int, default=500, help="requests between side-effect audits (default 500)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per process (default 16)")
    parser.add_argument("--progress", type=float, default=60.0, help="seconds between progress lines (0: none)")
    parser.add_argument("--role", choices=("main", "process"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "process":
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(run_process(args))
        else:
            result = uvloop.run(run_process(args))
        result["statuses"] = dict(result["statuses"])
        result["side_effects"] = dict(result["side_effects"])
        print(json.dumps(result))
        return 0
    return campaign(args)


def campaign(args: argparse.Namespace) -> int:
    import platform

    import aiohttp

    began = time.monotonic()
    print(f"congregation inbox fuzzing: {args.bodies:,} bodies, {args.processes} processes, seed {args.seed}, "
          f"batches of {args.batch}, {args.concurrency} in flight per process; {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}", flush=True)
    share = [args.bodies // args.processes + (i < args.bodies % args.processes) for i in range(args.processes)]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONGREGATION_")},
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), "--role", "process", "--index", str(i), "--bodies",
                               str(n), "--seed", str(args.seed), "--batch", str(args.batch), "--concurrency",
                               str(args.concurrency), "--progress", str(args.progress)],
                              stdout=subprocess.PIPE, text=True, env=env)
             for i, n in enumerate(share) if n]
    results = []
    try:
        for proc in procs:
            out, _ = proc.communicate()
            if proc.returncode != 0:
                print(f"a campaign process failed with exit code {proc.returncode}", flush=True)
                return 2
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
    wall = time.monotonic() - began
    return report(args, results, wall)


def report(args: argparse.Namespace, results: list[dict[str, Any]], wall: float) -> int:
    statuses: collections.Counter[str] = collections.Counter()
    side_effects: collections.Counter[str] = collections.Counter()
    for result in results:
        statuses.update(result["statuses"])
        side_effects.update(result["side_effects"])
    bodies = sum(r["bodies"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    rate = bodies / elapsed
    trivial = sum(r["trivial_rate"] for r in results)
    fivexx = sum(n for status, n in statuses.items() if status.startswith("5"))
    no_answer = sum(n for status, n in statuses.items() if status.startswith("no answer"))
    bugs = sum(r["bugs"] for r in results)
    canary = sum(r["canary_hits"] for r in results)
    log_errors = sum(r["log_errors"] for r in results)
    width = 44
    print()
    print("=" * 100)
    print(f"RESULTS  (seed {args.seed}; {len(results)} processes, each a node + a peer + a client; "
          f"{os.cpu_count()} CPUs; total {wall:.0f} s)")
    print("-" * 100)
    print(f"{'bodies tried':<{width}}{bodies:12,}")
    print(f"{'bodies/s (all processes)':<{width}}{rate:12,.0f}   ({elapsed:.1f} s of fuzzing)")
    print(f"{'5xx answers':<{width}}{fivexx:12,}   {'OK' if fivexx == 0 else 'FAIL'}")
    print(f"{'answers by status':<{width}}{', '.join(f'{k}: {v:,}' for k, v in sorted(statuses.items()))}")
    print(f"{'requests left without an answer':<{width}}{no_answer:12,}   "
          f"{'OK' if not no_answer else 'CHECK: a hang, or a body shorter than its Content-Length (findings file)'}")
    print(f"{'side effects of requests (audited per batch)':<{width}}{sum(side_effects.values()):12,}   "
          f"{'OK' if not side_effects else 'FAIL ' + str(dict(side_effects))}")
    print(f"{'inbox rows processed by the worker':<{width}}{sum(r['inbox_rows'] for r in results):12,}")
    print(f"{'worker outcomes `bug: …`':<{width}}{bugs:12,}   {'OK' if not bugs else 'FAIL'}")
    print(f"{'connections reaching the canary':<{width}}{canary:12,}   {'OK' if not canary else 'FAIL'}")
    print(f"{'ERROR log lines from the node':<{width}}{log_errors:12,}")
    print(f"{'trivial aiohttp handler, same client':<{width}}{trivial:12,.0f}/s   (summed over processes, "
          f"{TRIVIAL_SECONDS:g} s each)")
    print(f"{'fuzzing ÷ trivial handler':<{width}}{rate / trivial:12.3f}")
    gen = sum(r["generating"] for r in results) / len(results)
    work = sum(r["worker"] for r in results) / len(results)
    print(f"{'time per process generating / in the worker':<{width}}{gen:9.1f} s / {work:.1f} s of {elapsed:.1f} s")
    print(f"{'batches after which the peer was restored':<{width}}{sum(r['heals'] for r in results):12,}   "
          f"(it deleted itself, rotated its key or unfollowed, as fuzzed activities may)")
    print(f"{'a million bodies would take':<{width}}{1_000_000 / rate / 60:9.1f} min at this rate")
    outcomes: collections.Counter[str] = collections.Counter()
    for result in results:
        outcomes.update(dict(result["outcomes"]))
    print(f"{'commonest worker outcomes':<{width}}" + "; ".join(f"{o} ×{c:,}" for o, c in outcomes.most_common(8)))
    for result in results:
        for sample in result["fivexx_samples"]:
            print(f"5xx for: {sample[:1500]!r}")
        for sample in result["side_effect_samples"]:
            print(f"side effect: {sample}")
        for sample in result["bug_samples"]:
            print(f"worker bug: {sample}")
        for sample in result["log_samples"]:
            print(f"node error log: {sample}")
        if "findings_file" in result:
            print(f"the batches with findings, to replay: {result['findings_file']}")
    print("=" * 100)
    failed = fivexx or side_effects or bugs or canary
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
