"""Crews in the browser: starting one, joining a home crew by everyone's consent, working groups, refusals, CSRF."""

from __future__ import annotations

import re

from tests.webclient import Visitor, text_of

CREW_LINK = re.compile(r'href="/crews/(\d+)"')
ANSWER_FORM = re.compile(r'action="(/crews/\d+/requests/\d+)"')


async def _start(visitor: Visitor, name: str, kind: str = "home") -> tuple[int, str]:
    return await visitor.post("/crews", {"name": name, "purpose": "look after each other", "rhythm": "Thursdays",
                                         "kind": kind})


async def _crew_id(node, name: str) -> int:
    async with node.db.execute("SELECT id FROM crews WHERE name = ?", (name,)) as cur:
        return (await cur.fetchone())[0]


async def _members(node, crew_id: int) -> int:
    return await node.count("crew_members", "crew_id = ?", crew_id)


async def _home_crew_of(node, signed_in, *handles: str) -> tuple[int, list[Visitor]]:
    """A home crew started by the first handle, the others admitted with everyone's consent."""
    visitors = [await signed_in(h) for h in handles]
    await _start(visitors[0], "Kitchen")
    crew_id = await _crew_id(node, "Kitchen")
    for i, joiner in enumerate(visitors[1:], start=1):
        await joiner.post(f"/crews/{crew_id}/join", {"message": "hello"}, page="/crews")
        for answerer in visitors[:i]:
            status, page = await answerer.get(f"/crews/{crew_id}")
            [action] = ANSWER_FORM.findall(page)
            await answerer.post(action, {"answer": "consent", "reason": ""}, page=f"/crews/{crew_id}")
    assert await _members(node, crew_id) == len(handles)
    return crew_id, visitors


async def test_start_crew__founder_is_its_first_member_and_sees_its_page(node, signed_in):
    # Given a signed-in member
    ada = await signed_in("ada")
    # When she starts a home crew
    status, page = await _start(ada, "Kitchen")
    # Then she lands on its page, with its purpose, rhythm, herself, and the note that it is small
    assert status == 200
    text = text_of(page)
    assert "Kitchen" in text and "look after each other" in text and "Thursdays" in text and "Home crew" in text
    assert "@ada" in text and "1 of at least 3" in text
    crew_id = await _crew_id(node, "Kitchen")
    assert await _members(node, crew_id) == 1
    # And /crews lists it among hers
    _, page = await ada.get("/crews")
    assert f'href="/crews/{crew_id}"' in page and "Your crews" in text_of(page)


async def test_start_crew__no_name_is_a_form_error_with_what_was_typed(node, signed_in):
    ada = await signed_in("ada")
    before = await node.snapshot()
    status, page = await ada.post("/crews", {"name": "  ", "purpose": "my purpose", "rhythm": "weekly",
                                             "kind": "working"})
    assert status == 400 and 'role="alert"' in page and "A crew needs a name." in text_of(page)
    assert ">my purpose</textarea>" in page and 'value="weekly"' in page
    assert re.search(r'value="working" checked', page)
    assert await node.snapshot() == before


async def test_home_crew_join__one_decline_and_it_does_not_happen(node, signed_in):
    # Given a home crew of Ada and Bo, and Cy asking to join it
    crew_id, (ada, bo) = await _home_crew_of(node, signed_in, "ada", "bo")
    cy = await signed_in("cy")
    _, page = await cy.get("/crews")
    assert "Ask to join" in text_of(page)
    status, page = await cy.post(f"/crews/{crew_id}/join", {"message": "I cook"}, page="/crews")
    assert status == 200 and "Withdraw my request" in text_of(page)
    # And Ada is told her consent is asked, and sees the request with Cy's message
    _, page = await ada.get("/home")
    assert "Your consent is asked" in text_of(page)
    _, page = await ada.get(f"/crews/{crew_id}")
    assert "I cook" in text_of(page)
    [action] = ANSWER_FORM.findall(page)

    # When Ada consents and Bo declines, with a private reason
    await ada.post(action, {"answer": "consent", "reason": ""}, page=f"/crews/{crew_id}")
    status, _ = await bo.post(action, {"answer": "decline", "reason": "not yet"}, page=f"/crews/{crew_id}")

    # Then Cy is not in the crew, cannot read its posts, and the reason is shown nowhere
    assert status == 200
    assert await _members(node, crew_id) == 2
    assert await node.count("crew_requests", "state = 'declined'") == 1
    status, page = await cy.get(f"/crews/{crew_id}")
    assert status == 200 and "not yet" not in page and "Crew posts" not in text_of(page)
    _, page = await ada.get(f"/crews/{crew_id}")
    assert "not yet" not in page


async def test_home_crew_join__everyone_consents_and_they_are_in(node, signed_in):
    crew_id, (ada, bo) = await _home_crew_of(node, signed_in, "ada", "bo")
    cy = await signed_in("cy")
    await cy.post(f"/crews/{crew_id}/join", {"message": ""}, page="/crews")
    _, page = await ada.get(f"/crews/{crew_id}")
    [action] = ANSWER_FORM.findall(page)

    # When the first consents, Cy is not in yet; when the last consents, Cy is
    await ada.post(action, {"answer": "consent", "reason": ""}, page=f"/crews/{crew_id}")
    assert await _members(node, crew_id) == 2
    await bo.post(action, {"answer": "consent", "reason": "welcome"}, page=f"/crews/{crew_id}")
    assert await _members(node, crew_id) == 3
    _, page = await cy.get(f"/crews/{crew_id}")
    assert "Crew posts" in text_of(page) and "Leave Kitchen" in text_of(page)


async def test_working_group__anyone_joins_at_once_and_can_leave(node, signed_in):
    ada, bo = await signed_in("ada"), await signed_in("bo")
    await _start(ada, "Garden", kind="working")
    crew_id = await _crew_id(node, "Garden")
    _, page = await bo.get("/crews")
    assert "Join Garden" in text_of(page)

    status, page = await bo.post(f"/crews/{crew_id}/join", {}, page="/crews")
    assert status == 200 and await _members(node, crew_id) == 2 and "Crew posts" in text_of(page)
    assert await node.count("crew_requests") == 0

    status, _ = await bo.post(f"/crews/{crew_id}/leave", {}, page=f"/crews/{crew_id}")
    assert status == 200 and await _members(node, crew_id) == 1


async def test_withdraw_request__the_request_ends(node, signed_in):
    crew_id, _ = await _home_crew_of(node, signed_in, "ada", "bo")
    cy = await signed_in("cy")
    await cy.post(f"/crews/{crew_id}/join", {"message": ""}, page="/crews")
    status, page = await cy.post(f"/crews/{crew_id}/withdraw", {}, page=f"/crews/{crew_id}")
    assert status == 200 and "Ask to join" in text_of(page)
    assert await node.count("crew_requests", "state = 'withdrawn'") == 1


async def test_crew_max__a_full_crew_refuses_as_a_form_error(make_node, browsers):
    from tests.webclient import make_member

    node = await make_node("alpha", crew_max=3)
    visitors = []
    for handle in ("ada", "bo", "cy", "di"):
        await make_member(node, handle)
        visitors.append(browsers(node))
        await visitors[-1].sign_in(handle)
    ada, bo, cy, di = visitors
    await _start(ada, "Garden", kind="working")
    crew_id = await _crew_id(node, "Garden")
    for joiner in (bo, cy):
        await joiner.post(f"/crews/{crew_id}/join", {}, page="/crews")
    assert await _members(node, crew_id) == 3

    # When a fourth tries to join (a crafted form: the page offers no Join for a full crew)
    status, page = await di.post(f"/crews/{crew_id}/join", {"message": "me too"}, page="/crews")

    # Then it is a form error that says why, and nothing changed
    assert status == 400 and 'role="alert"' in page and "is full: a crew is at most 3 people" in text_of(page)
    assert await _members(node, crew_id) == 3 and await node.count("crew_requests") == 0


async def test_crew_forms__wrong_csrf_is_403_and_nothing_changes(node, signed_in):
    crew_id, (ada, bo) = await _home_crew_of(node, signed_in, "ada", "bo")
    cy = await signed_in("cy")
    await cy.post(f"/crews/{crew_id}/join", {"message": ""}, page="/crews")
    _, page = await ada.get(f"/crews/{crew_id}")
    [action] = ANSWER_FORM.findall(page)
    before = {t: await node.count(t) for t in ("crews", "crew_members", "crew_requests", "crew_answers")}
    states = await node.count("crew_requests", "state = 'pending'")

    attempts = [
        (ada, "/crews", {"name": "Forged", "purpose": "", "rhythm": "", "kind": "home"}),
        (ada, action, {"answer": "consent", "reason": ""}),
        (bo, action, {"answer": "decline", "reason": ""}),
        (cy, f"/crews/{crew_id}/withdraw", {}),
        (ada, f"/crews/{crew_id}/leave", {}),
        (await signed_in("di"), f"/crews/{crew_id}/join", {"message": ""}),
    ]
    for visitor, path, data in attempts:
        status, _ = await visitor.post(path, data, csrf="forged")
        assert status == 403, path

    assert {t: await node.count(t) for t in before} == before
    assert await node.count("crew_requests", "state = 'pending'") == states


async def test_crews__signed_out_is_sent_to_sign_in(node, browsers):
    visitor = browsers(node)
    async with visitor.session.get(visitor.url("/crews"), allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/login")
