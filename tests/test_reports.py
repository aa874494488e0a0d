"""Reports (issue 12, moderation) over real HTTP with the SSRF guard on: a member reports a post, the Partners see
the queue (never a report about themselves) and act; a report about a remote post is forwarded to its server as
the Group's `Flag`; another server's `Flag` lands in the queue, bounded, and one naming nothing of ours changes
nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from urllib.parse import quote

import aiohttp
import pytest

from node.appkeys import HTTP
from node.governance.membership import add_member
from node.governance.reports import MAX_COMMENT, MAX_OPEN_PER_HOST
from node.processing.follows import follow as group_follows
from node.processing.posts import delete_post, publish_post
from node.processing.reports import NOT_REPORTABLE
from node.store import local_actors
from tests.documented import FEDERATION_MD, differences
from tests.factories import deliver_all, exchange, keypair, node_follows, password_hash
from tests.fediverse import FakeActor, InProcessNode, free_port, init_node, run_cli
from tests.resolver import LoopbackDNS
from tests.webclient import Visitor, text_of

STRANGER = "stranger.test.example"
# Verifying a signature caches the signer's key and document; the inbox keeps the activity's row (its outcome).
NOT_EFFECTS = {"remote_keys", "remote_actors", "inbox"}
FLAG_EXAMPLE_RE = re.compile(r"<!-- example: flag \(checked by tests/test_reports.py\) -->\s*```json\n(.*?)```", re.S)


@dataclass
class NamedActor(FakeActor):
    """A FakeActor reached by a made-up public name through the test DNS (the SSRF guard stays on)."""

    host: str = STRANGER

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
async def dns():
    return LoopbackDNS()


@pytest.fixture
async def make_named(tmp_path, dns):
    """Nodes at NAME.test.example with the guard on."""
    nodes: list[InProcessNode] = []

    async def make(name: str = "alpha") -> InProcessNode:
        port = free_port()
        host = f"{name}.test.example"
        config = init_node(tmp_path / name, port, name.title(), host=host)
        dns.add(host, port)
        nodes.append(await InProcessNode(config, resolver=dns).start())
        return nodes[-1]

    yield make
    for node in nodes:
        await node.close()


@pytest.fixture
async def alpha(make_named):
    return await make_named("alpha")


@pytest.fixture
async def stranger(dns):
    actor = await NamedActor(name="mod").start()
    dns.add(STRANGER, actor.port)
    yield actor
    await actor.close()


@pytest.fixture
async def session(dns):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)) as s:
        yield s


@pytest.fixture
async def browser(dns):
    """`await browser(node, handle, tier)`: a member of `node`, signed in, in a browser resolving by the test DNS."""
    made: list[Visitor] = []

    async def make(node: InProcessNode, handle: str, tier: str = "friend") -> Visitor:
        await add_member(node.db, handle, handle.capitalize(), tier, *keypair(), password_hash=await password_hash())
        visitor = Visitor(node)
        await visitor.session.close()
        visitor.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns),
                                                cookie_jar=aiohttp.CookieJar(unsafe=True),
                                                headers={"Accept": "text/html"})
        made.append(visitor)
        assert (await visitor.sign_in(handle))[0] == 200
        return visitor

    yield make
    for visitor in made:
        await visitor.close()


async def _member(node: InProcessNode, handle: str):
    return await local_actors.by_username(node.db, handle)


async def _reports(node: InProcessNode) -> list[dict]:
    async with node.db.execute("SELECT id, reporter_id, reporter_host, account, account_id, posts, comment, state,"
                               " forwarded_at FROM reports ORDER BY id") as cur:
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


async def _log(node: InProcessNode) -> list[tuple]:
    async with node.db.execute("SELECT kind, target, by_id, report_id, reason FROM moderation_events"
                               " ORDER BY id") as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def _outcome(node: InProcessNode, activity_id: str) -> str:
    async with node.db.execute("SELECT outcome FROM inbox WHERE activity_id = ?", (activity_id,)) as cur:
        return (await cur.fetchone())[0]


def _report_link(post_uri: str) -> str:
    return f"/reports/new?post={quote(post_uri, safe='')}"


async def _held_post(node: InProcessNode, actor: FakeActor, session: aiohttp.ClientSession, text: str) -> str:
    """A public post of `actor`'s that `node` holds (its Group follows the actor): what a member may report."""
    await node_follows(node, node.group_id, actor.id)
    note = {"id": f"{actor.origin}/notes/{abs(hash(text))}", "type": "Note", "attributedTo": actor.id,
            "content": f"<p>{text}</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "published": "2026-11-30T10:00:00Z"}
    assert (await actor.post(session, node.base + "/inbox", actor.activity("Create", note, to=note["to"])))[0] == 202
    await node.drain_inbox()
    assert await node.count("remote_objects", "uri = ?", note["id"]) == 1
    return note["id"]


# A member's report, forwarded as the Group's Flag to the node the post came from


async def test_reports__a_members_report_forwarded_by_a_partner_reaches_the_origin_node_as_a_flag(
        make_named, browser):
    alpha, beta = await make_named("alpha"), await make_named("beta")
    # Given alpha's Group follows bo on beta, and bo's public post reached alpha's timeline
    await add_member(beta.db, "bo", "Bo", "friend", *keypair())
    bo = await _member(beta, "bo")
    await group_follows(alpha.db, alpha.config, await local_actors.group(alpha.db), alpha.app[HTTP],
                        f"{beta.base}/actors/bo")
    await exchange(alpha, beta)
    post = await publish_post(beta.db, beta.config, bo, "Buy cheap watches", "public")
    await exchange(alpha, beta)
    post_uri = f"{beta.base}/posts/{post.uuid}"
    ada = await browser(alpha, "ada")
    status, home = await ada.get("/home")
    assert status == 200 and "Buy cheap watches" in home
    # And the post shows a Report link that opens the report form for it
    [link] = re.findall(r'href="(/reports/new\?post=[^"]+)"', home)
    status, form = await ada.get(unescape(link))
    assert status == 200 and "Buy cheap watches" in form and f'name="post" value="{post_uri}"' in form

    # When ada reports it with a comment
    status, page = await ada.post("/reports", {"post": post_uri, "comment": "Spam, again"},
                                  page=_report_link(post_uri))
    assert status == 200 and "the Partners have your report" in text_of(page)

    # Then a Partner is told, sees it in the queue, and forwards it with a comment of her own
    pat = await browser(alpha, "pat", "partner")
    status, home = await pat.get("/home")
    assert "1 report waits for the Partners." in text_of(home)
    status, queue = await pat.get("/reports")
    assert status == 200 and "Spam, again" in text_of(queue) and "by @ada" in text_of(queue)
    assert f"Block beta.test.example:{beta.config.base_url.rsplit(':', 1)[1]} for the Congregation" in text_of(queue)
    [report] = await _reports(alpha)
    status, page = await pat.post(f"/reports/{report['id']}/forward", {"comment": "Spam from bo"}, page="/reports")
    assert status == 200 and "Forwarded" in text_of(page)
    assert await deliver_all(alpha) == 1

    # And beta took it in as a report from alpha's server about bo and his post, not naming ada
    await beta.drain_inbox()
    [taken] = await _reports(beta)
    assert taken["reporter_host"] == f"alpha.test.example:{alpha.config.base_url.rsplit(':', 1)[1]}"
    assert (taken["account"], taken["account_id"]) == (f"{beta.base}/actors/bo", bo.id)
    assert json.loads(taken["posts"]) == [post_uri] and taken["comment"] == "Spam from bo"
    async with alpha.db.execute("SELECT body FROM outbox WHERE type = 'Flag'") as cur:
        (body,) = await cur.fetchone()
    flag = json.loads(body)
    assert flag["actor"] == alpha.group_id and flag["object"] == [f"{beta.base}/actors/bo", post_uri]
    assert "ada" not in body
    # And the Flag has the shape FEDERATION.md documents
    [documented] = FLAG_EXAMPLE_RE.findall(FEDERATION_MD.read_text())
    assert differences(json.loads(documented), flag) == []
    # And the forwarding is in alpha's moderation log, by pat
    pat_id = (await _member(alpha, "pat")).id
    assert await _log(alpha) == [("report-forwarded", f"{beta.base}/actors/bo", pat_id, report["id"],
                                  "Spam from bo")]
    # And forwarding twice is a form error
    status, page = await pat.post(f"/reports/{report['id']}/forward", {"comment": "again"}, page="/reports")
    assert status == 409 and "forwarded already" in text_of(page)


# Who sees a report


async def test_reports__a_report_about_a_partner_is_hidden_from_them_and_another_partner_acts(
        alpha, browser, stranger, session):
    # Given a Partner's post, reported by another server
    pat = await browser(alpha, "pat", "partner")
    quinn = await browser(alpha, "quinn", "partner")
    post = await publish_post(alpha.db, alpha.config, await _member(alpha, "pat"), "Members, pay up", "public")
    post_uri = f"{alpha.base}/posts/{post.uuid}"
    flag = _flag(stranger, [f"{alpha.base}/actors/pat", post_uri], "Pushy")
    assert (await stranger.post(session, alpha.base + "/inbox", flag))[0] == 202
    await alpha.drain_inbox()
    [report] = await _reports(alpha)

    # Then pat sees no notice, no report and cannot act on it (as if it were not there)
    status, home = await pat.get("/home")
    assert "report wait" not in text_of(home) and 'href="/reports"' in home  # the nav, no notice
    status, queue = await pat.get("/reports")
    assert status == 200 and "Pushy" not in queue and "No open reports." in text_of(queue)
    status, _ = await pat.post(f"/reports/{report['id']}/close", {"state": "dismissed", "note": "no"},
                               page="/reports")
    assert status == 404
    status, _ = await pat.post(f"/reports/{report['id']}/remove", {"post": post_uri}, page="/reports")
    assert status == 404
    assert (await _reports(alpha))[0]["state"] == "open" and await _log(alpha) == []

    # And quinn is told, sees it, and removes the post, then resolves the report with a note
    status, home = await quinn.get("/home")
    assert "1 report waits for the Partners." in text_of(home)
    status, queue = await quinn.get("/reports")
    assert "Pushy" in text_of(queue) and "Members, pay up" in text_of(queue)
    status, page = await quinn.post(f"/reports/{report['id']}/remove", {"post": post_uri, "note": "pushy"},
                                    page="/reports")
    assert status == 200 and "The post is removed" in text_of(page)
    assert await alpha.count("posts", "id = ? AND deleted_at IS NOT NULL", post.id) == 1
    assert await alpha.count("outbox", "type = 'Delete'") == 1
    status, page = await quinn.post(f"/reports/{report['id']}/close", {"state": "resolved", "note": "Removed"},
                                    page="/reports")
    assert status == 200 and "Resolved" in text_of(page)
    quinn_id = (await _member(alpha, "quinn")).id
    assert await _log(alpha) == [("post-removed", post_uri, quinn_id, report["id"], "pushy"),
                                 ("report-resolved", str(report["id"]), quinn_id, report["id"], "Removed")]
    # And a closed report cannot be closed again
    status, page = await quinn.post(f"/reports/{report['id']}/close", {"state": "dismissed", "note": ""},
                                    page="/reports")
    assert status == 409 and "resolved already" in text_of(page)


async def test_reports__a_friend_cannot_see_or_work_the_queue(alpha, browser, stranger, session):
    pat = await browser(alpha, "pat", "partner")
    ada = await browser(alpha, "ada")
    bo = await browser(alpha, "bo")
    post_uri = await _held_post(alpha, stranger, session, "Hello")
    assert (await ada.post("/reports", {"post": post_uri, "comment": "x"}, page=_report_link(post_uri)))[0] == 200
    [report] = await _reports(alpha)
    before = await alpha.snapshot()
    # A Friend: 403 for the queue and for every action, and no notice
    assert (await bo.get("/reports"))[0] == 403
    csrf = await bo.csrf("/home")
    for action, form in (("close", {"state": "dismissed", "note": ""}), ("remove", {"post": post_uri}),
                         ("forward", {"comment": ""})):
        assert (await bo.post(f"/reports/{report['id']}/{action}", form, csrf=csrf))[0] == 403
    assert "report waits" not in text_of((await bo.get("/home"))[1])
    assert await alpha.snapshot() == before
    # While a Partner is told of it
    assert "1 report waits" in text_of((await pat.get("/home"))[1])


async def test_reports__what_a_member_cannot_report_is_a_form_error_and_stores_nothing(alpha, browser, stranger,
                                                                                      session):
    ada = await browser(alpha, "ada")
    await browser(alpha, "bo")
    mine = await publish_post(alpha.db, alpha.config, await _member(alpha, "ada"), "Mine", "public")
    mine_uri = f"{alpha.base}/posts/{mine.uuid}"
    held_uri = await _held_post(alpha, stranger, session, "Held")
    before = await alpha.snapshot()
    csrf = await ada.csrf("/home")
    # Her own post; a post that is not here; a comment too long
    for uri in (mine_uri, "https://elsewhere.example/p/1"):
        status, page = await ada.post("/reports", {"post": uri, "comment": "x"}, csrf=csrf)
        assert status == 404 and NOT_REPORTABLE in text_of(page).lower()
        assert (await ada.get(_report_link(uri)))[0] == 404
    status, page = await ada.post("/reports", {"post": held_uri, "comment": "x" * (MAX_COMMENT + 1)}, csrf=csrf)
    assert status == 400 and "at most" in text_of(page)
    assert await alpha.snapshot() == before
    # And the same report twice is one report
    assert (await ada.post("/reports", {"post": held_uri, "comment": "Rude"}, csrf=csrf))[0] == 200
    status, page = await ada.post("/reports", {"post": held_uri, "comment": "Rude"}, csrf=csrf)
    assert status == 409 and "already" in text_of(page)
    assert await alpha.count("reports") == 1


# Another server's Flag


def _flag(actor: FakeActor, objects, content: str = "Harassment") -> dict:
    return actor.activity("Flag", objects, content=content)


async def test_flag__a_strangers_flag_about_a_members_post_lands_in_the_partners_queue(alpha, stranger, session,
                                                                                      browser):
    pat = await browser(alpha, "pat", "partner")
    await browser(alpha, "ada")
    post = await publish_post(alpha.db, alpha.config, await _member(alpha, "ada"), "Hello world", "public")
    post_uri, ada_uri = f"{alpha.base}/posts/{post.uuid}", f"{alpha.base}/actors/ada"
    # When the stranger's server sends a Flag as Mastodon does (account, then its statuses) to the shared inbox
    flag = _flag(stranger, [ada_uri, post_uri], "<p>Harassment &amp; spam</p>")
    assert (await stranger.post(session, alpha.base + "/inbox", flag))[0] == 202
    await alpha.drain_inbox()
    # Then it is a report from that server about ada and her post, in plain text
    [report] = await _reports(alpha)
    assert report["reporter_host"] == f"{STRANGER}:{stranger.port}" and report["reporter_id"] is None
    assert (report["account"], json.loads(report["posts"])) == (ada_uri, [post_uri])
    assert report["comment"] == "Harassment & spam"
    assert (await _outcome(alpha, flag["id"])).startswith("report ")
    # And the Partners are told and see it, with nothing to forward (it is about one of ours)
    status, queue = await pat.get("/reports")
    assert "Harassment &amp; spam" in queue and STRANGER in text_of(queue)
    assert f"/reports/{report['id']}/forward" not in queue
    assert f'href="/moderation?server={STRANGER}%3A{stranger.port}#block-server"' in queue  # block who sent it
    # And that link opens the block form with the server filled in
    _, moderation = await pat.get(f"/moderation?server={STRANGER}%3A{stranger.port}")
    assert f'id="block-server" name="server" value="{STRANGER}:{stranger.port}"' in moderation
    assert "1 report waits" in text_of((await pat.get("/home"))[1])
    # And nothing went back to the stranger
    assert await alpha.count("deliveries") == 0


async def test_flag__naming_nothing_of_ours_changes_nothing(alpha, stranger, session, browser):
    await browser(alpha, "ada")
    hidden = await publish_post(alpha.db, alpha.config, await _member(alpha, "ada"), "Only us", "members")
    gone = await publish_post(alpha.db, alpha.config, await _member(alpha, "ada"), "Gone", "public")
    await delete_post(alpha.db, alpha.config, await _member(alpha, "ada"), gone.id)
    await deliver_all(alpha)
    before = await alpha.snapshot()
    flags = [
        _flag(stranger, ["https://elsewhere.example/users/x", "https://elsewhere.example/statuses/1"]),
        _flag(stranger, [f"{alpha.base}/posts/{hidden.uuid}"]),  # members-only: no server could have seen it
        _flag(stranger, [f"{alpha.base}/posts/{gone.uuid}"]),
        _flag(stranger, f"{alpha.base}/actors/nobody"),
        _flag(stranger, [{"nested": ["x"]}, 42, None]),
        _flag(stranger, {"id": f"{alpha.base}/posts/00000000-0000-0000-0000-000000000000", "type": "Note"}),
    ]
    for flag in flags:
        assert (await stranger.post(session, alpha.base + "/actors/group/inbox", flag))[0] == 202
    await alpha.drain_inbox()
    after = await alpha.snapshot()
    assert {t for t in after if after[t] != before[t]} <= NOT_EFFECTS
    for flag in flags:
        assert await _outcome(alpha, flag["id"]) == "ignored: the Flag names nothing of ours"


async def test_flag__a_strangers_open_reports_are_bounded(alpha, stranger, session, browser):
    pat = await browser(alpha, "pat", "partner")
    post = await publish_post(alpha.db, alpha.config, await _member(alpha, "pat"), "Hello", "public")
    post_uri = f"{alpha.base}/posts/{post.uuid}"
    # When a stranger sends more Flags than one server may have open
    flags = [_flag(stranger, [post_uri], "x" * 5000) for _ in range(MAX_OPEN_PER_HOST + 5)]
    for flag in flags:
        assert (await stranger.post(session, alpha.base + "/inbox", flag))[0] == 202
    await alpha.drain_inbox()
    # Then the queue holds only the bound, each comment cut to its limit, and the rest are recorded as refused
    reports = await _reports(alpha)
    assert len(reports) == MAX_OPEN_PER_HOST
    assert all(len(r["comment"]) == MAX_COMMENT for r in reports)
    for flag in flags[MAX_OPEN_PER_HOST:]:
        assert "open reports already" in await _outcome(alpha, flag["id"])
    # And (the reports are about pat, so another Partner) closing one makes room for one more
    quinn = await browser(alpha, "quinn", "partner")
    assert (await quinn.post(f"/reports/{reports[0]['id']}/close", {"state": "dismissed", "note": "flood"},
                             page="/reports"))[0] == 200
    more = [_flag(stranger, [post_uri]) for _ in range(2)]
    for flag in more:
        assert (await stranger.post(session, alpha.base + "/inbox", flag))[0] == 202
    await alpha.drain_inbox()
    assert await alpha.count("reports", "state = 'open'") == MAX_OPEN_PER_HOST
    assert "open reports already" in await _outcome(alpha, more[1]["id"])
    # And pat, whom they are about, was never shown one
    assert "No open reports." in text_of((await pat.get("/reports"))[1])


class _Controls(HTMLParser):
    """Form controls and the ids labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str | None] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(found["for"])
        elif tag in ("input", "textarea", "select") and found.get("type") not in ("hidden", "submit"):
            self.controls.append(found.get("id"))


async def test_reports__every_field_of_the_report_pages_has_a_label(alpha, browser, stranger, session):
    await browser(alpha, "pat", "partner")
    ada = await browser(alpha, "ada")
    post = await publish_post(alpha.db, alpha.config, await _member(alpha, "pat"), "Hello", "public")
    post_uri = f"{alpha.base}/posts/{post.uuid}"
    await stranger.post(session, alpha.base + "/inbox", _flag(stranger, [post_uri]))
    await alpha.drain_inbox()
    held_uri = await _held_post(alpha, stranger, session, "Held")
    quinn = await browser(alpha, "quinn", "partner")
    for visitor, path in ((ada, _report_link(held_uri)), (quinn, "/reports")):
        status, page = await visitor.get(path)
        controls = _Controls()
        controls.feed(page)
        assert status == 200 and controls.controls, path
        assert all(c is not None and c in controls.labelled for c in controls.controls), (path, controls.controls)


async def test_reports__from_the_command_line(alpha, browser, stranger, session, capsys):
    # Given a public post from another server held here, a stranger's Flag about a Partner's post, and two Partners
    await browser(alpha, "ada")
    await browser(alpha, "pat", "partner")
    await browser(alpha, "quinn", "partner")
    post_uri, data = await _held_post(alpha, stranger, session, "Hello"), str(alpha.config.data_dir)
    pats = await publish_post(alpha.db, alpha.config, await _member(alpha, "pat"), "Mine", "public")
    pats_uri = f"{alpha.base}/posts/{pats.uuid}"
    assert (await stranger.post(session, alpha.base + "/inbox", _flag(stranger, [pats_uri], "About pat")))[0] == 202
    await alpha.drain_inbox()
    # When ada reports the held post with `congregation report`
    assert await run_cli("report", post_uri, "Too", "loud", "--as", "ada", "--data", data) == 0
    assert "report 2 is with the Partners" in capsys.readouterr().out
    # Then quinn's queue lists both, pat's only the one not about pat; a Friend has no queue
    assert await run_cli("reports", "--as", "quinn", "--data", data) == 0
    out = capsys.readouterr().out
    assert f"{post_uri}\tToo loud" in out and "About pat" in out
    assert await run_cli("reports", "--as", "pat", "--data", data) == 0
    out = capsys.readouterr().out
    assert f"{post_uri}\tToo loud" in out and "About pat" not in out
    assert await run_cli("reports", "--as", "ada", "--data", data) == 1
    assert capsys.readouterr().err == "congregation: only Partners handle reports\n"
    # And what cannot be reported is one line and exit 1, with nothing stored
    before = await alpha.snapshot()
    for uri in (f"{alpha.base}/posts/nope", "https://elsewhere.example/p/1"):
        assert await run_cli("report", uri, "--as", "ada", "--data", data) == 1
        assert capsys.readouterr().err == f"congregation: {NOT_REPORTABLE}\n"
    assert await alpha.snapshot() == before


async def test_flag__a_wildcard_domains_many_names_share_one_bound(alpha, dns, session, browser):
    await browser(alpha, "pat", "partner")
    # Given a post, and accounts on more names under one registrable domain than one server may have open reports
    post = await publish_post(alpha.db, alpha.config, await _member(alpha, "pat"), "Hello", "public")
    post_uri = f"{alpha.base}/posts/{post.uuid}"
    actors = []
    for n in range(MAX_OPEN_PER_HOST + 2):
        actor = await NamedActor(name="mod", host=f"n{n}.flood.example").start()
        dns.add(actor.host, actor.port)
        actors.append(actor)
    try:
        # When each name sends one Flag
        flags = [_flag(actor, [post_uri]) for actor in actors]
        for actor, flag in zip(actors, flags, strict=True):
            assert (await actor.post(session, alpha.base + "/inbox", flag))[0] == 202
        await alpha.drain_inbox()
    finally:
        for actor in actors:
            await actor.close()
    # Then the domain holds the bound of one server, however many names it hands out
    # (the worker takes different actors side by side: which two are refused is not fixed, that two are is)
    assert await alpha.count("reports", "state = 'open'") == MAX_OPEN_PER_HOST
    outcomes = [await _outcome(alpha, flag["id"]) for flag in flags]
    assert sum("flood.example has 10 open reports already" in o for o in outcomes) == 2, outcomes
