"""Voting in the browser in a sibling's poll: A's public proposal reaches B as a Question, B's member votes in it
from /home (Mastodon's vote shape, signed by her, delivered over real HTTP), A counts it, and B shows her choice;
refused votes change nothing; a closed poll shows its final counts. Two real nodes on loopback, no mocks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from node.activitypub.as2.questions import question_uri
from node.governance import proposals
from node.processing import proposals as processing_proposals
from node.store import local_actors
from node.store import proposals as proposals_store
from tests.factories import become_siblings, exchange
from tests.fediverse import InProcessNode, run_cli
from tests.webclient import CSRF_RE, Visitor, make_member, text_of

FORM = 'action="/polls/vote"'


@pytest.fixture
async def siblings(make_posting_node):
    """A and B, sibling Congregations; Ada is a member of A, Bea of B, signed in on B in a browser of her own."""
    a, b = await make_posting_node("alpha"), await make_posting_node("beta")
    await become_siblings(a, b)
    await make_member(a, "ada", "partner", display_name="Ada")
    await make_member(b, "bea", "friend", display_name="Bea")
    bea = Visitor(b)
    status, _ = await bea.sign_in("bea")
    assert status == 200
    yield a, b, bea
    await bea.close()


async def open_poll(a: InProcessNode, b: InProcessNode, title: str = "Where shall the Assembly meet?",
                    options: tuple[str, ...] = ("Library", "Park"), multiple: bool = False,
                    closes_in: timedelta = timedelta(days=2, hours=1)) -> str:
    """Ada opens a public poll on A, closing in two days; it reaches B as a Question. Returns its URI."""
    ada = await local_actors.by_username(a.db, "ada")
    events = await processing_proposals.open_proposal(
        a.db, a.config, ada, kind="poll", title=title, options=list(options),
        multiple=multiple, scope="public", closes_at=datetime.now(UTC) + closes_in)
    uri = question_uri(a.config, events[0].proposal)
    await exchange(a, b)
    assert await b.count("remote_objects", "uri = ? AND type = 'Question'", uri) == 1
    return uri


async def close_poll(a: InProcessNode, b: InProcessNode, uri: str) -> None:
    """A's closing time passes, A closes the poll, and its Update(Question) reaches B."""
    uuid = uri.rsplit("/", 1)[1]
    if (await proposals_store.by_uuid(a.db, uuid)).is_open:  # else closed already: its time passed with another's
        await a.pass_closing_time(uuid)
        assert await a.close_proposals()
    await exchange(a, b)


async def vote(visitor: Visitor, question: str, *choices: str, csrf: str | None = None) -> tuple[int, str]:
    """Send the poll form on /home as the browser would: the page's CSRF token, the Question, the choices."""
    if csrf is None:
        _, page = await visitor.get("/home")
        csrf = unescape(CSRF_RE.search(page).group(1))
    data = [("csrf", csrf), ("question", question), *(("choice", c) for c in choices)]
    async with visitor.session.post(visitor.url("/polls/vote"), data=data) as response:
        return response.status, await response.text()


async def tally(a: InProcessNode, uri: str):
    proposal = await proposals_store.by_uuid(a.db, uri.rsplit("/", 1)[1])
    return await proposals.current_tally(a.db, a.config, proposal)


async def rows(a: InProcessNode, b: InProcessNode) -> tuple[int, ...]:
    """What a vote would add: B's outbox and delivery rows, A's stances."""
    return (await b.count("outbox"), await b.count("deliveries"), await a.count("stances"))


def poll_of(page: str, uri: str) -> str:
    """The HTML of the one post on the page whose poll is `uri`."""
    for article in re.findall(r"<article .*?</article>", page, flags=re.S):
        if uri in article:
            return article
    raise AssertionError(f"no post for {uri} on the page")


async def test_vote__a_sibling_member_votes_from_home_and_the_poll_counts_it(siblings):
    a, b, bea = siblings
    # Given A's public poll on B
    uri = await open_poll(a, b)
    # When Bea opens her home page
    status, page = await bea.get("/home")
    # Then the poll is a form: its question as the legend, one radio button per option, Vote, and when it closes
    assert status == 200
    post = poll_of(page, uri)
    assert FORM in post and re.search(r"<legend[^>]*>Where shall the Assembly meet\?</legend>", post)
    assert post.count('type="radio" name="choice"') == 2 and "<button type=\"submit\">Vote</button>" in post
    assert "closes in 2 days" in text_of(post) and "Library: " not in text_of(post)
    assert re.search(r'<label><input type="radio" name="choice" value="Park"> Park</label>', post)

    # When she chooses Park and votes
    status, page = await vote(bea, uri, "Park")
    # Then she is back on /home, which shows her choice and no form
    assert status == 200 and "You voted: Park" in text_of(page)
    assert FORM not in poll_of(page, uri)
    # And one Create(Note{name, inReplyTo}) signed by her is queued for A's Group, committed before the redirect
    bea_uri = f"{b.base}/actors/bea"
    assert await b.count("deliveries", "actor_id = (SELECT id FROM local_actors WHERE username = 'bea')"
                                       " AND inbox = ?", f"{a.group_id}/inbox") == 1
    assert await b.count("outbox", "type = 'Create' AND json_extract(body, '$.object.inReplyTo') = ?"
                                   " AND json_extract(body, '$.object.name') = 'Park'"
                                   " AND json_extract(body, '$.actor') = ?"
                                   " AND json_extract(body, '$.object.to[0]') = ?", uri, bea_uri, a.group_id) == 1

    # When the deliveries run
    await exchange(a, b)
    # Then A counts her vote: its tally, and Ada's page of the proposal
    result = await tally(a, uri)
    assert result.counts == {"Library": 0, "Park": 1} and result.voters == 1
    ada = Visitor(a)
    try:
        assert (await ada.sign_in("ada"))[0] == 200
        _, proposal_page = await ada.get(f"/proposals/{uri.rsplit('/', 1)[1]}")
        assert "Park: 1" in text_of(proposal_page) and "Library: 0" in text_of(proposal_page)
    finally:
        await ada.close()
    # And A's Update(Question) brought the new count back to B, where Bea sees it with her vote marked
    _, page = await bea.get("/home")
    post = text_of(poll_of(page, uri))
    assert "Park: 1 vote (your vote)" in post and "Library: 0 votes" in post and "You voted: Park" in post
    assert "Results so far" in post and FORM not in poll_of(page, uri)


async def test_vote__any_of_with_two_choices_sends_two_notes_and_both_count(siblings):
    a, b, bea = siblings
    # Given A's multiple-choice poll on B, shown with checkboxes
    uri = await open_poll(a, b, "Which days for the feast?", ("Friday", "Saturday", "Sunday"), multiple=True)
    _, page = await bea.get("/home")
    assert poll_of(page, uri).count('type="checkbox" name="choice"') == 3
    assert "Choose one or more" in text_of(poll_of(page, uri))
    # When Bea ticks Friday and Sunday and votes
    status, page = await vote(bea, uri, "Friday", "Sunday")
    # Then two Notes go to A, one per choice, and A counts both as her one stance
    assert status == 200 and "You voted: Friday, Sunday" in text_of(page)
    assert await b.count("deliveries", "activity_id LIKE ?", f"{b.base}/votes/%") == 2
    assert await b.count("outbox", "json_extract(body, '$.object.inReplyTo') = ?", uri) == 2
    await exchange(a, b)
    result = await tally(a, uri)
    assert result.counts == {"Friday": 1, "Saturday": 0, "Sunday": 1} and result.voters == 1


@pytest.mark.parametrize(("choices", "status", "message"), [
    ((), 400, "Choose one of: Library, Park."),
    (("Beach",), 400, "“Beach” is not an option of this poll; choose from: Library, Park."),
    (("Library", "Park"), 400, "This poll takes one choice."),
])
async def test_vote__a_bad_choice_is_a_form_error_and_nothing_is_sent(siblings, choices, status, message):
    a, b, bea = siblings
    uri = await open_poll(a, b)
    before = await rows(a, b)
    # When Bea sends the form with no choice, a choice the poll does not offer, or two in a one-choice poll
    got, page = await vote(bea, uri, *choices)
    # Then the page says why, by the poll, whose form is still there, and nothing is stored or sent
    assert got == status, text_of(page)
    post = poll_of(page, uri)
    assert 'role="alert"' in post and message in text_of(post) and FORM in post
    assert re.search(r'<fieldset aria-describedby="remote-\d+-poll-error">', post)
    await exchange(a, b)
    assert await rows(a, b) == before


async def test_vote__an_unknown_poll_is_404_and_nothing_is_sent(siblings):
    a, b, bea = siblings
    await open_poll(a, b)
    before = await rows(a, b)
    for question in (f"{a.base}/proposals/no-such-poll-here", "", "https://elsewhere.example/polls/1"):
        status, page = await vote(bea, question, "Park")
        assert status == 404 and "That poll is not known here." in text_of(page)
        assert re.search(r'<p class="error" role="alert">That poll is not known here.</p>', page)
    # B's own proposals are decided on their page, not here
    status, page = await vote(bea, f"{b.base}/proposals/00000000-0000-0000-0000-000000000000", "agree")
    assert status == 404 and "decided on their page" in text_of(page)
    await exchange(a, b)
    assert await rows(a, b) == before


async def test_vote__a_second_vote_is_refused_and_nothing_more_is_sent(siblings):
    a, b, bea = siblings
    uri = await open_poll(a, b)
    _, page = await bea.get("/home")
    token = unescape(CSRF_RE.search(page).group(1))
    assert (await vote(bea, uri, "Park", csrf=token))[0] == 200
    before = await rows(a, b)
    # When the same form is sent again (a second tab, a double click), with another choice
    status, page = await vote(bea, uri, "Library", csrf=token)
    # Then it is refused, her first choice stands, and nothing more goes out
    assert status == 409 and "You have already voted in this poll: Park." in text_of(page)
    assert "You voted: Park" in text_of(poll_of(page, uri)) and FORM not in poll_of(page, uri)
    assert await rows(a, b) == before
    await exchange(a, b)
    assert (await tally(a, uri)).counts == {"Library": 0, "Park": 1}
    # And the command line keeps the same record and the same rule
    assert await run_cli("vote", uri, "Library", "--as", "bea", "--data", str(b.config.data_dir)) == 1
    assert await b.count("outbox", "json_extract(body, '$.object.inReplyTo') = ?", uri) == 1


async def test_vote__a_vote_from_the_command_line_shows_on_home(siblings):
    a, b, bea = siblings
    uri = await open_poll(a, b)
    # When Bea votes with `congregation vote`
    assert await run_cli("vote", uri, "Library", "--as", "bea", "--data", str(b.config.data_dir)) == 0
    # Then her home page shows that choice and no form, and the form is refused
    _, page = await bea.get("/home")
    assert "You voted: Library" in text_of(poll_of(page, uri)) and FORM not in poll_of(page, uri)
    status, _ = await vote(bea, uri, "Park")
    assert status == 409 and await b.count("deliveries", "activity_id LIKE ?", f"{b.base}/votes/%") == 1


async def test_vote__without_the_csrf_token_is_403_and_nothing_is_sent(siblings):
    a, b, bea = siblings
    uri = await open_poll(a, b)
    before = await rows(a, b)
    status, _ = await vote(bea, uri, "Park", csrf="forged")
    assert status == 403 and await rows(a, b) == before


async def test_vote__a_closed_poll_shows_final_counts_and_refuses_a_vote(siblings):
    a, b, bea = siblings
    # Given A's poll, in which Bea voted, and another she did not vote in
    uri = await open_poll(a, b)
    other = await open_poll(a, b, "Bring a dish or a drink?", ("Dish", "Drink"))
    await vote(bea, uri, "Park")
    await exchange(a, b)
    # When A closes both, and the Update(Question)s reach B
    await close_poll(a, b, uri)
    await close_poll(a, b, other)
    assert await b.count("remote_objects", "json_extract(document, '$.closed') IS NOT NULL") == 2
    # Then B's home shows final counts and no form for either
    _, page = await bea.get("/home")
    voted, missed = text_of(poll_of(page, uri)), text_of(poll_of(page, other))
    assert FORM not in page
    assert "Final results" in voted and "Park: 1 vote (your vote)" in voted and "Library: 0 votes" in voted
    assert "Final results" in missed and "Dish: 0 votes" in missed and "You voted" not in missed
    closes_at = (await proposals_store.by_uuid(a.db, other.rsplit("/", 1)[1])).closes_at
    assert f"closed {closes_at[:10]} {closes_at[11:16]} UTC" in missed
    # And a vote sent anyway is refused, with nothing sent
    before = await rows(a, b)
    status, page = await vote(bea, other, "Dish")
    assert status == 409 and "This poll is closed." in text_of(poll_of(page, other))
    await exchange(a, b)
    assert await rows(a, b) == before


@pytest.mark.browser
async def test_vote__the_poll_on_home_has_no_serious_accessibility_problems(siblings, browser):
    from playwright.async_api import expect

    from tests.browser import accessibility_violations, screenshot_path, sign_in
    a, b, _ = siblings
    # Given an open poll and a closed one on Bea's home page
    uri = await open_poll(a, b)
    closed = await open_poll(a, b, "Bring a dish or a drink?", ("Dish", "Drink"), closes_in=timedelta(hours=1))
    await close_poll(a, b, closed)
    # axe-core is a script; the pages forbid scripts, so this one context lets it in
    context = await browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await sign_in(page, b, "bea")
    found = {"open": await accessibility_violations(page)}
    await page.screenshot(path=screenshot_path("home-poll-open"), full_page=True)
    # When she votes by its label and button
    await page.get_by_label("Park", exact=True).check()
    await page.get_by_role("button", name="Vote").click()
    await expect(page.locator("main")).to_contain_text("You voted: Park")
    found["voted"] = await accessibility_violations(page)
    await page.screenshot(path=screenshot_path("home-poll-voted"), full_page=True)
    # Then neither page has a serious or critical problem, and the vote was queued
    serious = {k: [f for f in v if f.startswith(("serious", "critical"))] for k, v in found.items()}
    assert not any(serious.values()), serious
    assert await b.count("outbox", "json_extract(body, '$.object.inReplyTo') = ?", uri) == 1
    await context.close()
