"""Follows & siblings in the browser: Partners answer follow requests and follow other Congregations."""

from __future__ import annotations

import re

import pytest

from tests.factories import deliver_all, received
from tests.fediverse import free_port
from tests.webclient import Visitor, make_member, text_of


async def _asks_to_follow(node, remote, session) -> int:
    """`remote` sends Follow to the Group; the request waits for a Partner (public_follows = manual)."""
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Follow", node.group_id))
    assert status == 202
    await node.drain_inbox()
    async with node.db.execute("SELECT id FROM follows WHERE follower = ? AND state = 'pending'", (remote.id,)) as c:
        return (await c.fetchone())[0]


async def test_follows__partner_approves_a_pending_request_and_the_accept_is_delivered(node, signed_in, remote,
                                                                                      session):
    # Given a remote actor asking to follow the Congregation
    request = await _asks_to_follow(node, remote, session)
    pat = await signed_in("pat", "partner")
    # When a Partner opens Follows & siblings
    status, page = await pat.get("/follows")
    # Then the request is listed with Approve and Reject
    assert status == 200 and "Remote" in text_of(page) and f'action="/follows/{request}/approve"' in page
    # When she approves it
    status, page = await pat.post(f"/follows/{request}/approve", {}, page="/follows")
    # Then it is accepted, she is told so, and the Accept is queued and then delivered to the follower
    assert status == 200 and "Approved" in text_of(page) and 'role="status"' in page
    assert await node.count("follows", "id = ? AND state = 'accepted'", request) == 1
    assert await node.count("deliveries", "inbox = ? AND body LIKE '%\"Accept\"%'", remote.inbox) == 1
    await deliver_all(node)
    [accept] = received(remote, "Accept")
    assert accept["object"]["actor"] == remote.id and accept["actor"] == node.group_id
    # And the follower is listed as one
    assert re.search(r"Followers \(1\)", text_of((await pat.get("/follows"))[1]))


async def test_follows__partner_rejects_a_request_and_the_reject_is_delivered(node, signed_in, remote, session):
    request = await _asks_to_follow(node, remote, session)
    pat = await signed_in("pat", "partner")
    status, page = await pat.post(f"/follows/{request}/reject", {}, page="/follows")
    assert status == 200 and "Declined" in text_of(page)
    assert await node.count("follows", "id = ? AND state = 'rejected'", request) == 1
    await deliver_all(node)
    assert len(received(remote, "Reject")) == 1


async def test_follows__answering_twice_is_a_form_error(node, signed_in, remote, session):
    request = await _asks_to_follow(node, remote, session)
    pat = await signed_in("pat", "partner")
    await pat.post(f"/follows/{request}/approve", {}, page="/follows")
    before = await node.count("deliveries")
    status, page = await pat.post(f"/follows/{request}/approve", {}, page="/follows")
    assert status == 400 and 'role="alert"' in page and "already accepted" in text_of(page)
    assert await node.count("deliveries") == before


async def test_follows__unknown_request_is_a_form_error(node, signed_in):
    pat = await signed_in("pat", "partner")
    status, page = await pat.post("/follows/999/approve", {}, page="/follows")
    assert status == 400 and "no follow request 999" in text_of(page)


async def test_follows__a_friend_gets_403_on_the_page_and_on_approve(node, signed_in, remote, session):
    request = await _asks_to_follow(node, remote, session)
    await make_member(node, "pat", "partner")
    fern = await signed_in("fern", "friend")
    assert (await fern.get("/follows"))[0] == 403
    status, _ = await fern.post(f"/follows/{request}/approve", {}, page="/home")
    assert status == 403
    assert await node.count("follows", "id = ? AND state = 'pending'", request) == 1
    assert await node.count("deliveries") == 0


async def test_follows__signed_out_is_sent_to_sign_in(node):
    visitor = Visitor(node)
    try:
        status, page = await visitor.get("/follows")
    finally:
        await visitor.close()
    assert status == 200 and "<h1>Sign in</h1>" in page


@pytest.mark.parametrize("action", ["approve", "reject"])
async def test_follows__answer_with_wrong_csrf_is_403_and_nothing_changes(node, signed_in, remote, session, action):
    request = await _asks_to_follow(node, remote, session)
    pat = await signed_in("pat", "partner")
    status, _ = await pat.post(f"/follows/{request}/{action}", {}, csrf="forged")
    assert status == 403
    assert await node.count("follows", "id = ? AND state = 'pending'", request) == 1
    assert await node.count("deliveries") == 0


async def test_follow_a_congregation__by_url_queues_the_follow(node, signed_in, make_remote):
    # Given another Congregation's Group
    other = await make_remote("circle", kind="Group")
    pat = await signed_in("pat", "partner")
    # When a Partner asks to follow it by its URL
    status, page = await pat.post("/follows", {"target": other.id}, page="/follows")
    # Then the Follow is pending and queued, and the page says so
    assert status == 200 and "Follow request sent" in text_of(page)
    assert await node.count("follows", "follower = ? AND followee = ? AND state = 'pending'",
                            node.group_id, other.id) == 1
    await deliver_all(node)
    [follow] = received(other, "Follow")
    assert follow["actor"] == node.group_id and follow["object"] == other.id
    # And the sibling section shows that we asked
    assert "We asked to follow them" in text_of(page)


async def test_follow_a_congregation__unreachable_url_is_a_form_error_and_nothing_is_stored(node, signed_in):
    pat = await signed_in("pat", "partner")
    target = f"http://127.0.0.1:{free_port()}/actors/group"
    status, page = await pat.post("/follows", {"target": target}, page="/follows")
    assert status == 400 and 'role="alert"' in page and "Cannot follow" in text_of(page)
    assert f'value="{target}"' in page
    assert await node.count("follows") == 0 and await node.count("remote_actors") == 0
    assert await node.count("deliveries") == 0


@pytest.mark.parametrize("target", ["not a handle", "group", "https://[::1/actors/x", "ftp://example.org/x",
                                    "@nobody@127.0.0.1:1"])
async def test_follow_a_congregation__malformed_targets_are_form_errors(node, signed_in, target):
    pat = await signed_in("pat", "partner")
    status, page = await pat.post("/follows", {"target": target}, page="/follows")
    assert status == 400 and 'role="alert"' in page
    assert await node.count("follows") == 0 and await node.count("deliveries") == 0


async def test_follow_a_congregation__not_an_actor_is_a_form_error(node, signed_in, remote):
    remote.documents[remote.origin + "/notes/1"] = (200, {"id": remote.origin + "/notes/1", "type": "Note"})
    pat = await signed_in("pat", "partner")
    status, page = await pat.post("/follows", {"target": remote.origin + "/notes/1"}, page="/follows")
    assert status == 400 and "Cannot follow" in text_of(page)
    assert await node.count("follows") == 0 and await node.count("remote_actors") == 0


async def test_follow_a_congregation__wrong_csrf_is_403_and_nothing_is_stored(node, signed_in, make_remote):
    other = await make_remote("circle", kind="Group")
    pat = await signed_in("pat", "partner")
    status, _ = await pat.post("/follows", {"target": other.id}, csrf="forged")
    assert status == 403
    assert await node.count("follows") == 0 and await node.count("deliveries") == 0
    assert other.fetched == []


async def test_follow_a_congregation__a_friend_cannot(node, signed_in, make_remote):
    other = await make_remote("circle", kind="Group")
    fern = await signed_in("fern", "friend")
    status, _ = await fern.post("/follows", {"target": other.id}, page="/home")
    assert status == 403 and await node.count("follows") == 0
