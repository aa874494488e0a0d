"""Inbound dispatch by (activity type, object type): a new pair is one handler and one registration, and an
activity for one of our actors is acted on only from that actor's inbox or the shared one."""

from __future__ import annotations

from typing import Any

import pytest

from node.activitypub.inbound.context import InboxContext
from node.activitypub.inbound.registry import ANY, PAIRS, REGISTRY
from node.appkeys import INBOX_WORKER
from node.db import transaction
from node.store import follows
from tests.fediverse import FakeActor, InProcessNode
from tests.webclient import make_member


async def outcome(node: InProcessNode, activity_id: str) -> str | None:
    async with node.db.execute("SELECT outcome FROM inbox WHERE activity_id = ?", (activity_id,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def deliver(node: InProcessNode, remote: FakeActor, session, inbox: str, activity: dict[str, Any]) -> str:
    """POST the signed activity to `inbox`, step the inbox worker once, return the outcome it recorded."""
    status, _ = await remote.post(session, inbox, activity)
    assert status == 202
    assert await node.app[INBOX_WORKER].run_once() == 1
    return await outcome(node, activity["id"])


async def follow_rows(node: InProcessNode) -> list[tuple]:
    async with node.db.execute("SELECT follower, followee, state FROM follows ORDER BY id") as cur:
        return [tuple(row) for row in await cur.fetchall()]


def event(remote: FakeActor) -> dict[str, Any]:
    return {"id": f"{remote.origin}/events/1", "type": "Event", "name": "Picnic", "attributedTo": remote.id}


# --- a new pair --------------------------------------------------------------------------------------------


async def test_new_pair__a_test_handler_runs_and_its_outcome_is_recorded(node, remote, session):
    # Given a handler for Accept(Event), a pair the node does not know
    seen: list[tuple[str, str, str | None]] = []

    async def on_accept_event(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
        seen.append((activity["object"]["id"], actor, ctx.inbox_owner))
        return f"event accepted: {activity['object']['name']}"

    accept = remote.activity("Accept", event(remote))
    # When it is registered and an Accept(Event) arrives at the Group's inbox
    with REGISTRY.registered("Accept", "Event", on_accept_event):
        result = await deliver(node, remote, session, node.group_id + "/inbox", accept)

    # Then the handler ran, with the activity, its actor and the receiving inbox, and its outcome is recorded
    assert seen == [(event(remote)["id"], remote.id, node.config.group_handle)]
    assert result == "event accepted: Picnic"

    # And once the block is left the pair is gone: the same kind of activity falls back to Accept's handler
    again = remote.activity("Accept", event(remote))
    assert await deliver(node, remote, session, node.base + "/inbox", again) == \
        "ignored: not an answer to one of our follows"
    assert len(seen) == 1
    assert REGISTRY.lookup(again) is PAIRS[("Accept", ANY)]


async def test_new_activity_type__handled_when_registered__only_stored_when_not(node, remote, session):
    # Given no handler for Move: it is only stored
    moved = {"id": f"{remote.origin}/users/moved", "type": "Person"}
    first = remote.activity("Move", remote.id, target=moved["id"])
    assert await deliver(node, remote, session, node.base + "/inbox", first) == "stored"

    # When a handler for (Move, ANY) is registered, the next Move is handled
    async def on_move(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
        return f"moved to {activity['target']}"

    unregister = REGISTRY.register("Move", ANY, on_move)
    try:
        second = remote.activity("Move", remote.id, target=moved["id"])
        assert await deliver(node, remote, session, node.base + "/inbox", second) == f"moved to {moved['id']}"
    finally:
        unregister()

    # Then, unregistered, a Move is only stored again
    third = remote.activity("Move", remote.id, target=moved["id"])
    assert await deliver(node, remote, session, node.base + "/inbox", third) == "stored"


def test_register__a_pair_that_has_a_handler_is_refused():
    async def other(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
        return "other"

    with pytest.raises(ValueError, match="Follow"):
        REGISTRY.register("Follow", ANY, other)
    assert REGISTRY.lookup({"type": "Follow", "object": "https://example.com/a"}) is PAIRS[("Follow", ANY)]


def test_lookup__the_first_object_type_with_a_handler__else_the_fallback():
    assert REGISTRY.lookup({"type": "Create", "object": {"type": ["Event", "Article"]}}) \
        is PAIRS[("Create", "Article")]
    assert REGISTRY.lookup({"type": "Create", "object": {"type": "Event"}}) is PAIRS[("Create", ANY)]
    assert REGISTRY.lookup({"type": "Create", "object": "https://example.com/notes/1"}) is PAIRS[("Create", ANY)]
    assert REGISTRY.lookup({"type": "Undo", "object": {"type": "Like"}}) is PAIRS[("Undo", "Like")]
    assert REGISTRY.lookup({"type": "Block", "object": "https://example.com/a"}) is None


# --- the right recipient -----------------------------------------------------------------------------------


async def test_follow_of_the_group__posted_to_a_members_inbox__refused(node, remote, session):
    # Given a member, alice
    await make_member(node, "alice")
    alice_inbox = f"{node.base}/actors/alice/inbox"

    # When a Follow of the Group is POSTed to alice's personal inbox
    result = await deliver(node, remote, session, alice_inbox, remote.activity("Follow", node.group_id))

    # Then it is refused, saying why, and no follow is recorded and nothing is sent
    assert result == "refused: the Follow is for @group but was delivered to the inbox of @alice"
    assert await follow_rows(node) == []
    assert await node.run_deliveries() == 0

    # And the same Follow through the shared inbox is taken
    assert await deliver(node, remote, session, node.base + "/inbox",
                         remote.activity("Follow", node.group_id)) == "pending approval"
    assert await follow_rows(node) == [(remote.id, node.group_id, "pending")]


async def test_follow_of_a_member__posted_to_the_groups_inbox__refused(node, remote, session):
    await make_member(node, "alice")
    alice = f"{node.base}/actors/alice"
    result = await deliver(node, remote, session, node.group_id + "/inbox", remote.activity("Follow", alice))
    assert result == "refused: the Follow is for @alice but was delivered to the inbox of @group"
    assert await follow_rows(node) == []
    # Her own inbox takes it (a Person accepts at once)
    assert await deliver(node, remote, session, alice + "/inbox", remote.activity("Follow", alice)) == "accepted"


async def test_undo_follow__posted_to_another_actors_inbox__refused(make_node, remote, session):
    # Given a remote follower of the Group
    node = await make_node(public_follows="auto")
    await make_member(node, "alice")
    follow = remote.activity("Follow", node.group_id)
    assert await deliver(node, remote, session, node.group_id + "/inbox", follow) == "accepted"

    # When its Undo is POSTed to alice's inbox, it is refused and the follow stays
    result = await deliver(node, remote, session, f"{node.base}/actors/alice/inbox", remote.activity("Undo", follow))
    assert result == "refused: the Undo is for @group but was delivered to the inbox of @alice"
    assert await follow_rows(node) == [(remote.id, node.group_id, "accepted")]

    # And at the Group's own inbox it unfollows
    assert await deliver(node, remote, session, node.group_id + "/inbox",
                         remote.activity("Undo", follow)) == "unfollowed"
    assert await follow_rows(node) == []


async def test_accept_of_a_members_follow__posted_to_the_groups_inbox__refused(node, remote, session):
    # Given alice's pending Follow of a remote actor
    await make_member(node, "alice")
    alice = f"{node.base}/actors/alice"
    follow_id = f"{node.base}/activities/alice-follows-remote"
    async with transaction(node.db):
        await follows.upsert(node.db, alice, remote.id, follow_id, "pending")
    follow = {"id": follow_id, "type": "Follow", "actor": alice, "object": remote.id}

    # When the remote's Accept arrives at the Group's inbox, it is refused and the follow stays pending
    result = await deliver(node, remote, session, node.group_id + "/inbox", remote.activity("Accept", follow))
    assert result == "refused: the Accept is for @alice but was delivered to the inbox of @group"
    assert await follow_rows(node) == [(alice, remote.id, "pending")]

    # And at alice's inbox it is accepted; a Reject there afterwards ends it
    assert await deliver(node, remote, session, alice + "/inbox",
                         remote.activity("Accept", follow)) == "follow accepted"
    assert await deliver(node, remote, session, node.group_id + "/inbox",
                         remote.activity("Reject", follow)) == \
        "refused: the Reject is for @alice but was delivered to the inbox of @group"
    assert await deliver(node, remote, session, node.base + "/inbox",
                         remote.activity("Reject", follow)) == "follow rejected"
    assert await follow_rows(node) == [(alice, remote.id, "rejected")]
