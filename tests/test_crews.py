"""Crews in governance: home crews joined by everyone's consent, open working groups, sizes."""

from __future__ import annotations

import pytest

from node.governance import crews
from node.governance.crews import CrewError
from node.processing import membership as processing_membership
from node.store import crews as store
from tests.factories import member

CREW_MAX = 8


async def home_crew(node, *handles):
    """A home crew whose members are `handles` (the first starts it; the others join by consent)."""
    people = [await member(node, h) for h in handles]
    crew = (await crews.start(node.db, people[0], "Tuesday circle", "peer support", "weekly", "home"))[0].crew
    for newcomer in people[1:]:
        await crews.join(node.db, newcomer, crew.id, "", CREW_MAX)
        request = await store.pending_request(node.db, crew.id, newcomer.id)
        for current in (await store.by_id(node.db, crew.id)).members:
            await crews.answer(node.db, next(p for p in people if p.id == current), request.id, True, "", CREW_MAX)
    return await store.by_id(node.db, crew.id), people


async def dee_asks_and_two_consent(node, crew, ada, bo):
    """Dee asks to join the crew; Ada and Bo consent. Returns Dee and her request."""
    dee = await member(node, "dee")
    await crews.join(node.db, dee, crew.id, "I'd love to join", CREW_MAX)
    request = await store.pending_request(node.db, crew.id, dee.id)
    await crews.answer(node.db, ada, request.id, True, "", CREW_MAX)
    await crews.answer(node.db, bo, request.id, True, "", CREW_MAX)
    return dee, request


async def test_crew__join_happens_when_every_member_consents(node):
    crew, (ada, bo, cy) = await home_crew(node, "ada", "bo", "cy")
    assert set(crew.members) == {ada.id, bo.id, cy.id}


async def test_crew__one_decline_and_the_join_does_not_happen(node):
    # Given a home crew of three and a member asking to join
    crew, (ada, bo, cy) = await home_crew(node, "ada", "bo", "cy")
    # When two consent and one declines (no reason needed)
    dee, request = await dee_asks_and_two_consent(node, crew, ada, bo)
    await crews.answer(node.db, cy, request.id, False, "", CREW_MAX)
    # Then she is not in the crew, and the request is over
    assert dee.id not in (await store.by_id(node.db, crew.id)).members
    assert (await store.request_by_id(node.db, request.id)).state == "declined"
    with pytest.raises(CrewError, match="no open request"):
        await crews.answer(node.db, ada, request.id, True, "", CREW_MAX)


async def test_crew__only_crew_members_answer(node):
    crew, _ = await home_crew(node, "ada", "bo")
    dee, eve = await member(node, "dee"), await member(node, "eve")
    await crews.join(node.db, dee, crew.id, "", CREW_MAX)
    request = await store.pending_request(node.db, crew.id, dee.id)
    with pytest.raises(CrewError, match="only members of"):
        await crews.answer(node.db, eve, request.id, True, "", CREW_MAX)


async def test_crew__working_group_is_open_to_any_member(node):
    ada, bo = await member(node, "ada"), await member(node, "bo")
    crew = (await crews.start(node.db, ada, "Garden working group", "", "", "working"))[0].crew
    events = await crews.join(node.db, bo, crew.id, "", CREW_MAX)
    assert events[0].kind == "joined" and bo.id in events[0].crew.members


async def test_crew__refused_past_crew_max_and_small_crews_are_told(node):
    ada = await member(node, "ada")
    crew = (await crews.start(node.db, ada, "Tiny", "", "", "working"))[0].crew
    assert "at least 3" in crews.size_note(crew, 2)
    bo, cy = await member(node, "bo"), await member(node, "cy")
    await crews.join(node.db, bo, crew.id, "", 2)
    with pytest.raises(CrewError, match="full"):
        await crews.join(node.db, cy, crew.id, "", 2)
    assert len((await store.by_id(node.db, crew.id)).members) == 2


async def test_crew__leaving_lets_a_waiting_request_through_when_the_rest_consented(node):
    crew, (ada, bo) = await home_crew(node, "ada", "bo")
    dee = await member(node, "dee")
    await crews.join(node.db, dee, crew.id, "", CREW_MAX)
    request = await store.pending_request(node.db, crew.id, dee.id)
    await crews.answer(node.db, ada, request.id, True, "", CREW_MAX)
    await crews.leave(node.db, bo, crew.id)
    assert set((await store.by_id(node.db, crew.id)).members) == {ada.id, dee.id}


async def test_crew__bad_input_is_refused_and_changes_nothing(node):
    ada = await member(node, "ada")
    for name, kind in (("", "home"), ("x" * 81, "home"), ("Fine", "party")):
        with pytest.raises(CrewError):
            await crews.start(node.db, ada, name, "", "", kind)
    assert await node.count("crews") == 0


async def test_crew__a_member_removed_from_the_congregation_leaves_every_crew_and_stops_holding_up_a_join(node):
    # Given a home crew of three, Dee asking to join it, Ada and Bo consenting, Cy not answering yet,
    # and Cy asking to join a second crew
    crew, (ada, bo, cy) = await home_crew(node, "ada", "bo", "cy")
    dee, request = await dee_asks_and_two_consent(node, crew, ada, bo)
    other, _ = await home_crew(node, "eve", "fay", "gus")
    await crews.join(node.db, cy, other.id, "", CREW_MAX)
    # When Cy is removed from the Congregation
    await processing_membership.remove(node.db, node.config, "cy", ada, "moved away and asked to be removed")
    # Then Cy is in no crew, her own request is withdrawn, and Dee (whom everyone left had consented to) is in
    assert set((await store.by_id(node.db, crew.id)).members) == {ada.id, bo.id, dee.id}
    assert (await store.request_by_id(node.db, request.id)).state == "joined"
    assert await store.pending_request(node.db, other.id, cy.id) is None
    assert await store.of_member(node.db, cy.id) == []
