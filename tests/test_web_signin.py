"""Signing in and out of the web UI: sessions, CSRF, the sign-in throttle."""

from __future__ import annotations

import pytest

from node.web.auth import LOGIN_FAILURES_PER_HANDLE
from tests.webclient import Visitor, make_member, text_of


@pytest.fixture
async def visitor(node):
    v = Visitor(node)
    yield v
    await v.close()


async def test_signin__member_reaches_home_and_signs_out(node, visitor):
    # Given a member
    await make_member(node, "ada", "partner")
    # When she signs in
    status, page = await visitor.sign_in("ada")
    # Then she is on her home page
    assert status == 200 and "Welcome, Ada" in text_of(page)
    # And after signing out, home asks her to sign in again
    await visitor.post("/logout", {}, page="/home")
    status, page = await visitor.get("/home")
    assert status == 200 and "<h1>Sign in</h1>" in page
    assert await node.count("sessions") == 0


async def test_signin__wrong_password_is_a_form_error_and_no_session(node, visitor):
    await make_member(node, "ada")
    status, page = await visitor.sign_in("ada", "not the password")
    assert status == 401 and "do not match" in text_of(page)
    assert await node.count("sessions") == 0


async def test_signin__unknown_handle_reads_the_same_as_a_wrong_password(node, visitor):
    status, page = await visitor.sign_in("nobody", "whatever it is")
    assert status == 401 and "do not match" in text_of(page)


async def test_signin__throttled_after_repeated_failures_even_with_the_right_password(node, visitor):
    await make_member(node, "ada")
    for _ in range(LOGIN_FAILURES_PER_HANDLE):
        assert (await visitor.sign_in("ada", "wrong password"))[0] == 401
    status, page = await visitor.sign_in("ada")
    assert status == 429 and "Too many failed sign-ins" in text_of(page)
    assert await node.count("sessions") == 0


async def test_signin__wrong_csrf_token_is_refused(node, visitor):
    await make_member(node, "ada")
    status, page = await visitor.post("/login", {"handle": "ada", "password": "correct horse battery"},
                                      csrf="forged")
    assert status == 403 and "reload the page" in text_of(page)
    assert await node.count("sessions") == 0


async def test_signin__form_from_another_site_is_refused(node, visitor):
    await make_member(node, "ada")
    token = await visitor.csrf()
    async with visitor.session.post(visitor.url("/login"), headers={"Origin": "https://evil.example"},
                                    data={"csrf": token, "handle": "ada", "password": "correct horse battery"}) as r:
        assert r.status == 403
    assert await node.count("sessions") == 0


async def test_signin__next_cannot_leave_the_site(node, visitor):
    await make_member(node, "ada")
    token = await visitor.csrf()
    async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                    data={"csrf": token, "handle": "ada", "password": "correct horse battery",
                                          "next": "//evil.example/"}) as r:
        assert r.status == 303 and r.headers["Location"] == "/home"


async def test_signin__session_cookie_is_httponly_and_samesite(node, visitor):
    await make_member(node, "ada")
    token = await visitor.csrf()
    async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                    data={"csrf": token, "handle": "ada", "password": "correct horse battery"}) as r:
        cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http base URL


async def test_signin__removed_members_session_ends(node, visitor):
    from node.governance.membership import remove
    await make_member(node, "ada", "partner")
    await make_member(node, "bob")
    await visitor.sign_in("bob")
    await remove(node.db, "bob", None, "asked to be removed")
    status, page = await visitor.get("/home")
    assert "<h1>Sign in</h1>" in page
