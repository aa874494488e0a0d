"""The member directory, the membership record, and who may see which page."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from node.governance import membership
from node.processing import membership as processing_membership
from node.store import local_actors
from tests.factories import signed_in
from tests.webclient import PNG, Visitor, make_member, text_of, upload

MEMBERS_ONLY = ("/members", "/members/log", "/settings", "/invitations")
FORMS = ("/invitations", "/invitations/1/endorse", "/invitations/1/revoke", "/members/pat/reset-link",
         "/settings/profile", "/settings/password", "/settings/avatar", "/settings/avatar/delete", "/settings/leave")


async def test_members__directory_lists_everyone_with_tier_and_size(make_node, browsers):
    # Given a Partner with an avatar and two Friends
    node = await make_node(soft_size=5, hard_size=8)
    pat = await signed_in(node, browsers, "pat")
    await upload(pat, PNG)
    await make_member(node, "fern", display_name="Fern Friend")
    await make_member(node, "gus")
    # When a member opens the directory
    status, page = await pat.get("/members")
    text = text_of(page)
    # Then everyone is there, linked to their actor, with handle and tier, and the counts and size
    assert status == 200
    assert '<a href="/actors/fern" class="name">Fern Friend</a>' in page and "@fern" in text
    assert "1 Partner and 2 Friends" in text and "3 of 5 / 8" in text
    assert re.search(r'<img class="avatar" src="/actors/pat/avatar\?v=[^"]+"', page)
    assert page.count('<img class="avatar"') == 1
    assert "joined " + (await node.db.execute_fetchall("SELECT substr(created_at, 1, 10) FROM local_actors"
                                                       " WHERE username = 'gus'"))[0][0] in text


async def test_members__partner_sees_reset_buttons_friend_does_not(node, browsers):
    pat = await signed_in(node, browsers, "pat")
    fern = await signed_in(node, browsers, "fern", "friend")
    assert "/members/fern/reset-link" in (await pat.get("/members"))[1]
    assert "reset-link" not in (await fern.get("/members"))[1]


async def test_members__log_shows_every_change_newest_first(node, browsers):
    # Given a Partner who promoted a Friend, who then left
    pat = await signed_in(node, browsers, "pat")
    await make_member(node, "fern")
    await membership.promote(node.db, "fern", None, "keeps the garden")
    await processing_membership.leave(node.db, node.config, await local_actors.by_username(node.db, "fern"),
                                     "moving away")
    # When a member reads the record
    status, page = await pat.get("/members/log")
    text = text_of(page)
    # Then the newest change comes first, each with who, what, by whom and why
    assert status == 200
    left, promoted, fern_joined = (text.index(s) for s in ("@fern left", "@fern promoted to Partner",
                                                           "@fern joined"))
    assert left < promoted < fern_joined
    assert "left themselves moving away" in text and "promoted to Partner the operator keeps the garden" in text


@pytest.mark.parametrize("path", MEMBERS_ONLY)
async def test_members__signed_out_visitor_is_sent_to_sign_in(node, browsers, path):
    visitor = browsers(node)
    async with visitor.session.get(visitor.url(path), allow_redirects=False) as r:
        location = urlsplit(r.headers["Location"])
        assert r.status == 303 and location.path == "/login" and parse_qs(location.query) == {"next": [path]}


async def test_members__sign_in_brings_back_the_whole_page_but_never_a_huge_redirect(node, browsers):
    # A page's own query is one `next` value, not parameters of the login form
    visitor = browsers(node)
    async with visitor.session.get(visitor.url("/members?tier=partner&next=//evil.example"),
                                   allow_redirects=False) as r:
        assert r.status == 303
        wanted = {"next": ["/members?tier=partner&next=//evil.example"]}
        assert parse_qs(urlsplit(r.headers["Location"]).query) == wanted
    # A crafted 6,000-character link: the redirect keeps the path only, small enough for any proxy's header buffer
    async with visitor.session.get(visitor.url("/members?" + "a" * 6000), allow_redirects=False) as r:
        location = r.headers["Location"]
        assert r.status == 303 and parse_qs(urlsplit(location).query) == {"next": ["/members"]}, location


@pytest.mark.parametrize("path", FORMS)
async def test_members__signed_out_form_post_is_forbidden(node, browsers, path):
    # Given a signed-out visitor with a valid (signed-out) CSRF token, and a Partner's invitation
    await make_member(node, "pat", "partner")
    visitor = browsers(node)
    before = await node.snapshot()
    # When she posts a members' form
    status, _ = await visitor.post(path, {}, page="/login")
    # Then it is refused and nothing changes
    assert status == 403 and await node.snapshot() == before


@pytest.mark.parametrize(("method", "path"), [("GET", "/invitations"), ("POST", "/invitations"),
                                              ("POST", "/invitations/{id}/endorse"),
                                              ("POST", "/invitations/{id}/revoke"),
                                              ("POST", "/members/pat/reset-link")])
async def test_members__friend_cannot_invite_or_use_partner_pages(node, browsers, method, path):
    # Given a Partner's invitation, and a Friend signed in
    pat = await signed_in(node, browsers, "pat")
    await pat.post("/invitations", {"tier": "friend", "note": ""})
    fern: Visitor = await signed_in(node, browsers, "fern", "friend")
    path = path.format(id=(await node.db.execute_fetchall("SELECT MAX(id) FROM invitations"))[0][0])
    invitations_before = await node.db.execute_fetchall("SELECT * FROM invitations")
    resets_before = await node.count("password_resets")
    # When she opens or posts to it
    if method == "GET":
        status, page = await fern.get(path)
    else:
        status, page = await fern.post(path, {"tier": "friend", "note": ""}, page="/members")
    # Then she is refused, and nothing changes
    assert status == 403 and "Partners" in text_of(page)
    assert await node.db.execute_fetchall("SELECT * FROM invitations") == invitations_before
    assert await node.count("invitation_endorsements") == 1 and await node.count("password_resets") == resets_before
