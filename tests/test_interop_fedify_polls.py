"""Interop with a Fedify 2.3.6 peer: a public proposal reaches it as a verified Question, its vote (Mastodon's
shape) is counted once, and the new count goes back out as Update(Question)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.activitypub.as2.questions import question_uri
from node.governance import proposals
from node.processing import proposals as processing_proposals
from node.store import proposals as proposals_store
from tests.factories import add_member, control, deliver_all, fedify_follows_group

pytestmark = pytest.mark.interop


async def test_fedify__votes_in_a_public_poll_once_and_sees_the_count(make_posting_node, fedify, session):
    # Given the Fedify peer follows the Group, and a member opens a public poll
    node = await make_posting_node()
    await fedify_follows_group(node, fedify, session)
    ada = await add_member(node)
    await add_member(node, "bo")
    events = await processing_proposals.open_proposal(
        node.db, node.config, ada, kind="poll", title="Where shall we meet?",
                                    options=["Library", "Park"], scope="public",
                                    closes_at=datetime.now(UTC) + timedelta(days=2))
    proposal = events[0].proposal
    await deliver_all(node)

    # Then Fedify received the Question as the Group's verified Create
    status, creates = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Create"})
    question = next(e for e in creates if e["object"] == question_uri(node.config, proposal))
    assert question["verified"] is True and question["actor"] == node.group_id

    # When Fedify votes, twice (a redelivery of the same choice, then a change of mind)
    for choice in ("Park", "Park", "Library"):
        status, sent = await control(session, "POST", f"{fedify}/_control/vote",
                                      json={"target": node.group_id, "question": question_uri(node.config, proposal),
                                            "choice": choice})
        assert status == 200, sent
    await node.drain_inbox()
    await deliver_all(node)

    # Then it counts once, as its latest choice, and an Update(Question) with the count reached Fedify
    result = await proposals.current_tally(node.db, node.config, await proposals_store.by_id(node.db, proposal.id))
    assert result.voters == 1 and result.counts == {"Library": 1, "Park": 0}
    status, updates = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Update"})
    assert updates and all(u["verified"] is True for u in updates)
    status, raw = await control(session, "GET", f"{fedify}/_control/inbox-log")
    assert all(entry.get("status", 202) < 300 for entry in raw), raw


async def test_fedify__vote_in_a_members_only_proposal_is_refused(make_posting_node, fedify, session):
    # Given a members-only consent proposal (it never leaves the node) and the Fedify peer following the Group
    node = await make_posting_node()
    await fedify_follows_group(node, fedify, session)
    ada = await add_member(node)
    events = await processing_proposals.open_proposal(
        node.db, node.config, ada, kind="consent", title="Change the meeting day",
                                    closes_at=datetime.now(UTC) + timedelta(days=2))
    proposal = events[0].proposal
    # When Fedify sends a vote on it anyway
    status, sent = await control(session, "POST", f"{fedify}/_control/vote",
                                  json={"target": node.group_id, "question": question_uri(node.config, proposal),
                                        "choice": "agree"})
    assert status == 200, sent
    await node.drain_inbox()
    # Then nothing is counted, and the inbox row says why
    assert await proposals_store.stances(node.db, proposal.id) == []
    assert await node.count("inbox", "type = 'Create' AND outcome LIKE 'refused vote: you cannot take part%'") == 1
