"""The sign-in throttle against what an attacker did: many guesses at once, and waiting for a restart."""

from __future__ import annotations

import asyncio
import threading

import pytest
from argon2 import PasswordHasher

from node.appkeys import HASHER
from node.web.auth import (
    LOGIN_FAILURES_PER_HANDLE,
    LOGIN_WINDOW,
    VERIFYING_IN_ALL,
    VERIFYING_PER_ADDRESS,
    VERIFYING_PER_HANDLE,
)
from tests.fediverse import InProcessNode, free_port, init_node
from tests.webclient import PASSWORD, Visitor, make_member, text_of


class GatedHasher(PasswordHasher):
    """The tests' cheap argon2, recording every password it checks and holding each check until the test opens
    the gate: so "while two are being checked" is a state the test makes, not a race it hopes to win."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checked: list[str] = []
        self.gate = threading.Event()
        self.entered: asyncio.Queue[str] = asyncio.Queue()
        self._loop = loop

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # runs in a worker thread
        self.checked.append(str(password))
        self._loop.call_soon_threadsafe(self.entered.put_nowait, str(password))
        if not self.gate.wait(30):
            raise AssertionError("the test never opened the gate")
        return super().verify(hash, password)

    async def checking(self, count: int) -> None:
        """Return once `count` more checks have started (and are held at the gate)."""
        for _ in range(count):
            await asyncio.wait_for(self.entered.get(), 10)


@pytest.fixture
async def gated(tmp_path):
    """A node behind a trusted proxy on loopback whose password checks wait for the test."""
    hasher = GatedHasher(asyncio.get_running_loop())
    # The SSRF guard on, as in production (sign-in makes no outbound request, but nothing here needs it off)
    config = init_node(tmp_path / "alpha", free_port(), "Alpha", trusted_proxies="127.0.0.1/32",
                       allow_private_addresses=False)
    assert config.allow_private_addresses is False
    node = InProcessNode(config)
    node.app[HASHER] = hasher
    await node.start()
    yield node, hasher
    hasher.gate.set()
    await node.close()


async def guess(visitor: Visitor, token: str, handle: str, password: str,
                client: str = "198.51.100.1") -> tuple[int, str | None, str]:
    """One sign-in as a client behind the proxy: the status, its Retry-After and the page's text."""
    async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                    data={"csrf": token, "handle": handle, "password": password},
                                    headers={"X-Forwarded-For": client}) as r:
        return r.status, r.headers.get("Retry-After"), text_of(await r.text())


def without_attempts(snapshot: dict[str, list]) -> dict[str, list]:
    return {table: rows for table, rows in snapshot.items() if table != "login_attempts"}


async def test_throttle__forty_guesses_at_once_check_two_and_not_the_right_one(gated):
    # Given a member, and a stranger with forty guesses at her password, the right one among them
    node, hasher = gated
    await make_member(node, "ada")
    attacker = Visitor(node)
    try:
        token = await attacker.csrf()
        before = await node.snapshot()
        # When the stranger sends them all at once: the first ones are being checked...
        first = [asyncio.create_task(guess(attacker, token, "ada", f"wrong guess {i}"))
                 for i in range(VERIFYING_PER_HANDLE)]
        await hasher.checking(VERIFYING_PER_HANDLE)
        # ...while the rest arrive, the right one with them
        wrong = [guess(attacker, token, "ada", f"wrong guess {i}") for i in range(VERIFYING_PER_HANDLE, 39)]
        rest = await asyncio.gather(*wrong, guess(attacker, token, "ada", PASSWORD))
        # Then every one of the rest is refused at once (the first are still held), with a time to come back
        assert [status for status, _, _ in rest] == [429] * len(rest)
        assert all(retry and int(retry) > 0 for _, retry, _ in rest)
        assert any("Too many sign-ins at once" in page for _, _, page in rest)
        hasher.gate.set()
        assert [status for status, _, _ in await asyncio.gather(*first)] == [401] * VERIFYING_PER_HANDLE
        # And only the first were hashed: the right password never was
        assert sorted(hasher.checked) == [f"wrong guess {i}" for i in range(VERIFYING_PER_HANDLE)]
        # And the refused ones were counted, so the right password sent now is refused too, unhashed
        status, retry, page = await guess(attacker, token, "ada", PASSWORD)
        assert status == 429 and "Too many failed sign-ins" in page and int(retry) > 60
        assert len(hasher.checked) == VERIFYING_PER_HANDLE
        assert await node.count("login_attempts", "key = 'h:ada'") == LOGIN_FAILURES_PER_HANDLE
        # And nothing else changed: no session, no other row
        assert without_attempts(await node.snapshot()) == without_attempts(before)
    finally:
        hasher.gate.set()
        await attacker.close()


async def test_throttle__one_client_checks_two_passwords_at_once_whatever_the_handles(gated):
    # Given two members, and one client already having two passwords checked, for two other handles
    node, hasher = gated
    await make_member(node, "ada")
    client = Visitor(node)
    try:
        token = await client.csrf()
        held = [asyncio.create_task(guess(client, token, f"nobody{i}", "wrong guess", client=f"2001:db8:1:2::{i + 1}"))
                for i in range(VERIFYING_PER_ADDRESS)]
        await hasher.checking(VERIFYING_PER_ADDRESS)
        # When the same client (another address in its IPv6 /64 is the same client) tries a third handle
        status, retry, _ = await guess(client, token, "ada", PASSWORD, client="2001:db8:1:2:ffff::1")
        # Then it is refused at once, unhashed, with a time to come back
        assert status == 429 and int(retry) > 0
        assert len(hasher.checked) == VERIFYING_PER_ADDRESS
        # But another client is not held back by it
        other = asyncio.create_task(guess(client, token, "nobody9", "wrong guess", client="203.0.113.9"))
        await hasher.checking(1)
        hasher.gate.set()
        assert [s for s, _, _ in await asyncio.gather(*held, other)] == [401] * (VERIFYING_PER_ADDRESS + 1)
        # And once the checks are done, the first client signs in: a moment's refusal is not a lockout
        assert (await guess(client, token, "ada", PASSWORD, client="2001:db8:1:2:ffff::1"))[0] == 303
    finally:
        hasher.gate.set()
        await client.close()


async def test_throttle__one_handle_is_checked_twice_at_once_from_any_addresses(gated):
    # Given a member whose password is being checked twice, for guesses from two addresses
    node, hasher = gated
    await make_member(node, "ada")
    attacker = Visitor(node)
    try:
        token = await attacker.csrf()
        held = [asyncio.create_task(guess(attacker, token, "ada", "wrong guess", client=f"2001:db8:{i}::1"))
                for i in range(VERIFYING_PER_HANDLE)]
        await hasher.checking(VERIFYING_PER_HANDLE)
        # When the right password comes from a third address
        status, _, page = await guess(attacker, token, "ada", PASSWORD, client="192.0.2.7")
        # Then it is refused at once and never hashed
        assert status == 429 and "Too many sign-ins at once" in page
        assert len(hasher.checked) == VERIFYING_PER_HANDLE
        hasher.gate.set()
        assert [s for s, _, _ in await asyncio.gather(*held)] == [401] * VERIFYING_PER_HANDLE
        assert await node.count("sessions") == 0
    finally:
        hasher.gate.set()
        await attacker.close()


async def test_throttle__a_crowd_of_addresses_hashes_at_most_so_many_at_once_and_locks_nobody_out(gated):
    # Given a member, and a crowd of clients (each its own address, each a different handle) whose guesses are
    # being checked, as many as the node hashes at once
    node, hasher = gated
    await make_member(node, "ada")
    crowd = Visitor(node)
    try:
        token = await crowd.csrf()
        held = [asyncio.create_task(guess(crowd, token, f"nobody{i}", "wrong guess", client=f"198.51.100.{i + 10}"))
                for i in range(VERIFYING_IN_ALL)]
        await hasher.checking(VERIFYING_IN_ALL)
        before = await node.snapshot()
        # When one more arrives, from a fresh address, for a fresh handle, and Ada herself tries to sign in
        extra = await guess(crowd, token, "nobody99", "wrong guess", client="203.0.113.99")
        ada = await guess(crowd, token, "ada", PASSWORD, client="192.0.2.50")
        # Then both are refused at once, unhashed, with a time to come back, and nothing is counted against them
        assert [(s, int(r) > 0) for s, r, _ in (extra, ada)] == [(429, True)] * 2
        assert "Too many sign-ins at once" in ada[2]
        assert len(hasher.checked) == VERIFYING_IN_ALL
        assert await node.snapshot() == before
        # And once the crowd's checks are done, Ada signs in
        hasher.gate.set()
        assert [s for s, _, _ in await asyncio.gather(*held)] == [401] * VERIFYING_IN_ALL
        assert (await guess(crowd, token, "ada", PASSWORD, client="192.0.2.50"))[0] == 303
    finally:
        hasher.gate.set()
        await crowd.close()


async def test_throttle__a_restart_hands_no_fresh_allowance(make_node):
    # Given a member whose handle has had as many failed sign-ins as it may
    node = await make_node(allow_private_addresses=False)
    assert node.config.allow_private_addresses is False
    await make_member(node, "ada")
    visitor = Visitor(node)
    try:
        for _ in range(LOGIN_FAILURES_PER_HANDLE):
            assert (await visitor.sign_in("ada", "wrong password"))[0] == 401
    finally:
        await visitor.close()
    # When the node restarts on the same data
    await node.close()
    again = await InProcessNode(node.config, clock=node.clock).start()
    visitor = Visitor(again)
    try:
        # Then the next attempt, with the right password, is still refused
        status, page = await visitor.sign_in("ada")
        assert status == 429 and "Too many failed sign-ins" in text_of(page)
        assert await again.count("sessions") == 0
        # And once the window has passed on the node's clock, she signs in, and the old attempts are gone
        again.advance(LOGIN_WINDOW + 1)
        status, page = await visitor.sign_in("ada")
        assert status == 200 and "Welcome, Ada" in text_of(page)
        assert await again.count("login_attempts") == 0
    finally:
        await visitor.close()
        await again.close()
