"""Invitations over HTTP: a Partner makes one, a newcomer in another browser joins with it."""

from __future__ import annotations

from node.store import invitations as invitations_store
from node.store import local_actors
from tests.factories import create_invitation, join
from tests.webclient import make_member, text_of


async def test_invitation__partner_invites_and_newcomer_joins_as_a_friend(node, browsers):
    # Given a Partner signed in
    await make_member(node, "pat", "partner", display_name="Pat Partner")
    partner = browsers(node)
    await partner.sign_in("pat")
    # When she creates an invitation for a Friend
    path = await create_invitation(partner, "friend", "for Nia, from the choir")
    assert path.startswith("/invite/")
    # And a newcomer, in a browser of her own, opens the link
    newcomer = browsers(node)
    status, page = await newcomer.get(path)
    assert status == 200
    assert "Pat Partner" in text_of(page) and "Friend" in text_of(page) and node.config.name in text_of(page)
    # And joins with a handle and a password
    status, page = await join(newcomer, path, "nia", display_name="Nia Newcomer")
    # Then she lands on her home page, signed in as a Friend
    assert status == 200 and "Welcome, Nia Newcomer" in text_of(page)
    assert "@nia · Friend" in text_of(page)
    nia = await local_actors.by_username(node.db, "nia")
    assert nia.tier == "friend"
    # And the membership record shows that she joined, invited by the Partner
    status, page = await newcomer.get("/members/log")
    record = text_of(page)
    assert status == 200 and "@nia joined as a Friend invited by @pat for Nia, from the choir" in record


async def test_invitation__link_is_shown_once_and_then_only_its_state(node, browsers):
    # Given a Partner who made an invitation
    await make_member(node, "pat", "partner")
    partner = browsers(node)
    await partner.sign_in("pat")
    path = await create_invitation(partner)
    # When she comes back to the invitations page
    status, page = await partner.get("/invitations")
    # Then the invitation is listed as open, and its secret is nowhere on the page
    assert status == 200 and "open" in text_of(page)
    assert path.rsplit("/", 1)[1] not in page and '<code class="link">' not in page


async def test_invitation__listing_names_who_used_it(node, browsers):
    # Given an invitation that a newcomer used
    await make_member(node, "pat", "partner")
    partner = browsers(node)
    await partner.sign_in("pat")
    path = await create_invitation(partner)
    await join(browsers(node), path, "nia")
    # When the Partner looks at the invitations
    status, page = await partner.get("/invitations")
    # Then it reads "used by @nia", with no buttons left for it
    assert status == 200 and "used by @nia" in text_of(page)
    assert "/endorse" not in page and "/revoke" not in page


async def test_invitation__awaiting_endorsement_until_a_second_partner_endorses(make_node, browsers):
    # Given a node where invitations need two Partners, and an invitation by one of them
    node = await make_node(invitation_endorsements=2)
    await make_member(node, "pat", "partner")
    await make_member(node, "ren", "partner")
    pat, ren, newcomer = browsers(node), browsers(node), browsers(node)
    await pat.sign_in("pat")
    path = await create_invitation(pat)
    # Then the link does not work yet
    status, page = await newcomer.get(path)
    assert status == 409 and "waiting for another Partner" in text_of(page) and "<form" not in page.split("<main")[1]
    status, page = await pat.get("/invitations")
    assert "awaiting endorsement: 1 of 2" in text_of(page)
    # When the second Partner endorses it
    await ren.sign_in("ren")
    invitation = (await invitations_store.recent(node.db))[0]
    status, _ = await ren.post(f"/invitations/{invitation.id}/endorse", {}, page="/invitations")
    assert status == 200
    # Then the link works
    status, page = await newcomer.get(path)
    assert status == 200 and "Join" in text_of(page)
    assert (await join(newcomer, path, "nia"))[0] == 200
    assert await node.count("members") == 3


async def test_invitation__partner_cannot_endorse_twice(make_node, browsers):
    # Given an invitation that needs two Partners, made (and so endorsed) by pat
    node = await make_node(invitation_endorsements=2)
    await make_member(node, "pat", "partner")
    pat = browsers(node)
    await pat.sign_in("pat")
    await create_invitation(pat)
    invitation = (await invitations_store.recent(node.db))[0]
    # When pat endorses it again
    status, page = await pat.post(f"/invitations/{invitation.id}/endorse", {}, page="/invitations")
    # Then it is a conflict, shown on the page, and nothing is recorded
    assert status == 409 and "already endorsed" in text_of(page)
    assert await node.count("invitation_endorsements") == 1


async def test_invitation__revoked_by_the_partner_no_longer_works(node, browsers):
    # Given an open invitation
    await make_member(node, "pat", "partner")
    pat, newcomer = browsers(node), browsers(node)
    await pat.sign_in("pat")
    path = await create_invitation(pat)
    invitation = (await invitations_store.recent(node.db))[0]
    # When the Partner revokes it
    status, page = await pat.post(f"/invitations/{invitation.id}/revoke", {}, page="/invitations")
    # Then it is listed as revoked, and the link says it was withdrawn
    assert status == 200 and "revoked" in text_of(page)
    status, page = await newcomer.get(path)
    assert status == 410 and "withdrawn" in text_of(page)


async def test_invitation__partner_may_invite_a_partner(node, browsers):
    # Given a Partner signed in
    await make_member(node, "pat", "partner")
    pat, newcomer = browsers(node), browsers(node)
    await pat.sign_in("pat")
    # When she invites a Partner and the newcomer joins
    path = await create_invitation(pat, "partner")
    status, page = await join(newcomer, path, "quin")
    # Then the newcomer is a Partner
    assert status == 200 and "@quin · Partner" in text_of(page)


async def test_invitation__friend_may_invite_friends_when_members_invite(make_node, browsers):
    # Given a node where any member may invite, and a Friend signed in
    node = await make_node(who_invites="members")
    await make_member(node, "pat", "partner")
    await make_member(node, "fern")
    fern = browsers(node)
    await fern.sign_in("fern")
    # When she opens the invitations page
    status, page = await fern.get("/invitations")
    # Then she can invite a Friend but is not offered Partner
    assert status == 200 and 'value="friend"' in page and 'value="partner"' not in page
    path = await create_invitation(fern)
    invitation = (await invitations_store.recent(node.db))[0]
    assert path.startswith("/invite/") and invitation.inviter_id is not None
    # And asking for Partner anyway is refused, with nothing made
    status, _ = await fern.post("/invitations", {"tier": "partner", "note": ""})
    assert status == 403 and await node.count("invitations") == 1
    # And she may revoke her own invitation
    status, _ = await fern.post(f"/invitations/{invitation.id}/revoke", {}, page="/invitations")
    assert status == 200 and await node.count("invitations", "revoked_at IS NOT NULL") == 1
