"""What tests build: members (pooled keys, a cheap argon2), follows, proposals, siblings, invitations, Fedify's side.

Shared by many test modules, so no test module imports another.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import aiohttp

from node.activitypub import signatures
from node.db import transaction
from node.governance import accounts, membership, proposals
from node.processing import proposals as processing_proposals
from node.store import follows, local_actors
from tests.fediverse import (
    AS_JSON,
    CHEAP_HASHER,
    FakeActor,
    InProcessNode,
    NodeProcess,
    cli,
    eventually,
    pooled_key,
    run_cli,
)
from tests.webclient import PASSWORD, Visitor, text_of

# The moment governance tests pretend it is (proposals open, close and are voted on relative to it).
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
_hashes: dict[str, str] = {}


def keypair() -> tuple[str, str]:
    """An RSA key pair (private PEM, public PEM) from the pool: making one costs ~35 ms."""
    key = pooled_key()
    return signatures.private_pem(key), signatures.public_pem(key)


async def password_hash(password: str = PASSWORD) -> str:
    """A real, cheap argon2id hash of `password`, made once per password."""
    if password not in _hashes:
        _hashes[password] = await accounts.hash_password(password, CHEAP_HASHER)
    return _hashes[password]


# Members


async def quick_member(node: InProcessNode, handle: str, tier: str = "friend") -> int:
    """A member who can sign in with PASSWORD, added straight into the node's database."""
    return await membership.add_member(node.db, handle, handle.capitalize(), tier, *keypair(),
                                       password_hash=await password_hash())


async def member(node: InProcessNode, handle: str, tier: str = "friend"):
    """A member without a password, as governance sees them (a LocalActor)."""
    await membership.add_member(node.db, handle, handle.capitalize(), tier, *keypair())
    return await local_actors.by_username(node.db, handle)


async def add_member(node: InProcessNode, handle: str = "ada"):
    """A Friend added as `congregation member add HANDLE` adds one (the size limits apply); a LocalActor."""
    await membership.add_member(node.db, handle, "", "friend", *keypair(), config=node.config)
    return await local_actors.by_username(node.db, handle)


# Proposals


async def open_proposal(node: InProcessNode, author, **kwargs):
    """A proposal opened at NOW by `author`: a consent one closing in three days unless told otherwise."""
    kwargs.setdefault("kind", "consent")
    kwargs.setdefault("title", "Meet on Thursdays")
    kwargs.setdefault("closes_at", NOW + timedelta(days=3))
    events = await proposals.create(node.db, node.config, author, now=NOW, **kwargs)
    return events[0].proposal


# Follows, deliveries and siblings between nodes on loopback


async def follow(node: InProcessNode, remote: FakeActor, session: aiohttp.ClientSession, target: str) -> None:
    """`remote` follows `target` (the Group, auto-accepted, or a member); the Accept is sent."""
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Follow", target))
    assert status == 202
    await node.drain_inbox()
    await deliver_all(node)
    assert await node.count("follows", "follower = ? AND followee = ? AND state = 'accepted'", remote.id, target)


async def node_follows(node: InProcessNode, follower: str, remote_id: str) -> None:
    """Record that a local actor follows `remote_id` (its Accept already arrived)."""
    async with transaction(node.db):
        await follows.upsert(node.db, follower, remote_id, f"{follower}#follows/{remote_id}", "accepted")


async def deliver_all(node: InProcessNode) -> int:
    total = 0
    while n := await node.run_deliveries():
        total += n
    return total


def received(remote: FakeActor, kind: str | None = None) -> list[dict[str, Any]]:
    return [r["activity"] for r in remote.received if kind is None or r["activity"].get("type") == kind]


async def get_as(session: aiohttp.ClientSession, url: str, signer: FakeActor | None = None) -> tuple[int, Any]:
    headers = {"Accept": AS_JSON}
    if signer is not None:
        headers.update(signer.signed_headers("GET", url, None))
    async with session.get(url, headers=headers) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def exchange(*nodes: InProcessNode) -> None:
    """Deliver and process until nothing moves between the nodes."""
    for _ in range(5):
        moved = 0
        for node in nodes:
            moved += await deliver_all(node)
            moved += await node.drain_inbox()
        if not moved:
            return


async def become_siblings(a: InProcessNode, b: InProcessNode) -> None:
    """Each Group follows the other, and each side approves, as the operators would with the CLI."""
    for follower, followee in ((a, b), (b, a)):
        assert await run_cli("follow", followee.group_id, "--data", str(follower.config.data_dir)) == 0
        await exchange(a, b)
        async with followee.db.execute("SELECT id FROM follows WHERE follower = ? AND state = 'pending'",
                                       (follower.group_id,)) as cur:
            (request,) = await cur.fetchone()
        assert await run_cli("follows", "approve", str(request), "--data", str(followee.config.data_dir)) == 0
        await exchange(a, b)


def approve_pending(node: NodeProcess, follower: str):
    """Approve, with the CLI, the follow request from `follower` once it shows up at the running `node`."""
    async def pending():
        _, out, _ = cli("follows", "list", "--state", "pending", "--data", str(node.data))
        lines = [line for line in out.splitlines() if follower in line]
        return lines[0].split("\t", 1)[0] if lines else None

    async def approve() -> None:
        request = await eventually(pending)
        assert cli("follows", "approve", request, "--data", str(node.data))[0] == 0

    return approve()


# Invitations over HTTP

LINK_RE = re.compile(r'<code class="link">([^<]+)</code>')


def shown_link(page: str) -> str:
    """The one-time link a page shows in its <code class="link">."""
    match = LINK_RE.search(page)
    assert match, "no link on the page"
    return unescape(match.group(1)).strip()


async def create_invitation(visitor: Visitor, tier: str = "friend", note: str = "") -> str:
    """As the signed-in visitor, make an invitation on /invitations; the link's path."""
    status, page = await visitor.post("/invitations", {"tier": tier, "note": note})
    assert status == 200, text_of(page)
    return shown_link(page).removeprefix(visitor.node.base)


async def join(visitor: Visitor, path: str, handle: str, password: str = PASSWORD, again: str | None = None,
               display_name: str = "", page: str | None = None) -> tuple[int, str]:
    """Fill in the invitation's form as the newcomer would (CSRF token from `page` when the link shows no form)."""
    return await visitor.post(path, {"handle": handle, "display_name": display_name, "password": password,
                                     "password_again": password if again is None else again}, page=page)


async def signed_in(node: InProcessNode, browsers, handle: str = "ada", tier: str = "partner") -> Visitor:
    """A member added and signed in, in a browser of their own."""
    await quick_member(node, handle, tier)
    visitor = browsers(node)
    assert (await visitor.sign_in(handle))[0] == 200
    return visitor


# The Fedify peer (the `fedify` fixture in conftest.py starts it)


async def control(session: aiohttp.ClientSession, method: str, url: str, **kwargs):
    """Ask the Fedify peer's test-only /_control API: (status, JSON answer)."""
    async with session.request(method, url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def fedify_follows_group(node: InProcessNode, fedify: str, session: aiohttp.ClientSession) -> None:
    """The Fedify peer follows the node's Group, which accepts at once."""
    status, sent = await control(session, "POST", f"{fedify}/_control/follow", json={"target": node.group_id})
    assert status == 200, sent
    await node.drain_inbox()
    await deliver_all(node)
    status, following = await control(session, "GET", f"{fedify}/_control/following")
    assert "accepted" in str(following)


async def legacy_log_entry(node: InProcessNode, title: str) -> None:
    """A version-1 decision-log entry as nodes wrote them before signed records (issue 12): the whole entry in
    clear, RSA-signed with the Group's key, chained after the last entry."""
    from node.governance import decision_log
    from node.store import proposals as proposals_store

    group = await local_actors.group(node.db)
    last = await proposals_store.last_entry(node.db)
    seq = last.seq + 1 if last else 1
    entry = {"proposal": f"{node.base}/proposals/legacy-{seq}", "title": title, "kind": "consent",
             "scope": "congregation", "result": "passed", "counts": {"agree": 1}, "seq": seq,
             "prev": last.hash if last else decision_log.GENESIS}
    async with transaction(node.db):
        await proposals_store.append_entry(node.db, seq, entry["proposal"], decision_log.canonical(entry).decode(),
                                           decision_log.digest(entry),
                                           decision_log.sign(group.private_key_pem, entry), version=1)


# The Assembly


def advance_clocks(nodes, seconds: float) -> None:
    """Move every node's clock by the same amount (nodes that decide together share one time)."""
    for node in nodes:
        node.advance(seconds)


async def table_to_assembly(node, title="Share a van between our Congregations", days=3, **args):
    """A Partner opens the tabling decision; the members consent; the clock passes its closing; it is enacted."""
    partner = await member(node, "pia", "partner")
    now = datetime.fromtimestamp(node.clock.now(), UTC)
    closes = now + timedelta(days=days)
    events = await processing_proposals.open_proposal(
        node.db, node.config, partner, kind="consent", title=f"Table: {title}", closes_at=now + timedelta(hours=1),
        action="table_assembly",
        action_args={"title": title, "details": "One van, a shared calendar.", "kind": "consent",
                     "closes_at": closes.isoformat(), "quorum_percent": 50, "finality_seconds": 3600, **args})
    tabling = events[0].proposal
    await processing_proposals.take_stance(node.db, node.config, tabling, partner, ["agree"])
    return tabling


# Decision logs (tests/test_log_witness*.py)


async def decide(node, *titles: str) -> None:
    """One closed proposal per title, each an entry of the node's decision log."""
    ada = await local_actors.by_username(node.db, "ada") or await member(node, "ada", "partner")
    for hours, title in enumerate(titles, start=1):
        await proposals.create(node.db, node.config, ada, kind="consent", title=title, scope="public",
                               closes_at=datetime.fromtimestamp(node.clock.now(), UTC) + timedelta(hours=hours))
    await node.pass_closing_time()
    await node.close_proposals()


async def rewrite(node, seq: int, body: dict) -> None:
    """Rewrite the log from `seq` in the node's database, as an operator with its key could: entry `seq` re-signed
    with another body, every later entry re-chained after it and re-signed. The log still verifies on its own."""
    from node import uris
    from node.governance import decision_log, records

    pem = await decision_log.ensure_key(node.db)
    method = uris.record_key(node.config, node.config.group_handle)
    rows = await node.db.execute_fetchall("SELECT seq, entry FROM decision_log WHERE seq >= ? ORDER BY seq", (seq,))
    [(prev,)] = await node.db.execute_fetchall("SELECT hash FROM decision_log WHERE seq = ?", (seq - 1,))
    async with transaction(node.db):
        for number, stored in rows:
            old = json.loads(stored)
            new_body = body if number == seq else old["body"]
            entry = records.make_entry(number, prev, old["header"]["visibility"], new_body, records.new_salt(), pem,
                                       method)
            prev = records.header_hash(entry["header"])
            await node.db.execute("UPDATE decision_log SET entry = ?, hash = ?, signature = ? WHERE seq = ?",
                                  (decision_log.canonical(entry).decode(), prev, entry["proof"]["proofValue"], number))
