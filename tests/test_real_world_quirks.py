"""What other real servers do that the specifications allow or that we must live with, each played by a loopback
server under a made-up name, against a node with the SSRF guard on.

- Epicyon answers a delivery 202 without a Content-Length and keeps the body open;
- Epicyon sends its Accept and Reject without an id (transient activities);
- servers ask WebFinger for acct:name@host without our non-default port;
- a follow request approved later must not leave its inbox row saying "pending approval".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

import aiohttp
import pytest

from node.activitypub.fetch import ANSWER_BODY_BYTES
from node.appkeys import HTTP
from node.processing.follows import answer_request, follow
from node.store import local_actors
from tests.delivery_fakes import queue, row
from tests.factories import deliver_all, received
from tests.fediverse import FakeActor, InProcessNode, free_port, init_node, run_cli
from tests.resolver import LoopbackDNS

PEER = "epicyon.test.example"


@dataclass
class NamedActor(FakeActor):
    """A FakeActor reached by a made-up public name (through the test DNS) rather than by 127.0.0.1."""

    host: str = PEER

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
async def dns():
    return LoopbackDNS()


@pytest.fixture
async def alpha(tmp_path, dns):
    """A node at alpha.test.example with the SSRF guard on; its clock is the app's, moved only by the test."""
    port = free_port()
    config = init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example")
    dns.add("alpha.test.example", port)
    node = await InProcessNode(config, resolver=dns).start()
    yield node
    await node.close()


@pytest.fixture
async def peer(dns):
    actor = await NamedActor(name="epi").start()
    dns.add(PEER, actor.port)
    yield actor
    await actor.close()


@pytest.fixture
async def session(dns):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as s:
        yield s


# Verifying a signature caches the signer's key and document: not an effect of the activity (see inbox.py).
KEY_CACHE = {"remote_keys", "remote_actors"}


def changed_tables(before: dict, after: dict) -> set[str]:
    return {table for table in after if before.get(table) != after[table]}


# A 2xx whose body never ends


@pytest.fixture
async def endless_body(dns):
    """An inbox that answers a status (202 unless the test says) and its headers, no Content-Length, then holds the
    body open until released."""
    release = asyncio.Event()
    requests: list[bytes] = []
    # "stream": after the first bytes, keep sending more (a body that never ends, and never pauses either)
    status = {"line": b"202 Accepted", "stream": False}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            requests.append(head + await reader.readexactly(length))
            writer.write(b"HTTP/1.1 " + status["line"] + b"\r\nContent-Type: application/json\r\n"
                         b"Connection: keep-alive\r\n\r\n{\"ok\": ")
            await writer.drain()
            while status["stream"] and not release.is_set():
                writer.write(b"[" * 65536)
                await writer.drain()
            await release.wait()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    dns.add("slow.test.example", port)
    try:
        yield f"http://slow.test.example:{port}/inbox", requests, release, status
    finally:
        release.set()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("stream", [False, True], ids=["held-open", "streaming"])
async def test_delivery__a_202_whose_body_never_ends_is_done_without_waiting_for_it(alpha, endless_body, stream):
    # Given a delivery queued to an inbox that answers 202 and then never finishes its body (held open, or pouring)
    inbox, requests, release, status = endless_body
    status["stream"] = stream
    await queue(alpha, alpha.clock, [inbox])
    before = await alpha.snapshot()
    # When the app's delivery worker makes one pass
    assert await alpha.run_deliveries() == 1
    # Then the pass ended while the body was still held open, and the delivery is done with its 202
    assert not release.is_set()
    assert len(requests) == 1 and requests[0].startswith(b"POST /inbox ")
    delivery = await row(alpha)
    assert (delivery["state"], delivery["last_status"], delivery["last_error"]) == ("done", 202, None)
    # And nothing is left to retry, and only the delivery and the host's health changed
    assert await alpha.run_deliveries() == 0
    assert changed_tables(before, await alpha.snapshot()) <= {"deliveries", "hosts"}


@pytest.mark.parametrize("stream", [False, True], ids=["held-open", "streaming"])
async def test_delivery__a_final_refusal_whose_body_never_ends_is_still_final(alpha, endless_body, stream):
    # Given a delivery queued to an inbox that answers 410 Gone and then never finishes its body
    inbox, _, release, status = endless_body
    status["line"], status["stream"] = b"410 Gone", stream
    await queue(alpha, alpha.clock, [inbox])
    # When the app's delivery worker makes one pass (an error body is waited for a moment only: it is for the log)
    assert await alpha.run_deliveries() == 1
    # Then the 410 counts, as final, rather than a timeout to retry
    assert not release.is_set()
    delivery = await row(alpha)
    assert (delivery["state"], delivery["last_status"]) == ("failed", 410)
    assert delivery["last_error"].startswith('{"ok": ')
    # And what is kept of the body is capped, however much of it poured in
    assert len(delivery["last_error"]) <= ANSWER_BODY_BYTES + 100


# Accept and Reject without an id


async def _group_follows(alpha: InProcessNode, peer: NamedActor) -> dict:
    """The Group asks to follow `peer`; returns the Follow as the peer received it."""
    group = await local_actors.group(alpha.db)
    await follow(alpha.db, alpha.config, group, alpha.app[HTTP], peer.id)
    await deliver_all(alpha)
    (sent,) = received(peer, "Follow")
    return sent


def _transient(peer: NamedActor, kind: str, follow_activity: dict, **changes) -> dict:
    activity = peer.activity(kind, {**follow_activity, **changes})
    del activity["id"]
    return activity


async def _follow_state(alpha: InProcessNode, peer: NamedActor) -> str:
    async with alpha.db.execute("SELECT state FROM follows WHERE follower = ? AND followee = ?",
                                (alpha.group_id, peer.id)) as cur:
        return (await cur.fetchone())[0]


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded-follow", "follow-by-id"])
@pytest.mark.parametrize("kind, state, outcome", [("Accept", "accepted", "follow accepted"),
                                                  ("Reject", "rejected", "follow rejected")])
async def test_inbox__an_answer_without_an_id_settles_our_follow_once(alpha, peer, session, kind, state, outcome,
                                                                    embedded):
    # Given the Group's pending follow of the peer
    sent = await _group_follows(alpha, peer)
    assert await _follow_state(alpha, peer) == "pending"
    # When the peer answers it with an id-less (transient) Accept or Reject embedding our Follow
    answer = _transient(peer, kind, sent)
    if not embedded:
        answer["object"] = sent["id"]
    body = json.dumps(answer).encode()
    assert (await peer.post(session, alpha.base + "/inbox", body))[0] == 202
    await alpha.drain_inbox()
    # Then the follow is settled, and the row is kept under a key derived from the body
    assert await _follow_state(alpha, peer) == state
    async with alpha.db.execute("SELECT activity_id, type, outcome FROM inbox") as cur:
        ((key, kind_stored, recorded),) = await cur.fetchall()
    assert key.startswith("urn:congregation:transient:sha256:") and (kind_stored, recorded) == (kind, outcome)
    # And the same activity replayed (freshly signed) is taken as the one already held
    before = await alpha.snapshot()
    assert (await peer.post(session, alpha.base + "/inbox", body))[0] == 202
    assert await alpha.drain_inbox() == 0
    assert await alpha.snapshot() == before


@pytest.mark.parametrize("case", ["follow-of-someone-else", "not-a-follow", "follow-by-a-stranger", "create",
                                  "type-is-a-list", "reference-elsewhere", "empty-id", "id-not-a-string"])
async def test_inbox__other_activities_without_an_id_are_still_refused(alpha, peer, session, case):
    # Given the Group's pending follow of the peer
    sent = await _group_follows(alpha, peer)
    activity = {
        # the peer "accepts" a Follow whose object is another actor
        "follow-of-someone-else": _transient(peer, "Accept", sent, object="http://other.test.example/u"),
        "not-a-follow": _transient(peer, "Accept", sent, type="Like"),
        # a Follow made by an actor that is not ours
        "follow-by-a-stranger": _transient(peer, "Accept", sent, actor="http://other.test.example/u"),
        "create": _transient(peer, "Create", {"type": "Note", "content": "hi", "attributedTo": peer.id}),
        "type-is-a-list": {**_transient(peer, "Accept", sent), "type": ["Accept"]},
        # a bare reference must at least be one of our activities
        "reference-elsewhere": {**_transient(peer, "Accept", sent), "object": "http://other.test.example/follow"},
        "empty-id": {**_transient(peer, "Accept", sent), "id": ""},
        "id-not-a-string": {**_transient(peer, "Accept", sent), "id": {"id": peer.origin + "/a/1"}},
    }[case]
    before = await alpha.snapshot()
    # When the peer sends it without an id
    status, text = await peer.post(session, alpha.base + "/inbox", activity)
    # Then it is refused as before, and nothing changed
    assert (status, json.loads(text)["error"]) == (400, "the activity has no http(s) id")
    assert await alpha.drain_inbox() == 0
    assert changed_tables(before, await alpha.snapshot()) <= KEY_CACHE
    assert await _follow_state(alpha, peer) == "pending"


@pytest.mark.parametrize("kind", ["Accept", "Reject"])
async def test_inbox__a_third_party_cannot_settle_our_follow_with_an_answer_without_an_id(alpha, peer, session, dns,
                                                                                        kind):
    # Given the Group's pending follow of the peer, and mallory, another server's actor, who has seen our Follow
    sent = await _group_follows(alpha, peer)
    mallory = await NamedActor(name="mallory", host="mallory.test.example").start()
    try:
        dns.add(mallory.host, mallory.port)
        for embedded in (sent, sent["id"]):
            before = await alpha.snapshot()
            # When mallory, signing as herself, sends an id-less Accept (or Reject) of it
            answer = _transient(mallory, kind, sent)
            answer["object"] = embedded
            status, _ = await mallory.post(session, alpha.base + "/inbox", answer)
            await alpha.drain_inbox()
            # Then the follow is still pending, and nothing changed but her key, cached as the signature was
            # checked: an embedded Follow is refused at the door; a bare reference to one of our activities is
            # kept (as any signed activity) and the handler, finding the Follow is not hers to answer, ignores it
            assert await _follow_state(alpha, peer) == "pending"
            if isinstance(embedded, dict):
                assert status == 400
                assert changed_tables(before, await alpha.snapshot()) <= KEY_CACHE
            else:
                assert status == 202
                assert changed_tables(before, await alpha.snapshot()) <= KEY_CACHE | {"inbox"}
                async with alpha.db.execute("SELECT outcome FROM inbox ORDER BY id DESC LIMIT 1") as cur:
                    assert (await cur.fetchone())[0].startswith("ignored: not ")
    finally:
        await mallory.close()


# WebFinger without our port


@pytest.mark.parametrize("domain, expected", [
    ("{host}", 200), ("{host}:{port}", 200), ("{HOST}", 200), ("{HOST}:{port}", 200),
    ("{host}:1", 404), ("other.test.example", 404), ("other.test.example:{port}", 404), ("{host}:0{port}", 404),
    ("{host}:{port}0", 404), ("{host}:", 404), ("evil.example@{host}", 404), ("{host}.evil.example", 404),
    ("evil-{host}", 404), ("{host}:{port}:{port}", 404),
])
async def test_webfinger__our_bare_host_is_ours_on_a_non_default_port(alpha, session, domain, expected):
    # Given a node served on a non-default port
    host, port = alpha.config.host.rsplit(":", 1)
    domain = domain.format(host=host, HOST=host.upper(), port=port)
    before = await alpha.snapshot()
    # When a server asks for acct:group@DOMAIN
    async with session.get(f"{alpha.base}/.well-known/webfinger", params={"resource": f"acct:group@{domain}"}) as r:
        status, jrd = r.status, await r.json(content_type=None)
    # Then our host name is ours with or without the port, and any other host or port is not; nothing is stored
    assert status == expected
    assert await alpha.snapshot() == before
    if expected == 200:
        assert jrd["subject"] == f"acct:group@{alpha.config.host}"
        assert {"rel": "self", "type": "application/activity+json", "href": alpha.group_id} in jrd["links"]


# The outcome of a follow request approved later


@pytest.mark.parametrize("by", ["processing", "cli"])
@pytest.mark.parametrize("accept, outcome", [(True, "accepted"), (False, "rejected")])
async def test_inbox_row__says_what_became_of_a_follow_request_once_answered(alpha, peer, session, accept, outcome,
                                                                            by):
    # Given a Follow of the Group, processed and waiting for a person's approval
    activity = peer.activity("Follow", alpha.group_id)
    assert (await peer.post(session, alpha.base + "/inbox", activity))[0] == 202
    await alpha.drain_inbox()
    async with alpha.db.execute("SELECT * FROM inbox") as cur:
        (held,) = [dict(r) for r in await cur.fetchall()]
    assert held["outcome"] == "pending approval"
    async with alpha.db.execute("SELECT id FROM follows WHERE follower = ?", (peer.id,)) as cur:
        (request_id,) = await cur.fetchone()
    # When a Partner approves (or rejects) it, here or with `congregation follows approve|reject`
    if by == "cli":
        assert await run_cli("follows", "approve" if accept else "reject", str(request_id),
                             "--data", str(alpha.config.data_dir)) == 0
    else:
        group = await local_actors.group(alpha.db)
        await answer_request(alpha.db, alpha.config, group, alpha.app[HTTP], request_id, accept)
    # Then the Follow's inbox row records what finally happened, and nothing else about it changed
    async with alpha.db.execute("SELECT * FROM inbox") as cur:
        (after,) = [dict(r) for r in await cur.fetchall()]
    assert after == {**held, "outcome": outcome}
    # And the answer still went out
    await deliver_all(alpha)
    assert [a["object"]["id"] for a in received(peer, "Accept" if accept else "Reject")] == [activity["id"]]
