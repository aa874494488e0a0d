"""Proposals in governance: who may take part, when, what the tally shows, how closing and enacting go."""

from __future__ import annotations

from datetime import timedelta

import pytest

from node.activitypub.as2.decisions import log_item
from node.governance import crews, decision_log, proposals, records
from node.governance.events import ProposalClosed, ProposalEnacted
from node.governance.membership import promote
from node.governance.proposals import ProposalError, local_uri
from node.store import local_actors
from node.store import proposals as store
from tests.factories import NOW, member, open_proposal


async def vote(node, proposal, actor, *choices, reason="", at=NOW):
    return await proposals.cast(node.db, node.config, await store.by_id(node.db, proposal.id),
                                local_uri(node.config, actor.username), list(choices), reason, now=at)


async def close(node, at):
    return await proposals.close_due(node.db, node.config, {}, now=at)


async def test_proposal__members_vote_and_a_block_makes_it_fail(node):
    # Given three members and a consent proposal with a 50 % quorum
    ada, bo, cy = await member(node, "ada", "partner"), await member(node, "bo"), await member(node, "cy")
    p = await open_proposal(node, ada, quorum_percent=50)
    # When two agree and one blocks with a reason
    await vote(node, p, ada, "agree")
    await vote(node, p, bo, "agree")
    await vote(node, p, cy, "block", reason="Thursdays I care for my mother")
    # Then at close it failed, and the decision log holds it
    await close(node, NOW + timedelta(days=4))
    closed = await store.by_id(node.db, p.id)
    assert closed.state == "failed" and closed.eligible == 3
    assert await store.count_entries(node.db) == 1


async def test_proposal__a_block_needs_a_reason(node):
    ada = await member(node, "ada", "partner")
    p = await open_proposal(node, ada)
    with pytest.raises(ProposalError, match="block needs a reason"):
        await vote(node, p, ada, "block")
    assert await store.stances(node.db, p.id) == []


@pytest.mark.parametrize("scope", ["crew", "partners", "congregation"])
async def test_proposal__ineligible_voter_is_refused(node, scope):
    # Given a Partner, a Friend outside the crew, and a non-member (a remote actor)
    ada = await member(node, "ada", "partner")
    await member(node, "bo")
    crew = (await crews.start(node.db, ada, "Kitchen crew", "", "", "working"))[0].crew
    p = await open_proposal(node, ada, scope=scope, crew_id=crew.id if scope == "crew" else None)
    outsiders = {"crew": [local_uri(node.config, "bo"), "https://elsewhere.example/users/x"],
                 "partners": [local_uri(node.config, "bo"), "https://elsewhere.example/users/x"],
                 "congregation": ["https://elsewhere.example/users/x"]}[scope]
    # When each outsider tries to take a stance, Then each is refused and nothing is stored
    for voter in outsiders:
        with pytest.raises(ProposalError, match="cannot take part"):
            await proposals.cast(node.db, node.config, p, voter, ["agree"], now=NOW)
    assert await store.stances(node.db, p.id) == []
    await vote(node, p, ada, "agree")  # the Partner, in the crew, may


async def test_proposal__stance_after_close_is_refused(node):
    ada = await member(node, "ada", "partner")
    p = await open_proposal(node, ada)
    with pytest.raises(ProposalError, match="closed"):
        await vote(node, p, ada, "agree", at=NOW + timedelta(days=3, seconds=1))
    await close(node, NOW + timedelta(days=4))
    with pytest.raises(ProposalError, match="closed"):
        await vote(node, p, ada, "agree", at=NOW + timedelta(days=5))


async def test_proposal__hidden_results_stay_hidden_until_close(node):
    ada = await member(node, "ada", "partner")
    p = await open_proposal(node, ada, hide_results=True)
    await vote(node, p, ada, "agree")
    assert not proposals.results_visible(await store.by_id(node.db, p.id))
    await close(node, NOW + timedelta(days=4))
    assert proposals.results_visible(await store.by_id(node.db, p.id))


async def test_proposal__closing_time_is_required_and_bounded(node):
    ada = await member(node, "ada", "partner")
    for closes in (NOW - timedelta(hours=1), NOW + timedelta(seconds=5), NOW + timedelta(days=400)):
        with pytest.raises(ProposalError, match="closing time"):
            await open_proposal(node, ada, closes_at=closes)


async def test_proposal__friend_cannot_open_a_partners_only_proposal(node):
    await member(node, "ada", "partner")
    bo = await member(node, "bo")
    with pytest.raises(ProposalError, match="Partners"):
        await open_proposal(node, bo, scope="partners")


async def test_proposal__passed_promotion_is_enacted_once(node):
    # Given a proposal to promote a Friend, agreed by all
    ada, bo = await member(node, "ada", "partner"), await member(node, "bo")
    p = await open_proposal(node, ada, action="promote", action_args={"member": "bo"}, quorum_percent=100)
    await vote(node, p, ada, "agree")
    await vote(node, p, bo, "agree")
    calls = []

    async def promote_enactor(db, proposal):
        calls.append(proposal.id)
        target = await local_actors.by_username(db, proposal.action_args["member"])
        if target.tier != "partner":
            await promote(db, target.id, None, f"proposal {proposal.uuid} passed")

    # When the node closes it, and runs its closing pass again (as after a restart)
    events = await proposals.close_due(node.db, node.config, {"promote": promote_enactor}, now=NOW + timedelta(days=4))
    again = await proposals.close_due(node.db, node.config, {"promote": promote_enactor}, now=NOW + timedelta(days=5))
    # Then it was enacted exactly once
    assert [type(e) for e in events] == [ProposalClosed, ProposalEnacted] and again == []
    assert calls == [p.id]
    assert (await local_actors.by_username(node.db, "bo")).tier == "partner"
    assert (await store.by_id(node.db, p.id)).state == "enacted"


async def decision_items(node):
    """The log as the members' export shows it: every entry with its body."""
    return [log_item(node.group_id, "", e, show_body=True) for e in await store.entries(node.db)]


async def test_decision_log__verifies_and_catches_altered_dropped_and_reordered_entries(node):
    # Given three closed proposals, written as signed records
    ada = await member(node, "ada", "partner")
    for title in ("One", "Two", "Three"):
        p = await open_proposal(node, ada, title=title)
        await vote(node, p, ada, "agree")
    await close(node, NOW + timedelta(days=4))
    items = await decision_items(node)
    group = await local_actors.group(node.db)
    key, record_key = group.public_key_pem, await decision_log.public_multikey(node.db, group.id)
    assert [i["version"] for i in items] == [2, 2, 2]
    assert decision_log.verify_chain(items, key, record_key).ok and len(items) == 3
    # When an entry is altered, dropped or reordered, Then verification says so
    altered = [dict(i) for i in items]
    altered[1] = {**altered[1], "body": {**altered[1]["body"], "result": "failed"}}
    assert "altered" in decision_log.verify_chain(altered, key, record_key).problem
    assert "missing or out of order" in decision_log.verify_chain([items[0], items[2]], key, record_key).problem
    assert not decision_log.verify_chain([items[1], items[0], items[2]], key, record_key).ok
    # And a re-signed forgery with another key does not pass
    forged_entry = records.make_entry(2, items[0]["hash"], "members", {**items[1]["body"], "result": "failed"},
                                      items[1]["salt"], records.new_private_key(),
                                      items[1]["proof"]["verificationMethod"])
    forged = [items[0], forged_entry, items[2]]
    assert "not the Congregation's signature" in decision_log.verify_chain(forged, key, record_key).problem
    # And without the record key a version-2 entry cannot pass
    assert "publishes no record key" in decision_log.verify_chain(items, key).problem


async def test_proposal__a_bug_in_one_enactment_does_not_hold_back_the_next(node, monkeypatch):
    # Given two passed proposals to promote, the first one's enactment broken by a bug (a fault no input can cause)
    from node.processing import proposals as processing_proposals

    ada = await member(node, "ada", "partner")
    await member(node, "bo")
    await member(node, "cy")
    first = await open_proposal(node, ada, action="promote", action_args={"member": "bo"})
    second = await open_proposal(node, ada, action="promote", action_args={"member": "cy"})
    for p in (first, second):
        await vote(node, p, ada, "agree")
    prepare, apply = processing_proposals.ENACTORS["promote"]

    async def broken_for_bo(db, config, proposal, prepared):
        if proposal.id == first.id:
            raise RuntimeError("a bug")
        return await apply(db, config, proposal, prepared)

    monkeypatch.setitem(processing_proposals.ENACTORS, "promote", (prepare, broken_for_bo))
    # When the decision clock closes both
    await processing_proposals.close_due(node.db, node.config, None, now=NOW + timedelta(days=4))
    # Then the second is carried out, and the first waits, passed and not enacted, for the next pass
    assert (await local_actors.by_username(node.db, "cy")).tier == "partner"
    assert (await local_actors.by_username(node.db, "bo")).tier == "friend"
    assert [(await store.by_id(node.db, p.id)).state for p in (first, second)] == ["passed", "enacted"]
    # And once the bug is gone, the next pass carries out the first
    monkeypatch.setitem(processing_proposals.ENACTORS, "promote", (prepare, apply))
    await processing_proposals.close_due(node.db, node.config, None, now=NOW + timedelta(days=4))
    assert (await store.by_id(node.db, first.id)).state == "enacted"
