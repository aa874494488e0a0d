"""Proposals in the browser: opening each kind, taking and changing a stance, hidden results, who may take part,
closing and recording the outcome, withdrawal, CSRF, and what signed-out visitors see."""

from __future__ import annotations

from node.governance import crews
from node.store import local_actors
from tests.webclient import Visitor, text_of


def _form(title: str, **values: str) -> dict[str, str]:
    return {"kind": "consent", "title": title, "details": "Why we should", "closes_in": "3", "closes_at": "",
            "scope": "congregation", "options": "", "quorum": "0", "action": "", "member": "", "sibling": "",
            **values}


async def _propose(visitor: Visitor, title: str, **values: str) -> tuple[int, str]:
    return await visitor.post("/proposals/new", _form(title, **values))


async def _uuid(node, title: str) -> str:
    async with node.db.execute("SELECT uuid FROM proposals WHERE title = ?", (title,)) as cur:
        return (await cur.fetchone())[0]


async def _stance(visitor: Visitor, uuid: str, *choices: str, reason: str = "") -> tuple[int, str]:
    data = [("choice", c) for c in choices] + [("reason", reason), ("csrf", await visitor.csrf(f"/proposals/{uuid}"))]
    async with visitor.session.post(visitor.url(f"/proposals/{uuid}/stance"), data=data) as r:
        return r.status, await r.text()


async def _close(node, uuid: str) -> None:
    await node.pass_closing_time(uuid)
    await node.close_proposals()


async def test_create__each_kind_opens_and_is_listed(node, signed_in):
    ada = await signed_in("ada", "partner")
    status, page = await _propose(ada, "Paint the door green")
    assert status == 200 and "Paint the door green" in text_of(page) and "Agree" in text_of(page)
    status, page = await _propose(ada, "Which day for the feast", kind="poll", options="Friday\nSaturday\n\nSunday",
                                  multiple="1", closes_in="7")
    assert status == 200 and all(day in text_of(page) for day in ("Friday", "Saturday", "Sunday"))
    assert 'type="checkbox" name="choice"' in page
    status, page = await _propose(ada, "Thoughts on a bigger garden", kind="advice", closes_in="at",
                                  closes_at="2099-01-01T10:00")
    assert status == 400 and "between a minute and a year" in text_of(page)  # too far: a form error
    status, page = await _propose(ada, "Thoughts on a bigger garden", kind="advice", closes_in="1")
    assert status == 200 and "Advice" in text_of(page)
    assert await node.count("proposals") == 3
    assert await node.count("proposals", "kind = 'poll' AND multiple = 1") == 1

    _, page = await ada.get("/proposals")
    text = text_of(page)
    assert all(t in text for t in ("Paint the door green", "Which day for the feast", "Thoughts on a bigger garden"))
    assert "in 2 days" in text or "in 3 days" in text


async def test_create__bad_input_is_a_form_error_that_keeps_what_was_typed(node, signed_in):
    ada = await signed_in("ada")
    status, page = await _propose(ada, "Feast", kind="poll", options="Only one", details="keep me")
    assert status == 400 and 'role="alert"' in page and "A poll needs 2 to" in text_of(page)
    assert ">keep me</textarea>" in page and 'value="Feast"' in page and ">Only one</textarea>" in page
    status, page = await _propose(ada, "Feast", closes_in="at", closes_at="soon")
    assert status == 400 and "choose when the proposal closes" in text_of(page).lower()
    status, page = await _propose(ada, "Feast", quorum="lots")
    assert status == 400 and "quorum" in text_of(page)
    assert await node.count("proposals") == 0


async def test_stance__vote_change_latest_counts_and_who_stands_where(node, signed_in):
    ada, bo = await signed_in("ada"), await signed_in("bo", "partner")
    await _propose(ada, "Paint the door green")
    uuid = await _uuid(node, "Paint the door green")

    status, page = await _stance(bo, uuid, "disagree", reason="red is nicer")
    assert status == 200 and "Your stance: disagree" in text_of(page)
    status, page = await _stance(bo, uuid, "agree", reason="fine, green")
    assert status == 200
    text = text_of(page)
    assert "Agree: 1" in text and "Disagree: 0" in text and "1 of 2 took part" in text
    assert "Bo : agree — “fine, green”" in text and "red is nicer" not in text
    assert await node.count("stances") == 2  # history kept; the latest counts

    _, page = await bo.get("/proposals")
    assert "agree" in text_of(page)


async def test_stance__block_without_a_reason_is_a_form_error(node, signed_in):
    ada = await signed_in("ada")
    await _propose(ada, "Paint the door green")
    uuid = await _uuid(node, "Paint the door green")
    status, page = await _stance(ada, uuid, "block", reason="  ")
    assert status == 400 and 'role="alert"' in page and "A block needs a reason" in text_of(page)
    assert await node.count("stances") == 0
    # The choice made is kept
    assert 'value="block" checked' in page


async def test_hidden_results__not_shown_before_close_then_shown(node, signed_in):
    ada, bo = await signed_in("ada"), await signed_in("bo")
    await _propose(ada, "Secret ballot", kind="poll", options="Yes\nNo", hide_results="1")
    uuid = await _uuid(node, "Secret ballot")
    await _stance(bo, uuid, "Yes", reason="because")

    for visitor in (ada, bo):
        _, page = await visitor.get(f"/proposals/{uuid}")
        assert "results are hidden" in text_of(page) and "Yes: 1" not in text_of(page)
    # And the proposer does not learn who stands where either
    _, page = await ada.get(f"/proposals/{uuid}")
    assert "because" not in page and "Who stands where" not in text_of(page)

    await _close(node, uuid)
    _, page = await ada.get(f"/proposals/{uuid}")
    assert "Yes: 1" in text_of(page) and "Bo : Yes" in text_of(page)


async def test_partners_scope__a_friend_cannot_open_one(node, signed_in):
    friend = await signed_in("fred")
    _, page = await friend.get("/proposals/new")
    assert 'value="partners"' not in page
    status, page = await _propose(friend, "Only for Partners", scope="partners")
    assert status == 400 and "Only Partners can make a proposal for Partners." in text_of(page)
    assert await node.count("proposals") == 0


async def test_crew_scope__outsiders_refused(node, signed_in):
    ada, bo, cy = await signed_in("ada"), await signed_in("bo"), await signed_in("cy")
    actors = [await local_actors.by_username(node.db, h) for h in ("ada", "bo")]
    [started] = await crews.start(node.db, actors[0], "Kitchen", "", "", "working")
    await crews.join(node.db, actors[1], started.crew.id, "", 8)
    crew_id = started.crew.id

    # A non-member of the crew cannot open a proposal for it
    status, page = await _propose(cy, "Crew thing", scope=f"crew:{crew_id}")
    assert status == 400 and "made by its members" in text_of(page) and await node.count("proposals") == 0

    # A member can; the crew votes; an outsider cannot see it, list it, or take a stance
    status, _ = await _propose(ada, "Crew thing", scope=f"crew:{crew_id}")
    assert status == 200
    uuid = await _uuid(node, "Crew thing")
    status, page = await _stance(bo, uuid, "agree")
    assert status == 200
    assert (await cy.get(f"/proposals/{uuid}"))[0] == 404
    assert "Crew thing" not in (await cy.get("/proposals"))[1]
    async with cy.session.post(cy.url(f"/proposals/{uuid}/stance"),
                               data={"choice": "block", "reason": "x", "csrf": await cy.csrf("/proposals")}) as r:
        assert r.status == 404
    assert await node.count("stances") == 1


async def test_close__page_shows_the_result_and_the_proposer_records_the_outcome(node, signed_in):
    ada, bo = await signed_in("ada"), await signed_in("bo")
    await _propose(ada, "Paint the door green")
    uuid = await _uuid(node, "Paint the door green")
    await _stance(ada, uuid, "agree")
    await _stance(bo, uuid, "agree")

    await _close(node, uuid)

    _, page = await bo.get(f"/proposals/{uuid}")
    assert "passed" in text_of(page) and "No outcome written yet" in text_of(page)
    assert "Take my stance" not in text_of(page) and "Change my stance" not in text_of(page)
    assert f'action="/proposals/{uuid}/outcome"' not in page  # Bo is neither proposer nor Partner
    # An empty outcome is a form error
    status, page = await ada.post(f"/proposals/{uuid}/outcome", {"outcome": " "})
    assert status == 400 and 'role="alert"' in page
    status, page = await ada.post(f"/proposals/{uuid}/outcome", {"outcome": "Sam buys paint on Monday"})
    assert status == 200 and "Sam buys paint on Monday" in text_of(page)
    # And a stance after close is refused
    status, page = await _stance(bo, uuid, "block", reason="too late")
    assert status == 400 and "This proposal is closed." in text_of(page)


async def test_close__no_quorum_is_shown(node, signed_in):
    ada = await signed_in("ada")
    await signed_in("bo")
    await _propose(ada, "Quorate", quorum="100")
    uuid = await _uuid(node, "Quorate")
    await _stance(ada, uuid, "agree")
    await _close(node, uuid)
    _, page = await ada.get(f"/proposals/{uuid}")
    assert "no quorum" in text_of(page) and "quorum 100%: not met" in text_of(page)


async def test_withdraw__by_the_proposer(node, signed_in):
    ada, bo = await signed_in("ada"), await signed_in("bo")
    await _propose(ada, "Never mind")
    uuid = await _uuid(node, "Never mind")
    _, page = await bo.get(f"/proposals/{uuid}")
    assert "Withdraw the proposal" not in text_of(page)
    status, page = await bo.post(f"/proposals/{uuid}/withdraw", {})
    assert status == 400 and await node.count("proposals", "state = 'open'") == 1
    status, page = await ada.post(f"/proposals/{uuid}/withdraw", {})
    assert status == 200 and "withdrawn" in text_of(page)
    assert await node.count("proposals", "state = 'withdrawn'") == 1


async def test_forms__wrong_csrf_is_403_and_nothing_changes(node, signed_in):
    ada = await signed_in("ada")
    await _propose(ada, "Open one")
    await _propose(ada, "Closed one")
    open_uuid, closed_uuid = await _uuid(node, "Open one"), await _uuid(node, "Closed one")
    await _close(node, closed_uuid)
    await ada.get("/proposals")  # days passed by the node's clock: this visit renews her session, before the snapshot
    before = await node.snapshot()
    rows = [await node.count("proposals"), await node.count("stances"),
            await node.count("proposals", "state = 'open'"), await node.count("proposals", "outcome != ''")]

    for path, data in (("/proposals/new", _form("Forged")), (f"/proposals/{open_uuid}/stance", {"choice": "agree"}),
                       (f"/proposals/{open_uuid}/withdraw", {}),
                       (f"/proposals/{closed_uuid}/outcome", {"outcome": "forged"})):
        status, _ = await ada.post(path, data, csrf="forged")
        assert status == 403, path

    assert [await node.count("proposals"), await node.count("stances"),
            await node.count("proposals", "state = 'open'"), await node.count("proposals", "outcome != ''")] == rows
    assert await node.snapshot() == before


async def test_signed_out__404_for_the_congregation_readable_when_public(node, signed_in, browsers):
    ada = await signed_in("ada")
    await _propose(ada, "Members only decision")
    await _propose(ada, "Open to the world", scope="public")
    stranger = browsers(node)

    status, page = await stranger.get(f"/proposals/{await _uuid(node, 'Members only decision')}")
    assert status == 404 and "Members only decision" not in page
    status, page = await stranger.get(f"/proposals/{await _uuid(node, 'Open to the world')}")
    assert status == 200 and "Open to the world" in text_of(page) and "Why we should" in text_of(page)
    assert "Take my stance" not in text_of(page) and "Agree: 0" in text_of(page)
    async with stranger.session.get(stranger.url("/proposals"), allow_redirects=False) as r:
        assert r.status == 303


async def test_notice__a_proposal_closing_within_a_day_until_one_takes_a_stance(node, signed_in):
    ada, bo = await signed_in("ada"), await signed_in("bo")
    await _propose(ada, "Soon", closes_in="1")
    await _propose(ada, "Later", closes_in="7")
    uuid = await _uuid(node, "Soon")

    _, page = await bo.get("/home")
    assert "“Soon” closes within a day" in text_of(page) and "Later" not in text_of(page)
    await _stance(bo, uuid, "agree")
    _, page = await bo.get("/home")
    assert "closes within a day" not in text_of(page)
