"""Reports with a Fedify 2.3.6 peer, over real HTTP with the node's SSRF guard on (the peer is reached by a made-up
name through the test DNS): a member's report, forwarded by a Partner, reaches the peer as the Group's `Flag`,
verified by Fedify; the peer's own `Flag` about a member's post lands in the Partners' queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest

from node import config as configuration
from node.processing.posts import publish_post
from node.store import local_actors
from tests.factories import control, deliver_all, quick_member
from tests.fediverse import InProcessNode, eventually, free_port, init_node, update_settings
from tests.resolver import LoopbackDNS
from tests.webclient import Visitor, text_of

pytestmark = pytest.mark.interop
FEDIFY_HOST = "fedify.test.example"
INTEROP = Path(__file__).parent / "interop"


@pytest.fixture
async def fedify_named(tmp_path):
    """A Fedify peer whose URIs name FEDIFY_HOST: (its control base on 127.0.0.1, its origin, its port)."""
    node_bin = shutil.which("node")
    assert node_bin, "Node.js is needed for the Fedify interop test"
    log = open(tmp_path / "fedify.log", "wb")  # noqa: SIM115 - closed below
    proc = await asyncio.create_subprocess_exec(node_bin, str(INTEROP / "fedify_peer.mjs"), "0",
                                                stdout=asyncio.subprocess.PIPE, stderr=log,
                                                env={**os.environ, "PEER_ORIGIN_HOST": FEDIFY_HOST})
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"READY "), (line, (tmp_path / "fedify.log").read_text()[-2000:])
        origin = line.split()[1].decode()
        port = int(origin.rsplit(":", 1)[1])
        yield f"http://127.0.0.1:{port}", origin, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        log.close()


@pytest.fixture
async def guarded_node(tmp_path, fedify_named):
    """A node that reaches the peer only through the test DNS: private addresses are not allowed."""
    _, _, fedify_port = fedify_named
    port = free_port()
    data = tmp_path / "alpha"
    init_node(data, port, "Alpha", public_follows="auto")
    update_settings(data, allow_private_addresses=False)
    config = configuration.load(data, env={})
    assert config.allow_private_addresses is False
    node = await InProcessNode(config, resolver=LoopbackDNS().add(FEDIFY_HOST, fedify_port)).start()
    yield node
    await node.close()


async def test_fedify__a_forwarded_report_arrives_as_a_verified_flag_and_its_flag_lands_in_the_queue(
        guarded_node, fedify_named, session):
    node, (fedify, origin, _) = guarded_node, fedify_named
    peer = f"{origin}/users/peer"
    # Given the peer follows the Group (accepted, the Accept delivered through the guard) and posts to it
    status, sent = await control(session, "POST", f"{fedify}/_control/follow", json={"target": node.group_id})
    assert status == 200, sent
    await node.drain_inbox()
    assert await deliver_all(node) == 1
    status, sent = await control(session, "POST", f"{fedify}/_control/note",
                                 json={"target": node.group_id, "content": "<p>Cheap pills here</p>"})
    assert status == 200, sent
    await eventually(lambda: node.count("inbox", "activity_id = ?", sent["createId"]))
    await node.drain_inbox()
    await quick_member(node, "ada")
    await quick_member(node, "pat", "partner")
    ada, pat = Visitor(node), Visitor(node)
    try:
        assert (await ada.sign_in("ada"))[0] == 200 and (await pat.sign_in("pat"))[0] == 200

        # When ada reports the peer's post and pat forwards the report
        status, _ = await ada.post("/reports", {"post": sent["noteId"], "comment": "Spam"},
                                   page=f"/reports/new?post={sent['noteId']}")
        assert status == 200
        async with node.db.execute("SELECT id FROM reports") as cur:
            (report,) = await cur.fetchone()
        status, page = await pat.post(f"/reports/{report}/forward", {"comment": "Spam, pills"}, page="/reports")
        assert status == 200 and "Forwarded" in text_of(page)
        assert await deliver_all(node) == 1

        # Then Fedify received the Group's Flag, verified, naming the peer and its post, with the comment
        status, events = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Flag"})
        assert len(events) == 1, events
        [flag] = events
        assert flag["verified"] is True and flag["actor"] == node.group_id
        assert flag["signature"]["keyId"] == node.group_id + "#main-key"
        assert flag["objects"] == [peer, sent["noteId"]] and flag["content"] == "Spam, pills"
        assert "ada" not in json.dumps(flag["activity"])

        # When the peer flags ada's public post to the Group's inbox
        ada_actor = await local_actors.by_username(node.db, "ada")
        post = await publish_post(node.db, node.config, ada_actor, "Hello fediverse", "public")
        post_uri, ada_uri = f"{node.base}/posts/{post.uuid}", f"{node.base}/actors/ada"
        status, flagged = await control(session, "POST", f"{fedify}/_control/flag",
                                        json={"target": node.group_id, "objects": [ada_uri, post_uri],
                                              "content": "Rude to us"})
        assert status == 200, flagged
        await eventually(lambda: node.count("inbox", "activity_id = ?", flagged["flagId"]))
        await node.drain_inbox()

        # Then it is a report from the peer's server in the Partners' queue
        async with node.db.execute("SELECT reporter_uri, account, posts, comment FROM reports WHERE id != ?",
                                   (report,)) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
        assert rows == [(peer, ada_uri, json.dumps([post_uri]), "Rude to us")]
        status, queue = await pat.get("/reports")
        assert "Rude to us" in text_of(queue) and FEDIFY_HOST in text_of(queue)
    finally:
        await ada.close()
        await pat.close()
