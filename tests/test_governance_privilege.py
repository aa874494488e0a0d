"""Governance privilege, as an attacker inside or outside the Congregation tries it: withdrawing the proposal
about oneself, peeking at hidden results by withdrawing, stale invitations and reset links, a flood of
Update(Question)s, voters who should not count and voters who could not, and a remote poll too big to store."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from node.activitypub import signatures
from node.db import transaction
from node.governance import accounts, membership
from node.processing import proposals as processing_proposals
from node.store import accounts as accounts_store
from node.store import local_actors
from tests.factories import create_invitation, follow, join, member, node_follows, quick_member, shown_link
from tests.factories import signed_in as signed_in_as
from tests.fediverse import AS_JSON, cli, run_cli
from tests.webclient import Visitor, make_member, text_of


# Every test here runs with the SSRF guard on: nodes and remote actors under made-up names (tests/conftest.py).
@pytest.fixture
def make_node(make_guarded_node):
    return make_guarded_node


@pytest.fixture
def make_remote(make_guarded_remote):
    return make_guarded_remote


@pytest.fixture
def session(guarded_session):
    return guarded_session


def _form(title: str, **values: str) -> dict[str, str]:
    return {"kind": "consent", "title": title, "details": "Why we should", "closes_in": "3", "closes_at": "",
            "scope": "congregation", "options": "", "quorum": "0", "action": "", "member": "", "sibling": "",
            **values}


async def _propose(visitor: Visitor, title: str, **values: str) -> str:
    status, page = await visitor.post("/proposals/new", _form(title, **values))
    assert status == 200, text_of(page)
    async with visitor.node.db.execute("SELECT uuid FROM proposals WHERE title = ?", (title,)) as cur:
        return (await cur.fetchone())[0]


async def _stance(visitor: Visitor, uuid: str, *choices: str, reason: str = "") -> None:
    data = [("choice", c) for c in choices] + [("reason", reason), ("csrf", await visitor.csrf(f"/proposals/{uuid}"))]
    async with visitor.session.post(visitor.url(f"/proposals/{uuid}/stance"), data=data) as r:
        assert r.status == 200, text_of(await r.text())


# a) Only the proposer withdraws, never the member a proposal acts on


async def test_withdraw__the_partner_to_be_removed_cannot_stop_it_nor_can_another_partner(node, signed_in):
    ada, bo, cy, dee = [await signed_in(h, "partner") for h in ("ada", "bo", "cy", "dee")]
    uuid = await _propose(ada, "Bo leaves", action="remove_member", member="bo")
    for voter in (ada, cy, dee):
        await _stance(voter, uuid, "agree")
    for visitor in (bo, cy):
        _, page = await visitor.get(f"/proposals/{uuid}")
        assert "Withdraw the proposal" not in text_of(page)
    before = await node.snapshot()

    status, page = await bo.post(f"/proposals/{uuid}/withdraw", {}, page=f"/proposals/{uuid}")
    assert status == 400 and "cannot be withdrawn by you" in text_of(page)
    status, page = await cy.post(f"/proposals/{uuid}/withdraw", {}, page=f"/proposals/{uuid}")
    assert status == 400 and "only the proposer can withdraw" in text_of(page).lower()
    assert await node.snapshot() == before

    # The proposer still may
    status, page = await ada.post(f"/proposals/{uuid}/withdraw", {})
    assert status == 200 and await node.count("proposals", "state = 'withdrawn'") == 1


async def test_withdraw__a_proposer_cannot_withdraw_the_proposal_that_acts_on_them(node, signed_in):
    ada = await signed_in("ada", "partner")
    await signed_in("bo", "friend")
    uuid = await _propose(ada, "Ada steps down", action="remove_member", member="@Ada")
    _, page = await ada.get(f"/proposals/{uuid}")
    assert "Withdraw the proposal" not in text_of(page)
    before = await node.snapshot()
    status, page = await ada.post(f"/proposals/{uuid}/withdraw", {}, page=f"/proposals/{uuid}")
    assert status == 400 and "cannot be withdrawn by you" in text_of(page)
    assert await node.snapshot() == before


# b) Withdrawing a proposal with hidden results reveals nothing, then or ever


async def test_withdraw__hidden_results_stay_hidden_on_the_page_the_wire_and_the_log(node, signed_in, browsers,
                                                                                    session):
    ada, bo, cy = await signed_in("ada", "partner"), await signed_in("bo"), await signed_in("cy")
    uuid = await _propose(ada, "Secret ballot", scope="public", kind="poll", options="Red\nBlue",
                          hide_results="1")
    await _stance(bo, uuid, "Red", reason="bo-reason-red")
    await _stance(cy, uuid, "Blue", reason="cy-reason-blue")

    status, page = await ada.post(f"/proposals/{uuid}/withdraw", {})
    assert status == 200 and "withdrawn" in text_of(page)
    node.advance(400 * 86400)  # long past its closing time: the decision clock must not close it after all
    await node.close_proposals()

    stranger = browsers(node)
    for visitor in (ada, bo, stranger):
        _, page = await visitor.get(f"/proposals/{uuid}")
        text = text_of(page)
        assert "Secret ballot" in text and "stay hidden" in text
        assert "reason-" not in text and "Red: 1" not in text and "took part" not in text
    async with session.get(f"{node.base}/proposals/{uuid}", headers={"Accept": "application/activity+json"}) as r:
        question = await r.json(content_type=None)
    assert question["votersCount"] == 0
    assert all(o["replies"]["totalItems"] == 0 for o in question["oneOf"])
    async with node.db.execute("SELECT body FROM outbox") as cur:
        sent = [row[0] for row in await cur.fetchall()]
    assert sent and not any('"totalItems": 1' in a or '"votersCount": 2' in a for a in sent)
    assert await node.count("decision_log") == 0
    async with session.get(f"{node.group_id}/decisions", headers={"Accept": "application/activity+json"}) as r:
        assert "Secret ballot" not in await r.text()
    code, out, _ = await asyncio.to_thread(cli, "proposals", "--data", str(node.config.data_dir))
    assert code == 0 and "Secret ballot" in out and "results hidden" in out and "Red 1" not in out


# c) An invitation is only as good as its inviter's standing when it is used


async def _refused_to_join(node, browsers, path: str, status: int, reason: str) -> None:
    """The newcomer opens the link and sends the join form anyway: refused with `reason`, nothing stored."""
    before = await node.snapshot()
    newcomer = browsers(node)
    got, page = await newcomer.get(path)
    assert got == status and reason in text_of(page) and 'name="password"' not in page
    got, page = await join(newcomer, path, "mallory", page="/login")
    assert got == status and reason in text_of(page)
    assert await node.snapshot() == before


async def test_invitation__a_demoted_partners_partner_invitation_makes_no_partner(node, browsers):
    await make_member(node, "pat", "partner")
    await make_member(node, "ren", "partner")
    pat = browsers(node)
    await pat.sign_in("pat")
    path = await create_invitation(pat, "partner")
    await membership.demote(node.db, "pat", None, "stepping back")
    await _refused_to_join(node, browsers, path, 410, "no longer a Partner")
    ren = browsers(node)
    await ren.sign_in("ren")
    _, page = await ren.get("/invitations")
    assert "void: whoever made it can no longer make it" in text_of(page) and "/endorse" not in page


async def test_invitation__a_removed_partners_invitations_make_nobody(node, browsers):
    await make_member(node, "pat", "partner")
    await make_member(node, "ren", "partner")
    pat = browsers(node)
    await pat.sign_in("pat")
    partner_path, friend_path = await create_invitation(pat, "partner"), await create_invitation(pat, "friend")
    await membership.remove(node.db, "pat", None, "asked to leave")
    await _refused_to_join(node, browsers, partner_path, 410, "they were removed")
    await _refused_to_join(node, browsers, friend_path, 410, "they were removed")


async def test_invitation__an_endorsement_by_a_former_partner_no_longer_counts(make_node, browsers):
    node = await make_node(invitation_endorsements=2)
    for handle in ("pat", "ren", "sol"):
        await make_member(node, handle, "partner")
    pat, ren = browsers(node), browsers(node)
    await pat.sign_in("pat")
    await ren.sign_in("ren")
    path = await create_invitation(pat, "partner")
    async with node.db.execute("SELECT id FROM invitations") as cur:
        (invitation_id,) = await cur.fetchone()
    status, _ = await ren.post(f"/invitations/{invitation_id}/endorse", {}, page="/invitations")
    assert status == 200
    await membership.demote(node.db, "ren", None, "stepping back")
    await _refused_to_join(node, browsers, path, 409, "waiting for another Partner")
    # Another Partner's endorsement makes it good again
    sol = browsers(node)
    await sol.sign_in("sol")
    status, _ = await sol.post(f"/invitations/{invitation_id}/endorse", {}, page="/invitations")
    assert status == 200
    status, page = await join(browsers(node), path, "nia")
    assert status == 200 and "@nia · Partner" in text_of(page)


# d) A reset link does not outlive a newer link, a reset, or a changed password


async def _reset_link(node, partner: Visitor, handle: str) -> str:
    status, page = await partner.post(f"/members/{handle}/reset-link", {}, page="/members")
    assert status == 200, text_of(page)
    return shown_link(page).removeprefix(node.base)


async def _reset_refused(node, browsers, path: str) -> None:
    """Whoever holds the old link tries it and sets a password with it: refused, nothing changed."""
    before = await node.snapshot()
    holder = browsers(node)
    status, page = await holder.get(path)
    assert status == 404 and "newer link, or a reset, voids" in text_of(page)
    status, page = await holder.post(path, {"new": "mallory's password", "new_again": "mallory's password"},
                                      page="/login")
    assert status == 404 and "not valid" in text_of(page)
    assert await node.snapshot() == before


async def test_reset__a_newer_link_voids_the_older_one(node, browsers):
    pat = await signed_in_as(node, browsers, "pat")
    await signed_in_as(node, browsers, "fern", "friend")
    older = await _reset_link(node, pat, "fern")
    newer = await _reset_link(node, pat, "fern")
    await _reset_refused(node, browsers, older)
    status, page = await browsers(node).post(newer, {"new": "fern's new secret", "new_again": "fern's new secret"})
    assert status == 200 and "@fern · Friend" in text_of(page)


async def test_reset__using_a_link_or_changing_the_password_voids_the_others(node, browsers):
    pat = await signed_in_as(node, browsers, "pat")
    fern = await signed_in_as(node, browsers, "fern", "friend")
    used = await _reset_link(node, pat, "fern")
    # A second open link, as a node issued them before links voided each other
    fern_actor = await local_actors.by_username(node.db, "fern")
    token, hashed = accounts.new_token()
    async with transaction(node.db):
        await accounts_store.insert_reset(node.db, hashed, fern_actor.id, None, "2999-01-01T00:00:00.000000Z")
    status, _ = await browsers(node).post(used, {"new": "fern's new secret", "new_again": "fern's new secret"})
    assert status == 200
    await _reset_refused(node, browsers, f"/reset/{token}")

    # A member who changes her own password voids the link a Partner made for her
    fern = browsers(node)
    assert (await fern.sign_in("fern", "fern's new secret"))[0] == 200
    pending = await _reset_link(node, pat, "fern")
    status, page = await fern.post("/settings/password", {"current": "fern's new secret", "new": "fern's third one",
                                                          "new_again": "fern's third one"}, page="/settings")
    assert status == 200, text_of(page)
    await _reset_refused(node, browsers, pending)


# e) A stream of remote votes does not make the Group re-send the Question for each one


async def _public_poll(node, title: str = "Which colour", **fields):
    author = await member(node, "ada", "partner")
    closes = datetime.fromtimestamp(node.clock.now(), UTC) + timedelta(days=3)
    events = await processing_proposals.open_proposal(node.db, node.config, author, kind="poll", title=title,
                                                      closes_at=closes, scope="public", options=["Red", "Blue"],
                                                      **fields)
    return events[0].proposal


async def _vote(node, session, voter, proposal, choice: str) -> None:
    note = {"id": f"{voter.origin}/votes/{os.urandom(6).hex()}", "type": "Note", "name": choice,
            "attributedTo": voter.id, "to": [node.group_id],
            "inReplyTo": f"{node.base}/proposals/{proposal.uuid}"}
    status, _ = await voter.post(session, node.base + "/inbox", voter.activity("Create", note))
    assert status == 202
    await node.drain_inbox()


async def _question_updates(node) -> list[dict]:
    async with node.db.execute("SELECT body FROM outbox WHERE type = 'Update' AND"
                               " json_extract(body, '$.object.type') = 'Question' ORDER BY id") as cur:
        return [json.loads(row[0])["object"] for row in await cur.fetchall()]


def _counts(question: dict) -> dict[str, int]:
    return {o["name"]: o["replies"]["totalItems"] for o in question["oneOf"]}


async def test_question__votes_go_out_at_most_once_a_minute_and_the_close_carries_the_last(make_posting_node,
                                                                                          make_remote, session):
    node = await make_posting_node()
    voters = [await make_remote(f"voter{i}") for i in range(4)]
    for voter in voters:
        await follow(node, voter, session, node.group_id)
    proposal = await _public_poll(node)

    await _vote(node, session, voters[0], proposal, "Red")
    assert [_counts(q) for q in await _question_updates(node)] == [{"Red": 1, "Blue": 0}]
    # A flood inside the minute sends nothing more
    await _vote(node, session, voters[1], proposal, "Red")
    node.advance(50)  # the node's clock also runs with the wall's: a margin, so a slow machine cannot pass the minute
    await _vote(node, session, voters[2], proposal, "Blue")
    assert len(await _question_updates(node)) == 1
    assert await node.count("stances") == 3
    # The next vote after the minute carries every count, the ones held back too
    node.advance(11)
    await _vote(node, session, voters[3], proposal, "Blue")
    assert [_counts(q) for q in await _question_updates(node)][1:] == [{"Red": 2, "Blue": 2}]
    await _vote(node, session, voters[3], proposal, "Red")  # a change of mind, inside the minute: held
    assert len(await _question_updates(node)) == 2
    # And the close always goes out, with the final counts
    await node.pass_closing_time()
    await node.close_proposals()
    updates = await _question_updates(node)
    assert len(updates) == 3 and "closed" in updates[-1] and _counts(updates[-1]) == {"Red": 3, "Blue": 1}


# f) Who counts: a Group that only follows us is a reader, not a sibling; followers past the 1,000th count


async def _vote_as(node, session, server, name: str, proposal, choice: str) -> str:
    """An account `name` on `server`'s host (its document and key served there) votes; the inbox's outcome."""
    account = f"{server.origin}/users/{name}"
    server.documents[account] = (200, {
        **server.document(), "id": account, "type": "Person", "preferredUsername": name, "inbox": account + "/inbox",
        "publicKey": {"id": account + "#main-key", "owner": account,
                      "publicKeyPem": signatures.public_pem(server.key)}})
    note = {"id": f"{server.origin}/votes/{os.urandom(6).hex()}", "type": "Note", "name": choice,
            "attributedTo": account, "to": [node.group_id], "inReplyTo": f"{node.base}/proposals/{proposal.uuid}"}
    activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": note["id"] + "/create", "type": "Create",
                "actor": account, "object": note}
    body = json.dumps(activity).encode()
    headers = signatures.sign("POST", node.base + "/inbox", account + "#main-key", server.key, body, AS_JSON)
    async with session.post(node.base + "/inbox", data=body, headers={"Content-Type": AS_JSON, **headers}) as r:
        assert r.status == 202
    await node.drain_inbox()
    async with node.db.execute("SELECT outcome FROM inbox ORDER BY id DESC LIMIT 1") as cur:
        return (await cur.fetchone())[0]


async def test_voters__accounts_on_a_group_that_only_follows_us_do_not_vote(make_posting_node, make_remote,
                                                                            session):
    node = await make_posting_node()
    their_group = await make_remote("group", kind="Group")
    # They follow us, and the operator approved that (a Group's follow waits for approval); we do not follow them
    status, _ = await their_group.post(session, node.base + "/inbox", their_group.activity("Follow", node.group_id))
    assert status == 202 and await node.drain_inbox()
    async with node.db.execute("SELECT id FROM follows WHERE follower = ?", (their_group.id,)) as cur:
        (request,) = await cur.fetchone()
    assert await run_cli("follows", "approve", str(request), "--data", str(node.config.data_dir)) == 0
    proposal = await _public_poll(node)

    assert "cannot take part" in await _vote_as(node, session, their_group, "mallory", proposal, "Red")
    before = await node.snapshot()
    assert "cannot take part" in await _vote_as(node, session, their_group, "mallory", proposal, "Blue")
    after = await node.snapshot()
    assert {**after, "inbox": []} == {**before, "inbox": []}  # only the refused activity and its outcome
    assert await node.count("stances") == 0

    # Once our Group follows theirs too, they are a sibling, and its members take part
    await node_follows(node, node.group_id, their_group.id)
    assert await _vote_as(node, session, their_group, "mallory", proposal, "Red") == "vote counted"


async def test_voters__followers_past_the_thousandth_vote_and_are_counted(make_posting_node, make_remote, session):
    node = await make_posting_node()
    async with transaction(node.db):
        await node.db.executemany(
            "INSERT INTO follows (follower, followee, activity_id, state, created_at, updated_at)"
            " VALUES (?, ?, ?, 'accepted', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [(f"https://elsewhere{i}.example/users/u", node.group_id, f"https://elsewhere{i}.example/f")
             for i in range(1000)])
    late = await make_remote("late")
    await follow(node, late, session, node.group_id)  # the 1,001st follower
    proposal = await _public_poll(node)
    await _vote(node, session, late, proposal, "Blue")
    assert await node.count("stances", "voter = ?", late.id) == 1
    await node.pass_closing_time()
    await node.close_proposals()
    assert await node.count("proposals", "eligible = ?", 1001 + 1) == 1  # the followers and Ada, the one member


# g) A remote poll over our own limits is refused, and nothing of it is kept


def _question(author, number: int, name_length: int = 4, suffix: str = "poll") -> dict:
    options = [{"type": "Note", "name": f"{i:0{name_length}d}"} for i in range(number)]
    return {"id": f"{author.origin}/questions/{suffix}", "type": "Question", "attributedTo": author.id,
            "content": "<p>Pick one</p>", "oneOf": options, "endTime": "2999-01-01T00:00:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"]}


async def _send(node, session, author, kind: str, obj: dict) -> str:
    status, _ = await author.post(session, node.base + "/inbox", author.activity(kind, obj))
    assert status == 202
    await node.drain_inbox()
    async with node.db.execute("SELECT outcome FROM inbox ORDER BY id DESC LIMIT 1") as cur:
        return (await cur.fetchone())[0]


async def test_remote_poll__over_our_limits_is_refused_and_stores_nothing(node, make_remote, session, browsers):
    poller = await make_remote("poller")
    await quick_member(node, "ada")
    await node_follows(node, f"{node.base}/actors/ada", poller.id)
    assert await _send(node, session, poller, "Create", _question(poller, 2, suffix="warm-up")) == "stored"

    before = await node.snapshot()
    for question, reason in ((_question(poller, 19_000), "at most 20 options"),
                             (_question(poller, 20, name_length=101, suffix="long"), "at most 100 characters")):
        assert reason in await _send(node, session, poller, "Create", question)
    # Nor can a poll we hold grow past the limits by an Update
    grown = {**_question(poller, 19_000, suffix="warm-up")}
    assert "at most 20 options" in await _send(node, session, poller, "Update", grown)
    after = await node.snapshot()
    assert {**after, "inbox": []} == {**before, "inbox": []}  # only the refused activities and why

    ada = browsers(node)
    await ada.sign_in("ada")
    status, page = await ada.get("/home")
    assert status == 200 and len(page) < 200_000 and "18999" not in page


def _variant(author, name: str) -> dict:
    """A poll over our limits, in one more shape."""
    base = _question(author, 2, suffix=name)
    many = [{"type": "Note", "name": f"{i:05d}"} for i in range(500)]
    return {
        "anyOf-500": {**base, "oneOf": None, "anyOf": many} | {"oneOf": None},
        "oneOf-21": _question(author, 21, suffix=name),
        "anyOf-21": {**{k: v for k, v in _question(author, 21, suffix=name).items() if k != "oneOf"},
                     "anyOf": _question(author, 21)["oneOf"]},
        "anyOf-long-name": {**{k: v for k, v in base.items() if k != "oneOf"},
                            "anyOf": [{"type": "Note", "name": "a" * 101}, {"type": "Note", "name": "b"}]},
        "both-lists": {**base, "anyOf": many},
        "type-list": {**_question(author, 500, suffix=name), "type": ["Note", "Question"]},
        "oneOf-not-a-list": {**base, "oneOf": {"type": "Note", "name": "x" * 100_000}},
    }[name]


async def test_remote_poll__every_shape_over_our_limits_is_refused_by_every_road(node, make_remote, session):
    poller = await make_remote("poller")
    await quick_member(node, "ada")
    await node_follows(node, f"{node.base}/actors/ada", poller.id)
    assert await _send(node, session, poller, "Create", _question(poller, 2, suffix="warm-up")) == "stored"
    names = ["anyOf-500", "oneOf-21", "anyOf-21", "anyOf-long-name", "both-lists", "type-list", "oneOf-not-a-list"]
    before = await node.snapshot()
    outcomes = {}
    for name in names:
        question = {k: v for k, v in _variant(poller, name).items() if v is not None}
        # By Create, by an Announce embedding it, and by an Announce naming it (fetched from the poller)
        poller.documents[question["id"]] = (200, question)
        for kind, obj in (("Create", question), ("Announce", question), ("Announce", question["id"])):
            outcomes[name, kind, isinstance(obj, dict)] = await _send(node, session, poller, kind, obj)
    refused = {key: outcome for key, outcome in outcomes.items() if "at most" not in outcome}
    assert refused == {}
    after = await node.snapshot()
    assert {**after, "inbox": []} == {**before, "inbox": []}
    # And the boundary itself is ours: 20 options of 100 characters are taken
    assert await _send(node, session, poller, "Create", _question(poller, 20, 100, suffix="edge")) == "stored"


async def test_withdraw__nobody_but_the_proposer_by_any_form(node, signed_in, browsers):
    # Given Ada's proposals to promote Bo and to remove Cy
    ada, bo, cy, dee = (await signed_in("ada", "partner"), await signed_in("bo"), await signed_in("cy", "partner"),
                        await signed_in("dee"))
    promote = await _propose(ada, "Bo joins the Partners", action="promote", member="bo")
    remove = await _propose(ada, "Cy leaves", action="remove_member", member="CY")
    stranger = browsers(node)
    await stranger.get("/login")
    before = await node.snapshot()
    # When the member each acts on, another member, and a signed-out visitor try to withdraw them
    for uuid in (promote, remove):
        page = f"/proposals/{uuid}"
        for visitor in (bo, cy, dee):
            status, text = await visitor.post(f"{page}/withdraw", {}, page=page)
            assert status == 400, (uuid, visitor, status)
        # (a signed-out visitor has no form to copy: it sends the sign-in page's token)
        status, _ = await stranger.post(f"{page}/withdraw", {}, page="/login", follow=False)
        assert status in (303, 403), status
        for visitor in (bo, cy, dee):
            _, text = await visitor.get(page)
            assert "Withdraw the proposal" not in text_of(text)
    # Then nothing changed
    assert await node.snapshot() == before


async def test_voters__accounts_on_a_group_we_only_follow_do_not_vote(make_posting_node, make_remote, session):
    node = await make_posting_node()
    their_group = await make_remote("group", kind="Group")
    # Our Group follows theirs (accepted); they do not follow us
    await node_follows(node, node.group_id, their_group.id)
    proposal = await _public_poll(node)
    assert "cannot take part" in await _vote_as(node, session, their_group, "mallory", proposal, "Red")
    before = await node.snapshot()
    assert "cannot take part" in await _vote_as(node, session, their_group, "mallory", proposal, "Blue")
    after = await node.snapshot()
    assert {**after, "inbox": []} == {**before, "inbox": []}
    assert await node.count("stances") == 0


async def test_invitation__a_partner_who_left_invites_nobody(node, browsers):
    await make_member(node, "pat", "partner")
    await make_member(node, "ren", "partner")
    pat = browsers(node)
    await pat.sign_in("pat")
    partner_path, friend_path = await create_invitation(pat, "partner"), await create_invitation(pat, "friend")
    # When Pat leaves of her own accord (not removed by the others)
    status, page = await pat.post("/settings/leave", {"confirm": "yes", "reason": "moving on"}, page="/settings")
    assert status == 200, text_of(page)
    # Then neither of her links makes anyone a member
    for path in (partner_path, friend_path):
        before = await node.snapshot()
        newcomer = browsers(node)
        got, page = await newcomer.get(path)
        assert got == 410 and 'name="password"' not in page, (got, text_of(page))
        got, page = await join(newcomer, path, "mallory", page="/login")
        assert got == 410
        assert await node.snapshot() == before
