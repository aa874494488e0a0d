"""Signing in and out of the web UI: sessions, CSRF, the sign-in throttle."""

from __future__ import annotations

import asyncio

import pytest

from node.web.auth import LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURES_PER_HANDLE
from tests.webclient import Visitor, make_member, text_of


# With the SSRF guard on: the node under a made-up name, as in tests/conftest.py's guarded world.
@pytest.fixture
def make_node(make_guarded_node):
    return make_guarded_node


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


# Browsers drop tabs and newlines from a URL (so does yarl, building the Location): each of these is //evil.example.
SNEAKY_NEXT = ["/\t/evil.example/", "/\n/evil.example/", "/\r/evil.example/", "\t//evil.example/", "/ /evil.example/",
               "/\\evil.example/", "/\x7f/evil.example/"]


@pytest.mark.parametrize("target", SNEAKY_NEXT)
async def test_signin__next_with_a_control_character_cannot_leave_the_site(node, visitor, target):
    await make_member(node, "ada")
    token = await visitor.csrf()
    async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                    data={"csrf": token, "handle": "ada", "password": "correct horse battery",
                                          "next": target}) as r:
        assert r.status == 303 and r.headers["Location"] == "/home"
    # And once signed in, the sign-in page sends the visitor on at once: there too
    async with visitor.session.get(visitor.url("/login"), params={"next": target}, allow_redirects=False) as r:
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


async def _fail_from(visitor: Visitor, forwarded_for: str, attempts: int, first: int = 0) -> list[int]:
    """Failed sign-ins for as many different handles (so only the per-address limit is reached)."""
    statuses = []
    for i in range(attempts):
        csrf = await visitor.csrf()
        async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                        data={"csrf": csrf, "handle": f"nobody{first + i}", "password": "wrong"},
                                        headers={"X-Forwarded-For": forwarded_for}) as r:
            statuses.append(r.status)
    return statuses


async def test_signin__behind_a_trusted_proxy_one_client_is_throttled_not_everyone(make_node):
    # Given a node behind a proxy on loopback (as the container is behind Caddy) and a member
    node = await make_node(trusted_proxies="127.0.0.1/32, ::1")
    await make_member(node, "ada")
    attacker, ada = Visitor(node), Visitor(node)
    try:
        # When one client fails to sign in past the per-address limit (its own X-Forwarded-For hop is forged)
        statuses = await _fail_from(attacker, "198.51.100.1, 203.0.113.9", LOGIN_FAILURES_PER_ADDRESS + 1)
        # Then that client is held back
        assert statuses[:LOGIN_FAILURES_PER_ADDRESS] == [401] * LOGIN_FAILURES_PER_ADDRESS
        assert statuses[-1] == 429
        # But a member coming through the same proxy from another address still signs in
        ada.session.headers["X-Forwarded-For"] = "192.0.2.44"
        status, page = await ada.sign_in("ada")
        assert status == 200 and "Welcome, Ada" in text_of(page)
    finally:
        await attacker.close()
        await ada.close()


async def test_signin__without_trusted_proxies_a_forged_forwarded_for_changes_nothing(node):
    # Given a node reached directly: X-Forwarded-For is the client's own word and is not believed
    attacker = Visitor(node)
    try:
        statuses = [*(await _fail_from(attacker, "198.51.100.1", LOGIN_FAILURES_PER_ADDRESS)),
                    *(await _fail_from(attacker, "198.51.100.2", 1))]
    finally:
        await attacker.close()
    assert statuses[-1] == 429


async def test_signin__a_bad_trusted_proxies_setting_stops_the_node_naming_it(tmp_path):
    from node.config import ConfigError, load
    from tests.fediverse import free_port, init_node

    config = init_node(tmp_path / "n", free_port(), "N")
    with pytest.raises(ConfigError, match=r"setting trusted_proxies: 'ten\.0\.0\.0/8' is not an address"):
        load(config.data_dir, env={"CONGREGATION_TRUSTED_PROXIES": "127.0.0.1, ten.0.0.0/8"})


async def test_signin__a_burst_is_held_to_the_limit_not_just_what_comes_after_it(node, visitor):
    # Given a member, and a stranger who sends many sign-ins at once (each one costs the node an argon2 hash)
    await make_member(node, "ada")
    token = await visitor.csrf()

    async def attempt(i: int) -> int:
        async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                        data={"csrf": token, "handle": f"nobody{i}", "password": "wrong"}) as r:
            return r.status

    statuses = await asyncio.gather(*(attempt(i) for i in range(LOGIN_FAILURES_PER_ADDRESS * 2)))
    # Then at most the per-address limit is checked (fewer when some came while others were being checked: those
    # are refused at once, and counted); the rest are held back before any hashing
    assert 0 < statuses.count(401) <= LOGIN_FAILURES_PER_ADDRESS
    assert statuses.count(429) == len(statuses) - statuses.count(401)


async def test_signin__successes_from_one_address_are_not_counted_as_failures(node):
    # Given more members than failures allowed per address, all behind one address (an office)
    visitors = []
    for i in range(LOGIN_FAILURES_PER_ADDRESS + 2):
        await make_member(node, f"member{i}")
        visitors.append(Visitor(node))
    try:
        # Then every one of them signs in
        assert [(await v.sign_in(f"member{i}"))[0] for i, v in enumerate(visitors)] == [200] * len(visitors)
    finally:
        for v in visitors:
            await v.close()


async def test_signin__an_ipv6_client_counts_by_its_64(make_node):
    # Given a node behind a proxy, and a client holding a whole IPv6 /64 (one host can)
    node = await make_node(trusted_proxies="127.0.0.1/32, ::1")
    attacker = Visitor(node)
    try:
        # When each failed sign-in comes from a new address in that /64
        for i in range(LOGIN_FAILURES_PER_ADDRESS):
            assert await _fail_from(attacker, f"2001:db8:1:2::{i + 1:x}", 1, first=i) == [401]
        # Then another address in it is held back, but the next /64 and an IPv4 client are not
        assert await _fail_from(attacker, "2001:db8:1:2:ffff::1", 1, first=100) == [429]
        assert await _fail_from(attacker, "2001:db8:1:3::1", 1, first=101) == [401]
        assert await _fail_from(attacker, "::ffff:198.51.100.7", 1, first=102) == [401]
    finally:
        await attacker.close()
