"""The web UI in a real browser: a newcomer is invited, joins as a Friend, and posts for members and for all.

Debian's Chromium under Playwright against two real nodes on loopback that are sibling Congregations.
Screenshots of the main pages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser import screenshot_path, sign_in
from tests.factories import become_siblings, exchange
from tests.webclient import PASSWORD, make_member

pytestmark = pytest.mark.browser


async def person(browser: Browser) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    return context


async def compose(page: Page, text: str, visibility: str) -> None:
    await page.get_by_label("What's on your mind?").fill(text)
    await page.get_by_label(visibility, exact=True).check()
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(page.locator("main")).to_contain_text(text)


async def test_browser__invited_friend_posts_for_members_and_for_everyone(make_posting_node, browser):
    # Given two sibling Congregations; A has a Partner and a Friend, B has a member
    a, b = await make_posting_node("alpha"), await make_posting_node("beta")
    await become_siblings(a, b)
    await make_member(a, "pat", "partner", display_name="Pat Partner")
    await make_member(a, "fern", "friend", display_name="Fern Friend")
    await make_member(b, "bea", "friend", display_name="Bea of Beta")

    # When the Partner signs in and creates an invitation for a Friend
    partner = await (await person(browser)).new_page()
    await sign_in(partner, a, "pat")
    await partner.screenshot(path=screenshot_path("home-partner"), full_page=True)
    await partner.goto(a.base + "/invitations")
    await partner.get_by_role("button", name=re.compile("Create invitation", re.I)).click()
    link = (await partner.locator("code.link").first.inner_text()).strip()
    assert link.startswith(a.base + "/invite/")
    await partner.screenshot(path=screenshot_path("invitations"), full_page=True)

    # And a newcomer, in a browser of her own, accepts it
    newcomer = await (await person(browser)).new_page()
    await newcomer.goto(link)
    await expect(newcomer.locator("main")).to_contain_text("Pat Partner")
    await newcomer.screenshot(path=screenshot_path("invite-accept"), full_page=True)
    await newcomer.get_by_label("Handle").fill("nia")
    await newcomer.get_by_label("Display name").fill("Nia Newcomer")
    await newcomer.get_by_label("Password", exact=True).fill(PASSWORD)
    await newcomer.get_by_label(re.compile("again", re.I)).fill(PASSWORD)
    await newcomer.get_by_role("button", name=re.compile("Join", re.I)).click()

    # Then she is signed in as a Friend
    await expect(newcomer).to_have_url(re.compile(r"/home$"))
    await expect(newcomer.locator("header.site")).to_contain_text("Friend")

    # When she posts for members only
    await compose(newcomer, "Soup night at mine on Friday", "Members only")
    await newcomer.screenshot(path=screenshot_path("home-friend"), full_page=True)
    await exchange(a, b)

    # Then another member of A sees it
    fern = await (await person(browser)).new_page()
    await sign_in(fern, a, "fern")
    await expect(fern.locator("main")).to_contain_text("Soup night at mine on Friday")

    # And a signed-out visitor sees no trace of it, and is sent to sign in from the home page
    visitor = await (await person(browser)).new_page()
    await visitor.goto(a.base + "/")
    await expect(visitor.locator("main")).to_contain_text(a.config.name)
    await visitor.screenshot(path=screenshot_path("public-page"), full_page=True)
    assert "Soup night" not in await visitor.content()
    await visitor.goto(a.base + "/actors/nia")
    assert "Soup night" not in await visitor.content()
    await visitor.goto(a.base + "/home")
    await expect(visitor).to_have_url(re.compile(r"/login"))

    # And the sibling's member does not see it
    sibling = await (await person(browser)).new_page()
    await sign_in(sibling, b, "bea")
    assert "Soup night" not in await sibling.content()

    # When the Friend posts publicly
    await compose(newcomer, "Our garden open day is on Sunday, all welcome", "Public")
    await exchange(a, b)

    # Then the sibling Congregation's member sees it on her home timeline
    await sibling.reload()
    await expect(sibling.locator("main")).to_contain_text("Our garden open day is on Sunday")
    assert "Soup night" not in await sibling.content()
    await sibling.screenshot(path=screenshot_path("home-sibling"), full_page=True)

    # And the main pages render for the record
    for page, path, name in ((fern, "/members", "members"), (fern, "/actors/nia", "profile"),
                             (fern, "/settings", "settings"), (partner, "/follows", "follows"),
                             (fern, "/members/log", "membership-log")):
        await page.goto(a.base + path)
        await expect(page.locator("h1")).to_be_visible()
        await page.screenshot(path=screenshot_path(name), full_page=True)


async def test_browser__main_pages_have_no_serious_accessibility_problems(make_posting_node, browser):
    # Given a Congregation with a Partner who has posted
    from tests.browser import accessibility_violations
    a = await make_posting_node("alpha")
    await make_member(a, "pat", "partner", display_name="Pat Partner")
    # axe-core is a script; the pages forbid scripts, so this one context lets it in
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    # When axe-core (WCAG 2.1 A/AA) looks at each main page, signed out and signed in
    findings = {}
    await page.goto(a.base + "/login")
    findings["/login"] = await accessibility_violations(page)
    await page.goto(a.base + "/actors/group")
    findings["/actors/group"] = await accessibility_violations(page)
    await sign_in(page, a, "pat")
    await compose(page, "Bring a plate on Friday", "Public")
    for path in ("/home", "/members", "/members/log", "/invitations", "/follows", "/settings", "/actors/pat",
                 "/reports", "/assembly", "/assembly/new"):
        await page.goto(a.base + path)
        findings[path] = await accessibility_violations(page)
    # Then none has a serious or critical problem
    serious = {p: [f for f in found if f.startswith(("serious", "critical"))] for p, found in findings.items()}
    assert not any(serious.values()), serious


async def test_browser__a_consent_proposal_from_opening_to_outcome(make_posting_node, browser):
    # Given a Congregation with a Partner and a Friend, each in a browser of their own
    a = await make_posting_node("alpha")
    await make_member(a, "pat", "partner", display_name="Pat Partner")
    await make_member(a, "fern", "friend", display_name="Fern Friend")
    pat, fern = await (await person(browser)).new_page(), await (await person(browser)).new_page()
    await sign_in(pat, a, "pat")
    await sign_in(fern, a, "fern")

    # When the Partner opens a consent proposal
    await pat.goto(a.base + "/proposals/new")
    await pat.get_by_label("Title").fill("Buy a shared lawnmower")
    await pat.get_by_label("Details").fill("About 300 from the fund; kept in Pat's shed.")
    await pat.screenshot(path=screenshot_path("proposal-new"), full_page=True)
    await pat.get_by_role("button", name="Open the proposal").click()
    await expect(pat.locator("h1")).to_have_text("Buy a shared lawnmower")
    proposal_url = pat.url

    # And the Friend blocks it with a reason, then changes her stance to agree
    await fern.goto(proposal_url)
    await fern.get_by_label("Block", exact=True).check()
    await fern.get_by_role("button", name="Take my stance").click()
    await expect(fern.locator("[role=alert]")).to_contain_text("block needs a reason")
    await fern.get_by_label("Block", exact=True).check()
    await fern.get_by_label(re.compile("^Reason")).fill("Not until we agree where it is kept")
    await fern.get_by_role("button", name="Take my stance").click()
    await expect(fern.locator("main")).to_contain_text("Not until we agree where it is kept")
    await fern.get_by_label("Agree", exact=True).check()
    await fern.get_by_label(re.compile("^Reason")).fill("Pat's shed is fine by me")
    await fern.get_by_role("button", name="Change my stance").click()
    await expect(fern.locator("main")).to_contain_text("Pat's shed is fine by me")
    # And the Partner agrees
    await pat.goto(proposal_url)
    await pat.get_by_label("Agree", exact=True).check()
    await pat.get_by_role("button", name="Take my stance").click()
    await pat.screenshot(path=screenshot_path("proposal-open"), full_page=True)

    # When its closing time passes and the node closes it
    await a.pass_closing_time()
    await a.close_proposals()

    # Then it passed (the block was withdrawn), and the Partner records the outcome for everyone
    await pat.goto(proposal_url)
    await expect(pat.locator(".state")).to_have_text("passed")
    await pat.get_by_label("What was decided, and what happens next").fill("Pat buys it this week.")
    await pat.get_by_role("button", name="Record the outcome").click()
    await fern.goto(proposal_url)
    await expect(fern.locator(".outcome")).to_have_text("Pat buys it this week.")
    await fern.screenshot(path=screenshot_path("proposal-closed"), full_page=True)
