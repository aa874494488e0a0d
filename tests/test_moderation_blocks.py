"""Blocks, mutes and allowlist mode over real HTTP (issue 12, moderation; acceptance 4): a node at a made-up name with
the SSRF guard on, a stranger's server and, for siblings, a second real node, all through the test resolver.

- a server the Congregation blocks is sent nothing and is refused (403) before any key is fetched from it;
- unblocking restores delivery of new activities;
- a sibling's server is blocked only by a passed proposal; allowlist mode, once decided, refuses a non-sibling;
- a member's mute hides from their timeline alone; a member's block ends follows both ways and refuses new ones.
"""

from __future__ import annotations

import json

import pytest

from node.activitypub import signatures
from node.appkeys import HTTP
from node.processing.follows import answer_request
from node.processing.follows import follow as group_follows
from node.processing.posts import publish_post
from node.store import local_actors
from tests.factories import deliver_all, exchange, follow, node_follows, received
from tests.fediverse import AS_JSON, InProcessNode, run_cli
from tests.moderation_world import EVIL, NamedActor, World, open_world
from tests.moderation_world import note as _note
from tests.webclient import Visitor, make_member, text_of


@pytest.fixture
async def world(tmp_path):
    async with open_world(tmp_path, public_follows="auto") as made:
        yield made


async def _post_as(world: World, handle: str, text: str) -> None:
    author = await local_actors.by_username(world.alpha.db, handle)
    await publish_post(world.alpha.db, world.alpha.config, author, text, "public", to_group=False)


async def _queued_to(node: InProcessNode, host: str) -> int:
    return await node.count("deliveries", "state = 'queued' AND host LIKE ?", host + "%")


# The Congregation blocks a server


async def test_server_block__nothing_is_delivered_nothing_accepted_and_unblocking_restores_delivery(world, capsys):
    alpha, evil, session = world.alpha, world.evil, world.session
    pat = await world.visitor("pat", "partner")
    await make_member(alpha, "ada")
    ada_uri = f"{alpha.base}/actors/ada"
    # Given the stranger follows the Group and Ada, and a post of Ada's is queued for it, not yet sent
    await follow(alpha, evil, session, alpha.group_id)
    await follow(alpha, evil, session, ada_uri)
    await _post_as(world, "ada", "before the block")
    assert await _queued_to(alpha, EVIL) == 1
    # And the Group follows it: one post of its own is on the timeline, another committed but not yet read
    await node_follows(alpha, alpha.group_id, evil.id)
    assert (await evil.post(session, alpha.base + "/inbox", _note(evil, "on the timeline")))[0] == 202
    await alpha.drain_inbox()
    assert "on the timeline" in text_of((await pat.get("/home"))[1])
    assert (await evil.post(session, alpha.base + "/inbox", _note(evil, "arrived before the block")))[0] == 202
    # When Pat, a Partner, blocks its server, written as a person might (capitals, a trailing dot)
    status, page = await pat.post("/moderation/servers", {"server": "EVIL.Test.Example.", "reason": "spam"},
                                  page="/moderation")
    assert status == 200 and "Blocked for the Congregation" in text_of(page)
    # Then its follows of us are gone, and the queued delivery is dropped, never sent
    assert await alpha.count("follows", "follower = ? OR followee = ?", evil.id, evil.id) == 0
    assert await _queued_to(alpha, EVIL) == 0
    assert await deliver_all(alpha) == 0 and received(evil, "Create") == []
    # And what it sent before is closed unread, and what was stored is tombstoned, off the timeline
    assert await alpha.drain_inbox() == 0
    assert await alpha.count("remote_objects", "deleted_at IS NULL") == 0
    async with alpha.db.execute("SELECT outcome, body FROM inbox WHERE type = 'Create' ORDER BY id") as cur:
        assert [tuple(r) for r in await cur.fetchall()][1] == ("refused: the Congregation blocks this server", "")
    assert "on the timeline" not in text_of((await pat.get("/home"))[1])
    # And a new post makes no delivery row for it at all
    rows = await alpha.count("deliveries", "host LIKE ?", EVIL + "%")
    await _post_as(world, "ada", "after the block")
    assert await alpha.count("deliveries", "host LIKE ?", EVIL + "%") == rows

    # When it posts to us, signed with its key, by its own name or one written differently
    fetched = list(evil.fetched)
    before = await alpha.snapshot()
    for key_id in (evil.key_id, evil.key_id.replace(EVIL, "EVIL.TEST.EXAMPLE."),
                   evil.key_id.replace(EVIL, "ｅｖｉｌ．ｔｅｓｔ．ｅｘａｍｐｌｅ"), evil.key_id):
        body = json.dumps(_note(evil, "spam spam")).encode()
        url = alpha.base + "/inbox"
        headers = signatures.sign("POST", url, key_id, evil.key, body, AS_JSON)
        headers["Content-Type"] = AS_JSON
        async with session.post(url, data=body, headers=headers) as response:
            # Then it is refused with a reason, and nothing changed: no key fetched, nothing stored
            assert response.status == 403
            assert (await response.json())["error"] == "this Congregation blocks your server"
    # And its Follow is refused the same way, at the shared inbox and a member's
    for inbox in (alpha.base + "/inbox", ada_uri + "/inbox"):
        status, text = await evil.post(session, inbox, evil.activity("Follow", ada_uri))
        assert status == 403 and "blocks your server" in text
    assert evil.fetched == fetched
    assert await alpha.drain_inbox() == 0
    assert await alpha.snapshot() == before

    # And every member reads it in the moderation record, with who and why
    _, page = await pat.get("/moderation/log")
    assert "blocked the server evil.test.example @pat spam" in text_of(page)

    # When the operator unblocks it at the command line
    assert await run_cli("unblock", EVIL, "--reason", "they cleaned up", "--data", str(alpha.config.data_dir)) == 0
    assert "Unblocked evil.test.example" in capsys.readouterr().out
    # Then it may follow again, and a new post is delivered to it
    await follow(alpha, evil, session, ada_uri)
    await _post_as(world, "ada", "after the unblock")
    await deliver_all(alpha)
    assert [a["object"]["content"] for a in received(evil, "Create")] == ["<p>after the unblock</p>"]
    _, page = await pat.get("/moderation/log")
    assert "unblocked the server evil.test.example the operator they cleaned up" in text_of(page)


async def test_server_block__its_posts_stay_out_when_a_followed_account_boosts_them(world):
    alpha, evil, session = world.alpha, world.evil, world.session
    pat = await world.visitor("pat", "partner")
    # Given the Group follows an account on another server, and the Congregation blocks evil's server
    friend = await NamedActor(name="fern", host="friend.test.example").start()
    world.dns.add(friend.host, friend.port)
    try:
        await node_follows(alpha, alpha.group_id, friend.id)
        assert (await pat.post("/moderation/servers", {"server": EVIL, "reason": "spam"}, page="/moderation"))[0] == 200
        evil_note = _note(evil, "spam boosted")["object"]
        evil.documents[evil_note["id"]] = (200, evil_note)
        before = await alpha.snapshot()
        # When that account boosts one of evil's posts, by id and embedded, and embeds a Create of one
        boosts = [friend.activity("Announce", evil_note["id"]), friend.activity("Announce", evil_note),
                  friend.activity("Announce", _note(evil, "spam in a create"))]
        for boost in boosts:
            assert (await friend.post(session, alpha.base + "/inbox", boost))[0] == 202
        await alpha.drain_inbox()
        # Then nothing was asked of evil's server and nothing of it was stored, each row saying why
        assert evil.fetched == []
        after = await alpha.snapshot()
        assert {t for t in after if after[t] != before[t]} <= {"inbox", "remote_actors", "remote_keys"}
        async with alpha.db.execute("SELECT outcome FROM inbox WHERE type = 'Announce'") as cur:
            outcomes = [r[0] for r in await cur.fetchall()]
        assert len(outcomes) == 3 and all("blocks" in o for o in outcomes), outcomes
    finally:
        await friend.close()


async def test_server_block__a_friend_cannot_block_for_the_congregation(world):
    fern = await world.visitor("fern")
    before = await world.alpha.snapshot()
    # When a Friend sends the Partners' form
    status, page = await fern.post("/moderation/servers", {"server": EVIL, "reason": "I do not like them"},
                                   page="/moderation")
    # Then it is refused with a reason on the page, and nothing changed
    assert status == 403 and "Only Partners block a server for the Congregation." in text_of(page)
    assert await world.alpha.snapshot() == before


@pytest.mark.parametrize("server, message", [
    ("", "'' is not a server's name, like social.example"),
    ("not a host", "'not a host' is not a server's name"),
    ("alpha.test.example", "That is this Congregation's own server (alpha.test.example)"),
])
async def test_server_block__bad_names_are_form_errors(world, server, message):
    pat = await world.visitor("pat", "partner")
    before = await world.alpha.snapshot()
    status, page = await pat.post("/moderation/servers", {"server": server, "reason": "x"}, page="/moderation")
    assert status == 400 and message in text_of(page)
    assert await world.alpha.snapshot() == before


async def test_cli__block_list_and_refusals(world, capsys):
    data = str(world.alpha.config.data_dir)
    # A missing reason is a usage error: one line, exit 2
    with pytest.raises(SystemExit) as exited:
        await run_cli("block", EVIL, "--data", data)
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    # A server is read as the connector reads it: a URL on it, or its name in fullwidth letters and dots
    assert await run_cli("block", "ＥＶＩＬ．test．example", "--reason", "spam", "--data", data) == 0
    assert await run_cli("unblock", f"https://{EVIL}/users/x", "--data", data) == 0
    assert await run_cli("block", f"https://{EVIL}/users/x", "--reason", "spam", "--data", data) == 0
    assert await run_cli("blocks", "--data", data) == 0
    out = capsys.readouterr().out
    assert "Federation: open" in out and f"blocked\t{EVIL}\t" in out and "by the operator\tspam" in out
    # Blocking it twice, or unblocking what is not blocked, is one line and exit 1
    assert await run_cli("block", EVIL, "--reason", "again", "--data", data) == 1
    assert await run_cli("unblock", "elsewhere.example", "--data", data) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["congregation: the server evil.test.example is already blocked",
                   "congregation: the server elsewhere.example is not blocked"]
    # And allowlist mode or a server's block is proposed at the command line, as any action is
    await make_member(world.alpha, "pat", "partner")
    assert await run_cli("propose", "--as", "pat", "--title", "Close the doors", "--closes", "3d",
                         "--action", "federation_mode", "--mode", "allowlist", "--data", data) == 0
    assert await run_cli("propose", "--as", "pat", "--title", "Block them", "--closes", "3d",
                         "--action", "block_server", "--server", "Other.Example", "--data", data) == 0
    async with world.alpha.db.execute("SELECT action, action_args FROM proposals ORDER BY id") as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [("federation_mode", '{"mode": "allowlist"}'),
                                                            ("block_server", '{"server": "other.example"}')]


# Siblings and allowlist mode: decided by consent


async def become_siblings(a: InProcessNode, b: InProcessNode) -> None:
    """Each Group follows the other and each side approves, as the Partners would on the Follows page."""
    for follower, followee in ((a, b), (b, a)):
        group = await local_actors.group(follower.db)
        await group_follows(follower.db, follower.config, group, follower.app[HTTP], followee.group_id)
        await exchange(a, b)
        async with followee.db.execute("SELECT id FROM follows WHERE follower = ? AND state = 'pending'",
                                       (follower.group_id,)) as cur:
            (request,) = await cur.fetchone()
        await answer_request(followee.db, followee.config, await local_actors.group(followee.db),
                             followee.app[HTTP], request, True)
        await exchange(a, b)


async def _agree_and_close(node: InProcessNode, uuid: str, *visitors: Visitor) -> None:
    for visitor in visitors:
        status, _ = await visitor.post(f"/proposals/{uuid}/stance", {"choice": "agree", "reason": ""},
                                       page=f"/proposals/{uuid}")
        assert status == 200
    await node.pass_closing_time(uuid)
    await node.close_proposals()


async def _proposal_uuid(node: InProcessNode) -> str:
    async with node.db.execute("SELECT uuid FROM proposals ORDER BY id DESC LIMIT 1") as cur:
        return (await cur.fetchone())[0]


async def test_sibling__a_partner_cannot_block_it_a_passed_proposal_does(world, capsys):
    alpha = world.alpha
    beta = await world.node("beta")
    try:
        await become_siblings(alpha, beta)
        pat = await world.visitor("pat", "partner")
        fern = await world.visitor("fern")
        before = await alpha.snapshot()
        # When a Partner blocks the sibling's server directly, on the page or at the command line
        status, page = await pat.post("/moderation/servers", {"server": "beta.test.example", "reason": "a row"},
                                      page="/moderation")
        # Then it is refused: a sibling's block is for everyone to decide
        assert status == 403
        assert "The server beta.test.example is a sibling Congregation's: blocking it is decided by consent" in \
            text_of(page)
        assert await run_cli("block", "beta.test.example", "--reason", "a row", "--data",
                             str(alpha.config.data_dir)) == 1
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
        assert await alpha.snapshot() == before

        # When Pat proposes it instead, and everyone agrees and the time passes
        status, page = await pat.post("/moderation/propose", {"action": "block_server", "server": "beta.test.example",
                                                              "reason": "they broke our rules"}, page="/moderation")
        assert status == 200 and "block server: beta.test.example" in text_of(page)
        uuid = await _proposal_uuid(alpha)
        await _agree_and_close(alpha, uuid, pat, fern)
        # Then the block is in force, recorded with the proposal, and the siblings' follows are gone
        async with alpha.db.execute("SELECT host, proposal_id FROM server_blocks") as cur:
            ((host, proposal_id),) = await cur.fetchall()
        assert host == "beta.test.example" and proposal_id is not None
        async with alpha.db.execute("SELECT kind, target, by_id, proposal_id FROM moderation_events") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("server_blocked", host, None, proposal_id)]
        assert await alpha.count("follows", "follower = ? OR followee = ?", beta.group_id, beta.group_id) == 0
        _, page = await fern.get("/moderation/log")
        assert "blocked the server beta.test.example the Congregation, by a proposal" in text_of(page)
    finally:
        await beta.close()


async def test_allowlist_mode__once_decided_refuses_a_non_sibling_but_not_a_sibling_or_a_listed_server(world):
    alpha, evil, session = world.alpha, world.evil, world.session
    beta = await world.node("beta")
    try:
        await become_siblings(alpha, beta)
        pat = await world.visitor("pat", "partner")
        fern = await world.visitor("fern")
        await follow(alpha, evil, session, alpha.group_id)
        # Given the proposal for allowlist mode is open: nothing changes before it passes
        status, page = await fern.post("/moderation/propose", {"action": "federation_mode", "mode": "allowlist"},
                                       page="/moderation")
        assert status == 200 and "federation mode: allowlist" in text_of(page)
        status, _ = await evil.post(session, alpha.base + "/inbox", evil.activity("Like", alpha.group_id))
        assert status == 202
        await alpha.drain_inbox()
        # When everyone agrees and it closes
        await _agree_and_close(alpha, await _proposal_uuid(alpha), pat, fern)
        _, page = await fern.get("/moderation")
        assert "Allowlist mode: we federate only with sibling Congregations" in text_of(page)
        # Then the stranger's server is refused at the inbox, without a fetch, and nothing changes
        before, fetched = await alpha.snapshot(), list(evil.fetched)
        status, text = await evil.post(session, alpha.base + "/inbox", _note(evil, "hello"))
        assert status == 403 and "federates only with its sibling Congregations" in text
        assert evil.fetched == fetched and await alpha.snapshot() == before
        # And a post by a member goes to the sibling but makes no delivery row for the stranger
        await make_member(alpha, "ada")
        to_evil = await alpha.count("deliveries", "host LIKE ?", EVIL + "%")
        ada = await local_actors.by_username(alpha.db, "ada")
        await publish_post(alpha.db, alpha.config, ada, "for everyone", "public", to_group=True)
        assert await alpha.count("deliveries", "host LIKE ?", EVIL + "%") == to_evil
        assert await alpha.count("deliveries", "host LIKE 'beta.test.example%'") > 0
        await exchange(alpha, beta)
        assert await beta.count("remote_objects", "content LIKE '%for everyone%'") == 1
        # And the sibling's posts are still taken
        beta_group = await local_actors.group(beta.db)
        await publish_post(beta.db, beta.config, beta_group, "news from beta", "public")
        await exchange(alpha, beta)
        assert await alpha.count("remote_objects", "content LIKE '%news from beta%'") == 1
        # When a Partner lists the stranger's server, it is taken again
        status, _ = await pat.post("/moderation/allowlist", {"server": EVIL}, page="/moderation")
        assert status == 200
        status, _ = await evil.post(session, alpha.base + "/inbox", _note(evil, "hello again"))
        assert status == 202
        async with alpha.db.execute("SELECT kind, target, proposal_id IS NOT NULL FROM moderation_events"
                                    " ORDER BY id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("allowlist_mode_on", "allowlist", 1),
                                                                ("server_allowed", EVIL, 0)]
    finally:
        await beta.close()


# A member's own mutes and blocks


async def test_member_mute__hides_posts_from_that_members_timeline_only(world):
    alpha, evil, session = world.alpha, world.evil, world.session
    ada = await world.visitor("ada")
    bo = await world.visitor("bo")
    # Given the Group follows the stranger and its public post arrived
    await node_follows(alpha, alpha.group_id, evil.id)
    assert (await evil.post(session, alpha.base + "/inbox", _note(evil, "a loud opinion")))[0] == 202
    await alpha.drain_inbox()
    for visitor in (ada, bo):
        assert "a loud opinion" in text_of((await visitor.get("/home"))[1])
    # When Ada mutes the account (by its URL), then lifts it and mutes the whole server instead
    status, page = await ada.post("/moderation/mine", {"target": evil.id, "kind": "mute"}, page="/moderation")
    assert status == 200 and "Muted" in text_of(page)
    # Then Ada no longer sees it; Bo still does
    assert "a loud opinion" not in text_of((await ada.get("/home"))[1])
    assert "a loud opinion" in text_of((await bo.get("/home"))[1])
    status, _ = await ada.post("/moderation/mine/remove", {"target_kind": "account", "target": evil.id},
                               page="/moderation")
    assert status == 200 and "a loud opinion" in text_of((await ada.get("/home"))[1])
    assert (await ada.post("/moderation/mine", {"target": EVIL.upper(), "kind": "mute"}, page="/moderation"))[0] == 200
    assert "a loud opinion" not in text_of((await ada.get("/home"))[1])
    # And the mute is Ada's alone: not on Bo's page, not in the record, nothing sent
    _, page = await bo.get("/moderation")
    assert EVIL not in page
    assert await alpha.count("moderation_events") == 0 and await alpha.count("deliveries") == 0


async def test_member_block__ends_follows_both_ways_and_refuses_their_next_follow(world):
    alpha, evil, session = world.alpha, world.evil, world.session
    ada = await world.visitor("ada")
    await make_member(alpha, "bo")
    ada_uri, bo_uri = f"{alpha.base}/actors/ada", f"{alpha.base}/actors/bo"
    # Given the stranger follows Ada and Bo, and Ada follows the stranger
    await follow(alpha, evil, session, ada_uri)
    await follow(alpha, evil, session, bo_uri)
    await node_follows(alpha, ada_uri, evil.id)
    evil.received.clear()
    # When Ada blocks the account, by its URL
    status, page = await ada.post("/moderation/mine", {"target": evil.id, "kind": "block"}, page="/moderation")
    assert status == 200 and "Blocked" in text_of(page)
    # Then no follow remains between them, either way; Bo's is untouched
    assert await alpha.count("follows", "(follower = ? AND followee = ?) OR (follower = ? AND followee = ?)",
                             evil.id, ada_uri, ada_uri, evil.id) == 0
    assert await alpha.count("follows", "follower = ? AND followee = ?", evil.id, bo_uri) == 1
    # And the stranger is told as Mastodon tells: Undo of Ada's follow, Reject of theirs; no Block is sent
    await deliver_all(alpha)
    kinds = sorted(a["type"] for a in received(evil))
    assert kinds == ["Reject", "Undo"]
    assert [a["object"]["type"] for a in received(evil)] == ["Follow", "Follow"]
    # When the stranger asks to follow Ada again
    evil.received.clear()
    assert (await evil.post(session, alpha.base + "/inbox", evil.activity("Follow", ada_uri)))[0] == 202
    await alpha.drain_inbox()
    await deliver_all(alpha)
    # Then it is rejected and nothing is kept
    assert [a["type"] for a in received(evil)] == ["Reject"]
    assert await alpha.count("follows", "follower = ? AND followee = ?", evil.id, ada_uri) == 0
    # And it is Ada's alone: not in the moderation record
    assert await alpha.count("moderation_events") == 0
