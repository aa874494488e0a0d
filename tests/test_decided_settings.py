"""Settings the Congregation decides: a consent proposal with action change_setting, opened by a Partner, changes
a setting when it passes — at once, without a restart, and for good."""

from __future__ import annotations

import pytest

from node.appkeys import CONFIG
from node.db import transaction
from node.governance import crews
from node.processing.proposals import ENACTORS
from node.store import local_actors
from node.store import proposals as store
from node.store import settings as settings_store
from tests.fediverse import InProcessNode, cli
from tests.webclient import NOTICE, Visitor, make_member, text_of


def _form(title: str, **values: str) -> dict[str, str]:
    return {"kind": "consent", "title": title, "details": "", "closes_in": "3", "closes_at": "",
            "scope": "congregation", "options": "", "quorum": "0", "action": "change_setting", "member": "",
            "sibling": "", "setting": "soft_size", "value": "3", **values}


async def _propose(visitor: Visitor, title: str, **values: str) -> tuple[int, str]:
    return await visitor.post("/proposals/new", _form(title, **values))


async def _uuid(node, title: str) -> str:
    async with node.db.execute("SELECT uuid FROM proposals WHERE title = ?", (title,)) as cur:
        return (await cur.fetchone())[0]


async def _stance(visitor: Visitor, uuid: str, choice: str, reason: str = "") -> None:
    data = {"choice": choice, "reason": reason}
    status, _ = await visitor.post(f"/proposals/{uuid}/stance", data, page=f"/proposals/{uuid}")
    assert status == 200


async def _close(node, *uuids: str) -> None:
    """Their closing time passes; the node's decision clock closes them and enacts what passed."""
    await node.pass_closing_time(*uuids)
    await node.close_proposals()


async def _time_to_split(visitor: Visitor) -> tuple[int, bool]:
    async with visitor.session.get(visitor.url("/nodeinfo/2.1")) as r:
        congregation = (await r.json(content_type=None))["metadata"]["congregation"]
    return congregation["softSize"], congregation["timeToSplit"]


async def _decided(node) -> list[tuple]:
    async with node.db.execute("SELECT name, value FROM decided_settings ORDER BY name") as cur:
        return [tuple(r) for r in await cur.fetchall()]


@pytest.fixture
async def congregation(node, signed_in):
    """Pat (Partner), Fern and Gus (Friends), signed in, on a node designed for 100 members and at most 150."""
    return node, await signed_in("pat", "partner"), await signed_in("fern"), await signed_in("gus")


async def test_change_setting__passes_and_applies_at_once_and_after_a_restart(congregation):
    node, pat, fern, gus = congregation
    # Given three members, far below the soft size: no notice
    _, page = await pat.get("/home")
    assert NOTICE not in text_of(page) and await _time_to_split(pat) == (100, False)
    # When Pat proposes soft_size 3, and the page says what it would change
    status, page = await _propose(pat, "We are few and mean to stay so")
    assert status == 200 and "Sets soft_size from 100 to 3" in text_of(page)
    uuid = await _uuid(node, "We are few and mean to stay so")
    # And everyone agrees, and its closing time passes
    for visitor in (pat, fern, gus):
        await _stance(visitor, uuid, "agree")
    await _close(node, uuid)
    # Then it is enacted, recorded, and the node acts on it without a restart
    proposal = await store.by_uuid(node.db, uuid)
    assert proposal.state == "enacted" and proposal.enact_error is None
    assert await _decided(node) == [("soft_size", "3")]
    _, page = await gus.get("/home")
    assert NOTICE in text_of(page)
    assert await _time_to_split(gus) == (3, True)
    _, page = await pat.get(f"/proposals/{uuid}")
    assert "Sets soft_size to 3 (done)" in text_of(page)

    # When it is enacted again (a crash between enacting and recording it)
    async with transaction(node.db):
        await ENACTORS["change_setting"][1](node.db, node.app[CONFIG], proposal, None)
    # Then nothing more changes
    assert await _decided(node) == [("soft_size", "3")] and node.app[CONFIG].soft_size == 3

    # When the node restarts on the same data (its file still says nothing of soft_size)
    await node.close()
    again = await InProcessNode(node.config).start()
    try:
        # Then the Congregation's decision still holds
        assert again.app[CONFIG].soft_size == 3 and again.config.soft_size == 100
        visitor = Visitor(again)
        try:
            assert await _time_to_split(visitor) == (3, True)
        finally:
            await visitor.close()
    finally:
        await again.close()


REFUSED = [
    ({"setting": "colour", "value": "green"}, "setting colour: unknown, and not one the Congregation decides"),
    ({"setting": "base_url", "value": "https://elsewhere.example"}, "setting base_url: not one the Congregation"),
    ({"setting": "allow_private_addresses", "value": "false"}, "setting allow_private_addresses: not one"),
    ({"setting": "soft_size", "value": "lots"}, "setting soft_size: expected a whole number, got 'lots'"),
    ({"setting": "who_invites", "value": "everyone"}, "setting who_invites: expected one of partners, members"),
    ({"setting": "soft_size", "value": "200"}, "setting soft_size: must not exceed hard_size (150)"),
    ({"setting": "crew_max", "value": "2"}, "setting crew_max: must be at least 3"),
    ({"setting": "soft_size", "value": ""}, "setting soft_size: give the new value"),
    ({"scope": "partners"}, "a change of setting is decided by the whole Congregation"),
    ({"kind": "advice"}, "only a consent proposal of the Congregation or its Partners can act"),
]


async def test_change_setting__refused_when_opened_and_nothing_is_stored(congregation):
    node, pat, fern, _ = congregation
    before = await node.snapshot()
    # When Pat proposes each change that could not be carried out, Then each comes back as a form error
    for values, message in REFUSED:
        status, page = await _propose(pat, "Change a rule", **values)
        assert status == 400 and message.lower() in text_of(page).lower(), (values, text_of(page))
        assert 'value="Change a rule"' in page  # what was typed comes back
    # And a Friend may not propose one at all (nor is it offered to her)
    _, page = await fern.get("/proposals/new")
    assert 'value="change_setting"' not in page
    status, page = await _propose(fern, "Change a rule", setting="soft_size", value="50")
    assert status == 400 and "Only Partners can propose changing a setting." in text_of(page)
    # And nothing was stored
    assert await node.snapshot() == before


async def test_change_setting__crew_proposal_is_refused(congregation):
    node, pat, fern, gus = congregation
    crew = (await crews.start(node.db, await local_actors.by_username(node.db, "pat"), "Kitchen crew", "", "",
                              "working"))[0].crew
    crew_id = crew.id
    before = await node.snapshot()
    status, page = await _propose(pat, "Change a rule", scope=f"crew:{crew_id}")
    assert status == 400 and "can act" in text_of(page)
    assert await node.snapshot() == before


@pytest.mark.slow
async def test_change_setting__the_command_line_refuses_in_one_line(congregation):
    node, *_ = congregation
    data = str(node.config.data_dir)
    base = ["propose", "--title", "Change a rule", "--closes", "3d", "--action", "change_setting", "--data", data]
    # A Friend, and a setting that is the operator's: one line each, nothing stored
    before = await node.snapshot()
    code, _, err = cli(*base, "--as", "fern", "--setting", "soft_size", "--value", "50")
    assert code == 1 and err == "congregation: only Partners can propose changing a setting\n"
    code, _, err = cli(*base, "--as", "pat", "--setting", "base_url", "--value", "https://x.example")
    assert code == 1 and err.startswith("congregation: setting base_url: not one the Congregation decides")
    assert len(err.splitlines()) == 1
    assert await node.snapshot() == before
    # A Partner with a value that fits opens it
    code, out, _ = cli(*base, "--as", "pat", "--setting", "invitation_days", "--value", "7")
    assert code == 0 and out.startswith("Proposal 1 is open")
    proposal = await store.by_id(node.db, 1)
    assert proposal.action_args == {"setting": "invitation_days", "value": "7"}


async def test_change_setting__blocked_changes_nothing(congregation):
    node, pat, fern, gus = congregation
    await _propose(pat, "Fewer of us")
    uuid = await _uuid(node, "Fewer of us")
    await _stance(pat, uuid, "agree")
    await _stance(fern, uuid, "block", "We have room for more")
    await _close(node, uuid)
    assert (await store.by_uuid(node.db, uuid)).state == "failed"
    assert await _decided(node) == [] and node.app[CONFIG].soft_size == 100
    _, page = await gus.get("/home")
    assert NOTICE not in text_of(page)


async def test_change_setting__one_that_no_longer_fits_is_not_done(congregation):
    node, pat, fern, gus = congregation
    # Given two proposals that each fit when opened: soft_size 120 (≤ 150), and hard_size 110 (≥ 100)
    await _propose(pat, "Bigger before we split", value="120")
    await _propose(pat, "A smaller ceiling", setting="hard_size", value="110", closes_in="1")
    first, second = await _uuid(node, "Bigger before we split"), await _uuid(node, "A smaller ceiling")
    for uuid in (second, first):
        await _stance(pat, uuid, "agree")
    # When hard_size passes first (it closes a day in, the other in three), then soft_size
    await _close(node, second)
    await _close(node, first)
    # Then hard_size is 110, and soft_size 120 is not done: the reason is on the proposal
    assert node.app[CONFIG].hard_size == 110 and node.app[CONFIG].soft_size == 100
    assert await _decided(node) == [("hard_size", "110")]
    proposal = await store.by_uuid(node.db, first)
    assert proposal.state == "passed" and "must not exceed hard_size (110)" in proposal.enact_error
    _, page = await pat.get(f"/proposals/{first}")
    assert "not done: setting soft_size: must not exceed hard_size (110)" in text_of(page)


@pytest.mark.slow
async def test_change_setting__public_follows_auto_reaches_the_inbox_worker(node, signed_in, remote, session):
    # Given a node whose Group's follows wait for approval, and a Partner
    pat = await signed_in("pat", "partner")
    await make_member(node, "fern")
    # When the Congregation decides its follows are accepted at once
    await _propose(pat, "Open the door", setting="public_follows", value="auto")
    uuid = await _uuid(node, "Open the door")
    await _stance(pat, uuid, "agree")
    await _close(node, uuid)
    assert await settings_store.decided(node.db) == {"public_follows": "auto"}
    # Then a new Follow of the Group is accepted at once by the inbox worker
    status, _ = await remote.post(session, node.group_id + "/inbox", remote.activity("Follow", node.group_id))
    assert status == 202
    await node.drain_inbox()
    assert await node.count("follows", "follower = ? AND state = 'accepted'", remote.id) == 1
    # And the Group's document says so
    async with session.get(node.group_id, headers={"Accept": "application/activity+json"}) as r:
        assert (await r.json())["manuallyApprovesFollowers"] is False
    # And `congregation doctor` says a setting is decided
    _, out, _ = cli("doctor", "--data", str(node.config.data_dir), "--offline")
    config_line = next(line for line in out.splitlines() if "config:" in line)
    assert config_line.startswith("ok") and "1 decided by the Congregation" in config_line, out
