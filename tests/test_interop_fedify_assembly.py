"""Interop with a Fedify 2.3.6 peer: an Assembly proposal reaches a server that is not a Congregation as a
`Question` it can show, Fedify's own `verifyObject` checks its FEP-8b32 proof (and refuses an altered copy), and
its vote counts as nobody's Congregation's."""

from __future__ import annotations

import pytest

from node.store import assembly as store
from tests.factories import advance_clocks as advance
from tests.factories import control, deliver_all, fedify_follows_group
from tests.factories import table_to_assembly as table

pytestmark = pytest.mark.interop


async def test_fedify__verifies_the_assembly_proposals_proof_and_its_vote_is_not_a_congregations(
        make_posting_node, fedify, session):
    node = await make_posting_node()
    await fedify_follows_group(node, fedify, session)
    await table(node)
    advance([node], 3601)
    await node.close_proposals()
    [held] = await store.listed(node.db)
    await deliver_all(node)

    status, creates = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Create"})
    [create] = [e for e in creates if e["object"] == held.uri]
    assert create["verified"] is True and create["actor"] == node.group_id
    assert create["activity"]["object"]["type"] == "Question"
    assert create["objectProof"] == "verified", create.get("objectProof")
    # Fedify's check fails on a copy altered after signing
    altered = {**held.document, "name": "Sell the van"}
    status, answer = await control(session, "POST", f"{fedify}/_control/verify-object", json={"object": altered})
    assert status == 200 and answer["result"] != "verified", answer

    # A person on Fedify votes on it as on any poll: it is not a Congregation's stance, and counts for nothing
    status, sent = await control(session, "POST", f"{fedify}/_control/vote",
                                  json={"target": node.group_id, "question": held.uri, "choice": "block"})
    assert status == 200, sent
    await node.drain_inbox()
    assert await store.stance_count(node.db, held.id) == 0
    assert await node.count("stances", "voter LIKE ?", f"{fedify}%") == 0
