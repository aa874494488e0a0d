"""Who sees what: a signed-out visitor sees only public pages; a member of another node cannot read members-only
pages or objects; public posts reach a sibling Congregation's members."""

from __future__ import annotations

import pytest

from node.activitypub import signatures
from node.activitypub.as2.documents import key_id
from node.governance.siblings import siblings
from node.store import local_actors, timeline
from tests.factories import become_siblings, exchange, get_as
from tests.fediverse import AS_JSON
from tests.webclient import Visitor, make_member, text_of

SECRET = "The key is under the mat"
PUBLIC = "Garden open day on Sunday, all welcome"


@pytest.fixture
async def world(make_node):
    """Alpha and Beta are siblings; Alpha has members Ada and Bob, Beta has Bea; each has a browser."""
    alpha, beta = await make_node("alpha"), await make_node("beta")
    await become_siblings(alpha, beta)
    for node, handle in ((alpha, "ada"), (alpha, "bob"), (beta, "bea")):
        await make_member(node, handle)
    browsers = {handle: Visitor(node) for node, handle in ((alpha, "ada"), (alpha, "bob"), (beta, "bea"))}
    for handle, browser in browsers.items():
        assert (await browser.sign_in(handle))[0] == 200
    browsers["anon"] = Visitor(alpha)
    yield alpha, beta, browsers
    for browser in browsers.values():
        await browser.close()


async def _post(browser: Visitor, text: str, visibility: str) -> str:
    status, _ = await browser.post("/posts", {"text": text, "visibility": visibility}, page="/home")
    assert status == 200
    async with browser.node.db.execute("SELECT uuid FROM posts WHERE source = ?", (text,)) as cur:
        return (await cur.fetchone())[0]


def _no_trace(page: str, uuid: str) -> bool:
    return "under the mat" not in page and uuid not in page and "badge-members" not in page


async def test_visibility__members_only_post_is_seen_by_members_here_and_by_no_one_else(world, session, remote):
    alpha, beta, browsers = world
    ada, bob, bea, anon = browsers["ada"], browsers["bob"], browsers["bea"], browsers["anon"]
    # Given Ada posts for members only
    uuid = await _post(ada, SECRET, "members")
    await exchange(alpha, beta)

    # Then Bob, a member of the same Congregation, sees it on his home, on her profile and on its page
    for path in ("/home", "/actors/ada", f"/posts/{uuid}"):
        status, page = await bob.get(path)
        assert status == 200 and SECRET in text_of(page) and "Members only" in text_of(page), path

    # And a signed-out visitor finds no trace of it anywhere
    for path in ("/actors/group", "/actors/ada", "/feed.atom", "/"):
        status, page = await anon.get(path)
        assert status == 200 and _no_trace(page, uuid), path
    status, page = await anon.get(f"/posts/{uuid}")
    assert status == 404 and _no_trace(page, uuid)
    status, page = await anon.get("/home")
    assert status == 200 and "<h1>Sign in</h1>" in page and _no_trace(page, uuid)

    # And the sibling Congregation never received it
    assert await beta.count("remote_objects") == 0
    assert await beta.count("inbox", "body LIKE ?", "%under the mat%") == 0
    assert await alpha.count("deliveries", "body LIKE ?", "%under the mat%") == 0
    status, page = await bea.get("/home")
    assert status == 200 and _no_trace(page, uuid)

    # And a fetch of the post signed by the sibling's Group, or by a stranger, is a 404 like any other
    url = f"{alpha.base}/posts/{uuid}"
    group = await local_actors.group(beta.db)
    headers = signatures.sign("GET", url, key_id(beta.config, group.username),
                              signatures.load_private_key(group.private_key_pem))
    async with session.get(url, headers={"Accept": AS_JSON, **headers}) as r:
        assert r.status == 404 and "under the mat" not in await r.text()
    status, document = await get_as(session, url, remote)
    assert status == 404 and "under the mat" not in str(document)

    # And the sibling's member, in her browser, cannot read it on Alpha either (her session is Beta's)
    for path in (f"/posts/{uuid}", "/actors/ada", "/actors/group", "/home"):
        async with bea.session.get(alpha.base + path) as r:
            page = await r.text()
            assert r.status in (200, 404) and _no_trace(page, uuid), path
            assert path != f"/posts/{uuid}" or r.status == 404


async def test_visibility__public_post_reaches_the_siblings_members_badged_sibling(world):
    alpha, beta, browsers = world
    ada, bea, anon = browsers["ada"], browsers["bea"], browsers["anon"]
    # Given Ada posts for members and then for everyone
    secret = await _post(ada, SECRET, "members")
    public = await _post(ada, PUBLIC, "public")
    # When the Congregations exchange what is due
    await exchange(alpha, beta)
    # Then the public post is stored by Beta, and Bea sees it on her home timeline, from a sibling (the page's
    # one-query rule for siblings agrees with governance's)
    governed = {s.uri for s in await siblings(beta.db, beta.group_id)}
    assert await timeline.sibling_uris(beta.db, beta.group_id) == governed == {alpha.group_id}
    assert await beta.count("remote_objects", "uri = ?", f"{alpha.base}/posts/{public}") == 1
    status, page = await bea.get("/home")
    text = text_of(page)
    assert status == 200 and PUBLIC in text and "badge-sibling" in page and "Followed" not in text
    assert f"@ada@{alpha.config.host}" in text
    assert _no_trace(page, secret)
    # And a signed-out visitor sees the public post on Alpha's pages and feed
    for path in ("/actors/group", "/actors/ada", "/feed.atom", f"/posts/{public}"):
        status, page = await anon.get(path)
        assert status == 200 and "Garden open day" in page and _no_trace(page, secret), path


async def test_visibility__a_sibling_members_post_shows_her_name_not_a_guess_from_her_url(world):
    alpha, beta, browsers = world
    # Given Ada, whose display name is not her handle, posts for everyone
    ada = await local_actors.by_username(alpha.db, "ada")
    await local_actors.set_profile(alpha.db, ada.id, "Ada Lovelace", "")
    await alpha.db.commit()
    await _post(browsers["ada"], PUBLIC, "public")
    # When it reaches Beta through Alpha's Announce (signed by the Group, not by her)
    await exchange(alpha, beta)
    # Then Beta has met her (her actor is fetched once) and Bea sees her name
    assert await beta.count("remote_actors", "uri = ?", f"{alpha.base}/actors/ada") == 1
    status, page = await browsers["bea"].get("/home")
    assert status == 200 and "Ada Lovelace" in text_of(page)
