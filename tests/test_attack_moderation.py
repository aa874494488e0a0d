"""The red team's second round on moderation and key fetching (issue 12), each written as the attacker's (or a
curious member's) request against a running node with the SSRF guard on, asserting the safe answer and that
nothing changed:

- F3: the moderation record showed every member who reported what and about whom; report entries are for
  Partners, and one about a report concerning a Partner is not shown to that Partner (as the queue);
- F4: one client address filled the known peers' key-fetch pool alone; it has a per-client share, 503 past it;
- F6: a member could report any post here (a members-only, crew or direct one) or a URL not held here; only a
  remote public (or unlisted) post held here can be reported;
- F9: a report could be "forwarded" to a server the Congregation blocks (nothing went, the report said forwarded);
- F10: a member's mute or block of an account missed the same account written with a capitalised host or a
  trailing slash.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from node.activitypub.clients import KNOWN_KEY_FETCHES
from node.activitypub.keys import KNOWN_PER_CLIENT
from node.appkeys import KEYS
from node.db import transaction
from node.governance import crews
from node.processing.posts import publish_post
from node.processing.reports import NOT_REPORTABLE
from node.store import local_actors, remote
from node.store import moderation as moderation_store
from node.store.remote import RemoteActor
from tests.factories import deliver_all, follow, node_follows, received
from tests.fediverse import FakeActor, InProcessNode, free_port, init_node, run_cli
from tests.moderation_world import EVIL, open_world
from tests.moderation_world import note as _note
from tests.resolver import LoopbackDNS
from tests.strangers import clients, silent_server, stranger_addresses, stranger_post, until_done
from tests.webclient import text_of

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

# F4: the known peers' key pool


KNOWN = [f"known{i}.example" for i in range(20)]


@pytest.fixture
async def known_world(tmp_path):
    """A node under a made-up name whose database holds an actor on each of 20 hosts (so their keys are fetched in
    the known peers' pool), all 20 served by one silent key server that holds every request until released."""
    async with silent_server() as (silent_port, silent):
        dns = LoopbackDNS()
        port = free_port()
        dns.add("alpha.test.example", port)
        for name in KNOWN:
            dns.add(name, silent_port)
        node = await InProcessNode(init_node(tmp_path / "alpha", port, "Alpha", host="alpha.test.example"),
                                   resolver=dns).start()
        async with transaction(node.db):
            for name in KNOWN:
                origin = f"http://{name}:{silent_port}"
                await remote.upsert_actor(node.db, RemoteActor(
                    f"{origin}/users/old", "Person", "old", f"{name}:{silent_port}", f"{origin}/inbox", None, None,
                    "2026-01-01T00:00:00Z", None), "{}")
        try:
            yield node, dns, silent_port, silent
        finally:
            silent.release.set()
            await node.close()


async def test_f4__one_client_naming_keys_of_many_known_hosts_gets_only_its_share_of_the_known_pool(known_world):
    node, dns, port, silent = known_world
    keys = node.app[KEYS]
    assert len(KNOWN) > KNOWN_PER_CLIENT and KNOWN_PER_CLIENT < KNOWN_KEY_FETCHES
    before = await node.snapshot()
    async with clients(dns, stranger_addresses(2)) as (attacker, other):
        # When one client sends POSTs signed with new keys on 19 known hosts (each its own domain), held open
        flood = [asyncio.create_task(stranger_post(node, attacker, f"http://{KNOWN[n]}:{port}/k{n}#key", n))
                 for n in range(len(KNOWN) - 1)]
        # Then only its share is being fetched; the rest were answered at once, 503 with a Retry-After, unfetched
        await until_done(flood, len(flood) - KNOWN_PER_CLIENT)
        await silent.holding(KNOWN_PER_CLIENT)
        assert [t.result() for t in flood if t.done()] == [(503, "5")] * (len(flood) - KNOWN_PER_CLIENT)
        assert len(silent.seen) == KNOWN_PER_CLIENT and keys.known_slots.used == KNOWN_PER_CLIENT
        # And another client's key on a known host is still fetched: the pool is not the attacker's
        other_post = asyncio.create_task(stranger_post(node, other, f"http://{KNOWN[-1]}:{port}/k#key", 99))
        await silent.holding(KNOWN_PER_CLIENT + 1)
        assert keys.known_slots.used == KNOWN_PER_CLIENT + 1
        # When the key servers answer (404): the fetched ones get the generic 401, and nothing was stored
        silent.release.set()
        statuses = sorted(s for s, _ in await asyncio.gather(*flood, other_post))
        assert statuses == [401] * (KNOWN_PER_CLIENT + 1) + [503] * (len(flood) - KNOWN_PER_CLIENT)
        assert keys.known_slots.used == 0
        assert await node.snapshot() == before
        # And the attacker's share is whole again once its fetches are done
        assert (await stranger_post(node, attacker, f"http://{KNOWN[0]}:{port}/again#key", 100))[0] == 401


# F10: a member's mutes and blocks of an account, whatever the case of its host or a trailing slash


@pytest.fixture
async def world(tmp_path):
    """Alpha under a made-up name (the guard on), and a stranger whose server writes its host in capitals."""
    async with open_world(tmp_path, evil_host=EVIL.upper()) as made:
        yield made


def _lower_slashed(actor: FakeActor) -> str:
    """The account as a member writes it: the host in lower case, a trailing slash."""
    return f"http://{EVIL}:{actor.port}/users/{actor.name}/"


async def test_f10__a_mute_of_the_lower_case_account_hides_its_capitalised_posts(world):
    alpha, shouty, session = world.alpha, world.evil, world.session
    assert shouty.id != _lower_slashed(shouty).rstrip("/") and shouty.id.lower() == _lower_slashed(shouty)[:-1]
    ada = await world.visitor("ada")
    bo = await world.visitor("bo")
    # Given Ada mutes the account as she found it written: its host in lower case, with a trailing slash
    status, page = await ada.post("/moderation/mine", {"target": _lower_slashed(shouty), "kind": "mute"},
                                  page="/moderation")
    assert status == 200 and "Muted" in text_of(page)
    # When its server sends a post under the id with the host in capitals (the Group follows it that way)
    await node_follows(alpha, alpha.group_id, shouty.id)
    assert (await shouty.post(session, alpha.base + "/inbox", _note(shouty, "shouted past the mute")))[0] == 202
    await alpha.drain_inbox()
    assert await alpha.count("remote_objects", "author = ?", shouty.id) == 1
    # Then Ada does not see it; Bo, who muted nothing, does
    assert "shouted past the mute" not in text_of((await ada.get("/home"))[1])
    assert "shouted past the mute" in text_of((await bo.get("/home"))[1])
    # And muting it again as its server writes it is "already", not a second row
    before = await alpha.snapshot()
    status, page = await ada.post("/moderation/mine", {"target": shouty.id, "kind": "mute"}, page="/moderation")
    assert status == 409 and "already" in text_of(page)
    assert await alpha.snapshot() == before
    # And lifting it, written either way, lifts it
    status, _ = await ada.post("/moderation/mine/remove", {"target_kind": "account", "target": shouty.id},
                               page="/moderation")
    assert status == 200 and "shouted past the mute" in text_of((await ada.get("/home"))[1])
    assert await alpha.count("member_filters") == 0


async def test_f10__a_block_of_the_lower_case_account_refuses_its_capitalised_follow(world):
    alpha, shouty, session = world.alpha, world.evil, world.session
    ada = await world.visitor("ada")
    ada_uri = f"{alpha.base}/actors/ada"
    # Given the account (host in capitals) follows Ada, and Ada follows it
    await follow(alpha, shouty, session, ada_uri)
    await node_follows(alpha, ada_uri, shouty.id)
    shouty.received.clear()
    # When Ada blocks it as she found it written: lower case, a trailing slash
    status, page = await ada.post("/moderation/mine", {"target": _lower_slashed(shouty), "kind": "block"},
                                  page="/moderation")
    assert status == 200 and "Blocked" in text_of(page)
    # Then both follows end, and it is told as Mastodon tells
    assert await alpha.count("follows", "follower = ? OR followee = ?", shouty.id, shouty.id) == 0
    await deliver_all(alpha)
    assert sorted(a["type"] for a in received(shouty)) == ["Reject", "Undo"]
    # And when it asks to follow Ada again, under its capitalised id, it is refused and nothing is kept
    shouty.received.clear()
    assert (await shouty.post(session, alpha.base + "/inbox", shouty.activity("Follow", ada_uri)))[0] == 202
    await alpha.drain_inbox()
    await deliver_all(alpha)
    assert [a["type"] for a in received(shouty)] == ["Reject"]
    assert await alpha.count("follows", "follower = ? AND followee = ?", shouty.id, ada_uri) == 0


# F6: what a member may report


async def _crew(node: InProcessNode, name: str, *handles: str) -> int:
    founder, *others = [await local_actors.by_username(node.db, h) for h in handles]
    [started] = await crews.start(node.db, founder, name, "growing things", "Sundays", "working")
    for actor in others:
        await crews.join(node.db, actor, started.crew.id, "", node.config.crew_max)
    return started.crew.id


async def _held(world, text: str, to: list[str], cc: list[str] | None = None) -> str:
    """The stranger's note, addressed as given, sent to Alpha and stored there; its id."""
    create = _note(world.evil, text, to)
    create["object"]["cc"] = create["cc"] = cc or []
    assert (await world.evil.post(world.session, world.alpha.base + "/inbox", create))[0] == 202
    await world.alpha.drain_inbox()
    assert await world.alpha.count("remote_objects", "uri = ? AND deleted_at IS NULL", create["object"]["id"]) == 1
    return create["object"]["id"]


@pytest.fixture
async def guarded(tmp_path):
    async with open_world(tmp_path) as made:
        yield made


async def test_f6__a_member_reports_only_a_post_they_can_read_by_someone_else(guarded, capsys):
    world, alpha, evil = guarded, guarded.alpha, guarded.evil
    ada = await world.visitor("ada")
    await world.visitor("bo")
    await world.visitor("cy")
    bo = await local_actors.by_username(alpha.db, "bo")
    ada_actor = await local_actors.by_username(alpha.db, "ada")
    bo_uri = f"{alpha.base}/actors/bo"
    # Given the Group follows the stranger; posts of this Congregation's (Bo's public and members-only ones, Bo's
    # post to a crew Ada is not in, Ada's own), and the stranger's: a direct one to Bo, a followers-only one, a
    # deleted one and an unlisted one
    await node_follows(alpha, alpha.group_id, evil.id)
    crew_id = await _crew(alpha, "Allotment", "bo", "cy")
    readable = [await publish_post(alpha.db, alpha.config, bo, text, visibility)
                for text, visibility in (("bo in public", "public"), ("bo to members", "members"))]
    crew_post = await publish_post(alpha.db, alpha.config, bo, "bo to the crew", "crew", crew_id=crew_id)
    own = await publish_post(alpha.db, alpha.config, ada_actor, "ada herself", "members")
    direct = await _held(world, "for bo alone: the door code is 4711", [bo_uri])
    followers = await _held(world, "for my followers", [f"{evil.id}/followers"])
    gone = await _held(world, "soon deleted", [PUBLIC])
    assert (await evil.post(world.session, alpha.base + "/inbox", evil.activity("Delete", gone)))[0] == 202
    await alpha.drain_inbox()
    unlisted = await _held(world, "quietly unlisted", [f"{evil.id}/followers"], [PUBLIC])
    refused = {
        f"{alpha.base}/posts/{crew_post.uuid}": "bo to the crew", f"{alpha.base}/posts/{own.uuid}": None,
        direct: "door code", followers: "for my followers", gone: "soon deleted",
        "https://elsewhere.example/notes/1": None, f"{alpha.base}/actors/bo": None, "": None,
    }
    await deliver_all(alpha)
    before = await alpha.snapshot()
    csrf = await ada.csrf("/home")
    for uri, text in refused.items():
        # When Ada asks for the report form of each, or sends a report of each
        for status, page in (await ada.get(f"/reports/new?post={quote(uri, safe='')}"),
                             await ada.post("/reports", {"post": uri, "comment": "look"}, csrf=csrf)):
            # Then each is the same form error (nothing tells what is held), and the post's text is not shown
            assert status == 404, (uri, status)
            assert NOT_REPORTABLE in text_of(page).lower() and 'name="comment"' not in page, uri
            assert text is None or text not in page, uri
    # And from the command line: one line, exit 1
    data = str(alpha.config.data_dir)
    for uri in (direct, f"{alpha.base}/posts/{crew_post.uuid}"):
        assert await run_cli("report", uri, "--as", "ada", "--data", data) == 1
        assert capsys.readouterr().err == f"congregation: {NOT_REPORTABLE}\n"
    # And nothing was stored or sent
    assert await alpha.snapshot() == before
    # While the stranger's unlisted post and Bo's posts Ada can read are reported
    for uri in (unlisted, *(f"{alpha.base}/posts/{post.uuid}" for post in readable)):
        status, page = await ada.post("/reports", {"post": uri, "comment": "look"}, csrf=csrf)
        assert status == 200 and "the Partners have your report" in text_of(page), uri
    assert await alpha.count("reports", "account = ? AND reporter_id IS NOT NULL", evil.id) == 1
    assert await alpha.count("reports", "account = ? AND reporter_id IS NOT NULL", bo_uri) == 2


# F9: forwarding a report to a server the Congregation blocks


async def _reported(world, ada) -> int:
    """Ada's report of the stranger's public post, held here; the report's id."""
    await node_follows(world.alpha, world.alpha.group_id, world.evil.id)
    post = await _held(world, "buy pills", [PUBLIC])
    status, _ = await ada.post("/reports", {"post": post, "comment": "spam"}, page="/home")
    assert status == 200
    async with world.alpha.db.execute("SELECT id FROM reports") as cur:
        (report_id,) = await cur.fetchone()
    return report_id


async def test_f9__forwarding_a_report_to_a_blocked_server_is_a_form_error_and_sends_nothing(guarded):
    world, alpha, evil = guarded, guarded.alpha, guarded.evil
    ada = await world.visitor("ada")
    pat = await world.visitor("pat", "partner")
    report_id = await _reported(world, ada)
    # Given Pat blocked the stranger's server after the report came in
    status, _ = await pat.post("/moderation/servers", {"server": EVIL, "reason": "spam"}, page="/moderation")
    assert status == 200
    await deliver_all(alpha)
    evil.received.clear()
    fetched = list(evil.fetched)
    before = await alpha.snapshot()
    # When Pat forwards the report there
    status, page = await pat.post(f"/reports/{report_id}/forward", {"comment": "spam"}, page="/reports")
    # Then it is a form error that says why, on the queue, with the report still there and unforwarded
    assert status == 409
    assert f"The Congregation blocks the server {EVIL}" in text_of(page) and "cannot be forwarded" in text_of(page)
    assert f"/reports/{report_id}/forward" in page
    # And nothing was fetched from the server, stored, queued or sent
    assert await alpha.snapshot() == before
    assert await deliver_all(alpha) == 0 and received(evil) == [] and evil.fetched == fetched
    # While once it is unblocked, the report is forwarded and the Flag arrives
    assert (await pat.post("/moderation/servers/unblock", {"server": EVIL}, page="/moderation"))[0] == 200
    status, page = await pat.post(f"/reports/{report_id}/forward", {"comment": "spam"}, page="/reports")
    assert status == 200 and "Forwarded" in text_of(page)
    await deliver_all(alpha)
    assert [a["type"] for a in received(evil)] == ["Flag"]


async def test_f9__forwarding_in_allowlist_mode_to_an_unlisted_server_is_refused_too(guarded):
    world, alpha, evil = guarded, guarded.alpha, guarded.evil
    ada = await world.visitor("ada")
    pat = await world.visitor("pat", "partner")
    report_id = await _reported(world, ada)
    # Given the Congregation decided to federate only with siblings and listed servers, and the stranger's is not
    async with transaction(alpha.db):
        await moderation_store.set_mode(alpha.db, moderation_store.ALLOWLIST, None)
    await deliver_all(alpha)
    evil.received.clear()
    fetched = list(evil.fetched)
    before = await alpha.snapshot()
    # When Pat forwards the report
    status, page = await pat.post(f"/reports/{report_id}/forward", {"comment": "spam"}, page="/reports")
    # Then it is refused with the reason, and nothing was fetched, stored or sent
    assert status == 409 and f"In allowlist mode nothing is sent to {EVIL}" in text_of(page)
    assert await alpha.snapshot() == before
    assert await deliver_all(alpha) == 0 and received(evil) == [] and evil.fetched == fetched
    # While once the server is listed, it is forwarded
    assert (await pat.post("/moderation/allowlist", {"server": EVIL}, page="/moderation"))[0] == 200
    assert (await pat.post(f"/reports/{report_id}/forward", {"comment": "spam"}, page="/reports"))[0] == 200
    await deliver_all(alpha)
    assert [a["type"] for a in received(evil)] == ["Flag"]


# F3: the moderation record and reports


async def test_f3__report_entries_of_the_moderation_record_are_for_partners_never_about_themselves(guarded):
    world, alpha, evil = guarded, guarded.alpha, guarded.evil
    ada = await world.visitor("ada")
    bo = await world.visitor("bo")
    pat = await world.visitor("pat", "partner")
    quinn = await world.visitor("quinn", "partner")
    # Given a stranger's Flag about Pat's post, which Quinn removed and resolved with notes
    pats = await publish_post(alpha.db, alpha.config, await local_actors.by_username(alpha.db, "pat"),
                              "Members, pay up", "public")
    pats_uri = f"{alpha.base}/posts/{pats.uuid}"
    flag = evil.activity("Flag", [f"{alpha.base}/actors/pat", pats_uri], content="pushy")
    assert (await evil.post(world.session, alpha.base + "/inbox", flag))[0] == 202
    await alpha.drain_inbox()
    async with alpha.db.execute("SELECT id FROM reports") as cur:
        (about_pat,) = await cur.fetchone()
    for action, form in (("remove", {"post": pats_uri, "note": "removed-for-pushiness"}),
                         ("close", {"state": "resolved", "note": "pat-was-told-off"})):
        assert (await quinn.post(f"/reports/{about_pat}/{action}", form, page="/reports"))[0] == 200
    # And Ada's report of the stranger's post, which Pat forwarded; and a server Pat blocked
    about_evil = await _reported(world, ada)
    assert (await pat.post(f"/reports/{about_evil}/forward", {"comment": "forwarded-pills"},
                           page="/reports"))[0] == 200
    assert (await pat.post("/moderation/servers", {"server": "spam.example", "reason": "blocked-for-spam"},
                           page="/moderation"))[0] == 200
    assert await alpha.count("moderation_events") == 4
    await deliver_all(alpha)
    report_traces = ("removed-for-pushiness", "pat-was-told-off", "forwarded-pills", pats_uri, evil.id,
                     "report")
    before = await alpha.snapshot()

    # When Friends read the record (Ada, who reported, too), as a page or asking for JSON
    for friend in (ada, bo):
        for headers in ({}, {"Accept": "application/json"}, {"Accept": "application/activity+json"}):
            status, page = await friend.get("/moderation/log", headers=headers)
            # Then they see the block, and nothing about any report
            assert status == 200 and "blocked-for-spam" in page
            assert not [t for t in report_traces if t in page], headers
    # And Pat sees the report he forwarded, but nothing about the report concerning him
    _, page = await pat.get("/moderation/log")
    assert "forwarded-pills" in page and evil.id in page and "blocked-for-spam" in page
    assert not [t for t in ("removed-for-pushiness", "pat-was-told-off", pats_uri) if t in page]
    # And Quinn, a Partner it is not about, sees all of it
    _, page = await quinn.get("/moderation/log")
    assert all(t in page for t in report_traces)
    # And signed out there is nothing to read
    async with world.session.get(alpha.base + "/moderation/log", allow_redirects=False) as response:
        assert response.status in (302, 303, 401) and "forwarded-pills" not in await response.text()
    # And reading changed nothing
    assert await alpha.snapshot() == before
