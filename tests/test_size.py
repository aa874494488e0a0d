"""Designed for smallness: at soft_size members hear it is time to think about splitting; at hard_size no one joins."""

from __future__ import annotations

import pytest

from tests.factories import create_invitation, join, quick_member
from tests.webclient import NOTICE, text_of


@pytest.fixture
async def small(make_node):
    """A node designed for fewer than 3 members and never more than 4."""
    return await make_node(soft_size=3, hard_size=4)


async def time_to_split(node, visitor) -> bool:
    async with visitor.session.get(visitor.url("/nodeinfo/2.1")) as r:
        congregation = (await r.json(content_type=None))["metadata"]["congregation"]
    assert (congregation["softSize"], congregation["hardSize"]) == (3, 4)
    return congregation["timeToSplit"]


async def test_size__below_the_soft_size_there_is_no_notice(small, browsers):
    # Given two members
    await quick_member(small, "pat", "partner")
    await quick_member(small, "fern")
    pat = browsers(small)
    # When one of them signs in
    status, page = await pat.sign_in("pat")
    # Then there is no notice, and NodeInfo does not say it is time to split
    assert status == 200 and NOTICE not in text_of(page)
    assert await time_to_split(small, pat) is False


async def test_size__at_the_soft_size_members_are_told(small, browsers):
    # Given three members
    for handle, tier in (("pat", "partner"), ("fern", "friend"), ("gus", "friend")):
        await quick_member(small, handle, tier)
    pat = browsers(small)
    # When one of them signs in
    status, page = await pat.sign_in("pat")
    # Then her home page says it is time to think about splitting, and so does NodeInfo
    assert status == 200 and NOTICE in text_of(page) and 'aria-label="Size of the Congregation"' in page
    assert await time_to_split(small, pat) is True


async def test_size__at_the_soft_size_signed_out_visitors_see_no_notice(small, browsers):
    for handle in ("pat", "fern", "gus"):
        await quick_member(small, handle, "partner")
    status, page = await browsers(small).get("/login")
    assert status == 200 and NOTICE not in text_of(page)


async def test_size__at_the_hard_size_no_invitation_is_made(small, browsers):
    # Given four members, the hard size
    for handle, tier in (("pat", "partner"), ("fern", "friend"), ("gus", "friend"), ("hal", "friend")):
        await quick_member(small, handle, tier)
    pat = browsers(small)
    await pat.sign_in("pat")
    # When a Partner tries to make an invitation
    before = await small.snapshot()
    status, page = await pat.post("/invitations", {"tier": "friend", "note": "one more"})
    # Then the form says why not, and no invitation is made
    assert status == 409 and "its hard size is 4" in text_of(page) and 'role="alert"' in page
    assert '<code class="link">' not in page
    assert await small.snapshot() == before


async def test_size__at_the_hard_size_an_earlier_invitation_is_not_accepted(small, browsers):
    # Given three members and an invitation made then
    for handle, tier in (("pat", "partner"), ("fern", "friend"), ("gus", "friend")):
        await quick_member(small, handle, tier)
    pat, newcomer = browsers(small), browsers(small)
    await pat.sign_in("pat")
    path = await create_invitation(pat)
    # And a fourth member who joined since
    await quick_member(small, "hal")
    # When the newcomer opens the link and sends the form anyway
    status, page = await newcomer.get(path)
    assert status == 409 and "its hard size is 4" in text_of(page) and 'name="handle"' not in page
    status, page = await join(newcomer, path, "nia", page="/login")
    # Then she is refused, and no member is added
    assert status == 409 and "its hard size is 4" in text_of(page)
    assert await small.count("members") == 4
    assert await small.count("invitations", "used_at IS NULL") == 1
