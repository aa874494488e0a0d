"""Invitations and membership changes in governance: endorsements, single use, revocation, expiry, the record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from node.governance import invitations, membership
from node.governance.membership import Conflict, NotAllowed, Unusable
from node.processing import membership as processing_membership
from node.store import invitations as invitations_store
from node.store import local_actors
from tests.factories import keypair, quick_member
from tests.fediverse import CHEAP_HASHER
from tests.webclient import PASSWORD


async def partner(node, handle: str = "pat"):
    await quick_member(node, handle, "partner")
    return await local_actors.by_username(node.db, handle)


async def accept(node, token: str, handle: str, now: datetime | None = None) -> int:
    return await invitations.accept(node.db, node.config, token, handle, "", PASSWORD, keypair(), now,
                                    hasher=CHEAP_HASHER)


async def kinds(node) -> list[tuple[str, str]]:
    """(kind, member's handle) of every membership event, oldest first."""
    found = []
    for event in reversed(await invitations_store.events(node.db)):
        found.append((event.kind, (await local_actors.by_id(node.db, event.member_id)).username))
    return found


async def test_invitations__a_second_endorsement_is_needed_when_the_setting_says_two(make_node):
    # Given a node where two Partners must endorse, and an invitation by the first
    node = await make_node(invitation_endorsements=2)
    pat, ren = await partner(node, "pat"), await partner(node, "ren")
    issued = await invitations.create(node.db, node.config, pat, "friend")
    # Then it cannot be accepted yet, and nobody joins
    with pytest.raises(Unusable) as refused:
        await accept(node, issued.token, "nia")
    assert refused.value.state == "awaiting_endorsement" and await node.count("members") == 2
    # When the second Partner endorses it
    await invitations.endorse(node.db, ren, issued.invitation.id)
    # Then it can be accepted
    await accept(node, issued.token, "nia")
    assert await node.count("members") == 3


async def test_invitations__endorsing_twice_is_refused(make_node):
    node = await make_node(invitation_endorsements=2)
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    with pytest.raises(Conflict):
        await invitations.endorse(node.db, pat, issued.invitation.id)
    assert await node.count("invitation_endorsements") == 1


async def test_invitations__friends_cannot_endorse(node):
    pat = await partner(node)
    await quick_member(node, "fern")
    fern = await local_actors.by_username(node.db, "fern")
    issued = await invitations.create(node.db, node.config, pat, "friend")
    with pytest.raises(NotAllowed):
        await invitations.endorse(node.db, fern, issued.invitation.id)
    assert await node.count("invitation_endorsements") == 1


async def test_invitations__single_use_when_two_accept_at_once(node):
    # Given one open invitation
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    # When two people accept it at the same moment
    results = await asyncio.gather(accept(node, issued.token, "nia"), accept(node, issued.token, "noor"),
                                   return_exceptions=True)
    # Then exactly one of them becomes a member, and the other is told it was used
    joined = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Unusable)]
    assert len(joined) == 1 and len(refused) == 1 and refused[0].state == "used"
    assert await node.count("members") == 2
    assert await node.count("membership_events", "kind = 'joined'") == 2


async def test_invitations__used_once_then_refused(node):
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    await accept(node, issued.token, "nia")
    with pytest.raises(Unusable) as refused:
        await accept(node, issued.token, "noor")
    assert refused.value.state == "used" and await node.count("members") == 2


async def test_invitations__revoked_cannot_be_accepted(node):
    # Given an invitation that a Partner revoked
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    await invitations.revoke(node.db, pat, issued.invitation.id)
    # When someone tries to accept it
    with pytest.raises(Unusable) as refused:
        await accept(node, issued.token, "nia")
    # Then it is refused as revoked, and no one joins
    assert refused.value.state == "revoked" and await node.count("members") == 1
    with pytest.raises(Conflict):
        await invitations.revoke(node.db, pat, issued.invitation.id)


async def test_invitations__expired_cannot_be_accepted(node):
    # Given an invitation accepted a day after it expired
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    later = datetime.now(UTC) + timedelta(days=node.config.invitation_days + 1)
    # Then it is refused as expired, and no one joins
    with pytest.raises(Unusable) as refused:
        await accept(node, issued.token, "nia", now=later)
    assert refused.value.state == "expired" and await node.count("members") == 1
    assert invitations.state(issued.invitation, later) == "expired"


async def test_invitations__taken_handle_is_a_conflict_and_the_invitation_stays_open(node):
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    with pytest.raises(Conflict):
        await accept(node, issued.token, "pat")
    assert await node.count("members") == 1
    assert invitations.state(await invitations_store.by_id(node.db, issued.invitation.id)) == "open"


async def test_invitations__none_made_or_accepted_at_the_hard_size(make_node):
    # Given a node whose hard size is 2, with one member and an invitation made then
    node = await make_node(soft_size=1, hard_size=2)
    pat = await partner(node)
    issued = await invitations.create(node.db, node.config, pat, "friend")
    await quick_member(node, "fern")
    # Then at two members no invitation is made and the earlier one is not accepted
    with pytest.raises(Conflict):
        await invitations.create(node.db, node.config, pat, "friend")
    with pytest.raises(Conflict):
        await accept(node, issued.token, "nia")
    assert await node.count("invitations") == 1 and await node.count("members") == 2


async def test_membership__promote_demote_leave_and_remove_are_recorded(node):
    # Given a Partner and two Friends
    pat = await partner(node)
    await quick_member(node, "fern")
    await quick_member(node, "gus")
    # When fern is promoted, then demoted, gus leaves, and fern is removed
    await membership.promote(node.db, "fern", pat, "keeps the garden")
    await membership.demote(node.db, "fern", pat, "asked to step back")
    await processing_membership.leave(node.db, node.config, await local_actors.by_username(node.db, "gus"),
                                     "moving away")
    await processing_membership.remove(node.db, node.config, "fern", pat, "by decision")
    # Then every change is in the membership record, in order, with who did it and why
    assert (await kinds(node))[-4:] == [("promoted", "fern"), ("demoted", "fern"), ("departed", "gus"),
                                        ("removed", "fern")]
    newest = await invitations_store.events(node.db, 4)
    assert [(e.by_id, e.reason) for e in newest] == [(pat.id, "by decision"), (newest[1].member_id, "moving away"),
                                                     (pat.id, "asked to step back"), (pat.id, "keeps the garden")]
    assert await node.count("members") == 1


async def test_membership__the_last_partner_cannot_leave(node):
    # Given a Congregation with one Partner and a Friend
    pat = await partner(node)
    await quick_member(node, "fern")
    # When the Partner tries to leave
    with pytest.raises(Conflict):
        await processing_membership.leave(node.db, node.config, pat, "tired")
    # Then she is still a member and nothing is recorded
    assert await node.count("members") == 2
    assert await node.count("membership_events", "kind = 'departed'") == 0


async def test_membership__the_last_partner_cannot_be_demoted(node):
    await partner(node)
    with pytest.raises(Conflict):
        await membership.demote(node.db, "pat", None)
    assert await node.count("members", "tier = 'partner'") == 1
