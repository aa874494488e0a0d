"""The password hasher is the app's to be given: members' passwords get RFC 9106's cost, tests a cheap argon2."""

from __future__ import annotations

from argon2 import extract_parameters

from node.appkeys import HASHER
from node.governance import accounts
from node.store import accounts as accounts_store
from node.store import local_actors
from tests.factories import create_invitation, join
from tests.fediverse import CHEAP_HASHER
from tests.webclient import PASSWORD, make_member


async def _stored_parameters(node, handle: str):
    member = await local_actors.by_username(node.db, handle)
    return extract_parameters(await accounts_store.password_hash(node.db, member.id))


async def test_hasher__what_the_web_hashes_uses_the_apps_hasher(node, browsers):
    # Given a node whose app was given the cheap hasher, and a Partner who invites
    assert node.app[HASHER] is CHEAP_HASHER
    await make_member(node, "pat", "partner")
    partner = browsers(node)
    await partner.sign_in("pat")
    # When a newcomer joins through the invitation's form
    status, _ = await join(browsers(node), await create_invitation(partner), "nia")
    # Then her password was hashed by that hasher: argon2id at its cost
    assert status == 200
    stored = await _stored_parameters(node, "nia")
    assert stored.type.name == "ID"
    assert (stored.time_cost, stored.memory_cost, stored.parallelism) == (1, 8, 1)
    # And she signs in with it
    assert (await browsers(node).sign_in("nia", PASSWORD))[0] == 200


async def test_hasher__the_default_is_rfc_9106s_low_memory_argon2id():
    # The cost a real node's members get when create_app is given no hasher
    hashed = await accounts.hash_password(PASSWORD)
    stored = extract_parameters(hashed)
    assert stored.type.name == "ID"
    assert (stored.time_cost, stored.memory_cost, stored.parallelism) == (3, 64 * 1024, 4)
    assert accounts.DEFAULT_HASHER.verify(hashed, PASSWORD)
