"""Issue 12, point 3, attacked again: the sign-in throttle is not escaped by writing the handle or the address
another way. The node runs under a made-up name (guard on), behind a trusted proxy on loopback, so each guess
comes from the address the test names."""

from __future__ import annotations

import pytest

from node.web.auth import LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURES_PER_HANDLE
from tests.webclient import PASSWORD, Visitor, make_member, text_of


@pytest.fixture
async def attacker(make_guarded_node):
    node = await make_guarded_node(trusted_proxies="127.0.0.1/32")
    await make_member(node, "ada")
    await make_member(node, "bo")
    visitor = Visitor(node)
    yield node, visitor
    await visitor.close()


async def guess(visitor: Visitor, handle: str, password: str, client: str) -> tuple[int, str]:
    token = await visitor.csrf()
    async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                    data={"csrf": token, "handle": handle, "password": password},
                                    headers={"X-Forwarded-For": client}) as r:
        return r.status, text_of(await r.text())


def without_attempts(snapshot: dict[str, list]) -> dict[str, list]:
    return {table: rows for table, rows in snapshot.items() if table != "login_attempts"}


async def test_throttle__other_spellings_of_a_handle_count_as_the_handle(attacker):
    # Given a stranger guessing ada's password from a new address each time, the handle written another way each
    node, visitor = attacker
    before = await node.snapshot()
    spellings = ["ADA", "@ada", "  Ada  ", "@@Ada", "\tada\n", "aDa"]
    for number, handle in enumerate(spellings[:LOGIN_FAILURES_PER_HANDLE]):
        assert (await guess(visitor, handle, f"wrong {number}", f"198.51.100.{number + 1}"))[0] == 401
    # When the right password comes, in yet another spelling, from yet another address
    status, page = await guess(visitor, spellings[-1], PASSWORD, "203.0.113.9")
    # Then it is refused, unchecked, and no session was made
    assert status == 429 and "Too many failed sign-ins" in page
    assert without_attempts(await node.snapshot()) == without_attempts(before)


async def test_throttle__other_spellings_of_an_address_count_as_the_address(attacker):
    # Given guesses at two handles from one IPv6 /64, each address written another way, and from one IPv4 address
    # written as itself and as IPv4-mapped IPv6
    node, visitor = attacker
    before = await node.snapshot()
    v6 = ["2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:2", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002::3"]
    v4 = ["198.51.100.20", "::ffff:198.51.100.20", "::FFFF:c633:6414"]
    for family in (v6, v4):
        for number in range(LOGIN_FAILURES_PER_ADDRESS):
            known = family is v6 and number < 2 * (LOGIN_FAILURES_PER_HANDLE - 1)
            handle = ("ada", "bo")[number % 2] if known else f"nobody{number}"
            status, _ = await guess(visitor, handle, f"wrong {number}", family[number % len(family)])
            assert status == 401, (family, number, status)
        # Then the next guess from that block, in any spelling, is refused unchecked, the right password too
        for client in family:
            status, page = await guess(visitor, "bo", PASSWORD, client)
            assert status == 429 and "Too many failed sign-ins" in page, client
    assert without_attempts(await node.snapshot()) == without_attempts(before)
    # And a client elsewhere, with the right password, is let in (the handles were not used up)
    assert (await guess(visitor, "bo", PASSWORD, "2001:db8:1:3::1"))[0] == 303
