"""Pages anyone may read: the Congregation's public page, members' profiles, a post's page."""

from __future__ import annotations

import re

from node.db import transaction
from node.governance.membership import remove
from node.processing.posts import publish_post
from node.store import accounts, local_actors
from tests.webclient import Visitor, make_member, text_of

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


async def _page(session, url: str) -> tuple[int, dict, str]:
    async with session.get(url, headers=BROWSER) as r:
        return r.status, dict(r.headers), await r.text()


async def _actor(node, handle: str):
    return await local_actors.by_username(node.db, handle)


async def test_group_page__name_summary_counts_public_posts_and_how_to_follow(make_node, session):
    # Given a Congregation with a summary, two members, and a public and a members-only post
    node = await make_node("alpha", summary="Neighbours on Elm Street.")
    await make_member(node, "ada")
    await make_member(node, "bob")
    ada = await _actor(node, "ada")
    await publish_post(node.db, node.config, ada, "Garden open day on Sunday", "public")
    await publish_post(node.db, node.config, ada, "The key is under the mat", "members")
    # When a signed-out visitor opens its page
    status, headers, page = await _page(session, node.group_id)
    # Then it is the public page, in the site's frame
    text = text_of(page)
    assert status == 200 and headers["Content-Type"].startswith("text/html") and "Accept" in headers["Vary"]
    assert "<h1" in page and "Alpha" in text and "Neighbours on Elm Street." in text
    assert re.search(r"Members\s*</dt><dd>2</dd>", page) and re.search(r"Followers</dt><dd>0</dd>", page)
    assert f"@group@{node.config.host}" in text and "Follow from your server" in text
    assert "Garden open day on Sunday" in text and "under the mat" not in page
    assert f'<link rel="alternate" type="application/activity+json" href="{node.group_id}">' in page
    assert f'type="application/atom+xml" href="{node.base}/feed.atom"' in page and 'href="/feed.atom"' in page


async def test_group_page__pages_of_public_posts(make_node, session):
    node = await make_node("alpha", page_size=2)
    await make_member(node, "ada")
    ada = await _actor(node, "ada")
    for n in range(5):
        await publish_post(node.db, node.config, ada, f"public {n}", "public")
        await publish_post(node.db, node.config, ada, f"members {n}", "members")
    seen, url = [], node.group_id
    while url:
        status, _, page = await _page(session, url)
        assert status == 200 and "members " not in text_of(page)
        seen += re.findall(r"<p>(public \d)</p>", page)
        older = re.search(r'href="(/actors/group\?before=[^"]+)"', page)
        url = node.base + older.group(1).replace("&amp;", "&") if older else None
    assert seen == [f"public {n}" for n in range(4, -1, -1)]


async def test_group_page__posts_by_the_group_show_the_congregations_name(node, session):
    group = await local_actors.group(node.db)
    await publish_post(node.db, node.config, group, "Meeting on the first Monday", "public")
    _, _, page = await _page(session, node.group_id)
    assert re.search(r"<strong>Alpha</strong></a>\s*<span class=\"meta\">@group@", page)


async def test_profile__signed_out_sees_who_and_public_posts_only(node, session):
    # Given a member with a bio, an avatar, and posts of both kinds
    await make_member(node, "ada", "partner", display_name="Ada Lovelace")
    ada = await _actor(node, "ada")
    async with transaction(node.db):
        await local_actors.set_profile(node.db, ada.id, "Ada Lovelace", "Bakes <bread>\non Fridays.")
        await accounts.set_avatar(node.db, ada.id, "image/png", b"\x89PNG")
    await publish_post(node.db, node.config, ada, "Garden open day on Sunday", "public")
    await publish_post(node.db, node.config, ada, "The key is under the mat", "members")
    # When a signed-out visitor opens her profile
    status, _, page = await _page(session, f"{node.base}/actors/ada")
    # Then: name, handle, tier, bio (escaped), joined, avatar, and her public post only
    text = text_of(page)
    assert status == 200 and "Ada Lovelace" in text and f"@ada@{node.config.host}" in text and "Partner" in text
    assert "Bakes &lt;bread&gt;" in page and "Joined" in text
    assert 'src="/actors/ada/avatar"' in page
    assert "Garden open day on Sunday" in text and "under the mat" not in page and "Members only" not in text


async def test_profile__a_signed_in_member_also_sees_members_only_posts_badged(node):
    await make_member(node, "ada")
    await make_member(node, "bob")
    ada = await _actor(node, "ada")
    await publish_post(node.db, node.config, ada, "The key is under the mat", "members")
    bob = Visitor(node)
    try:
        await bob.sign_in("bob")
        status, page = await bob.get("/actors/ada")
    finally:
        await bob.close()
    assert status == 200 and "The key is under the mat" in text_of(page) and "Members only" in text_of(page)


async def test_profile__no_avatar_no_img_and_a_former_member_says_so(node, session):
    await make_member(node, "ada", "partner")
    await make_member(node, "bob")
    await remove(node.db, "bob", None, "moved away")
    status, _, page = await _page(session, f"{node.base}/actors/bob")
    assert status == 200 and "no longer a member" in text_of(page) and "/avatar" not in page


async def test_profile__unknown_actor_is_404(node, session):
    status, _, page = await _page(session, f"{node.base}/actors/nobody")
    assert status == 404


async def test_post_page__public_post_in_the_site_frame(node, session):
    await make_member(node, "ada", display_name="Ada Lovelace")
    post = await publish_post(node.db, node.config, await _actor(node, "ada"), "Soup on Friday", "public")
    url = f"{node.base}/posts/{post.uuid}"
    status, headers, page = await _page(session, url)
    assert status == 200 and 'class="site"' in page and "Post by Ada Lovelace" in text_of(page)
    assert f'<link rel="alternate" type="application/activity+json" href="{url}">' in page
    assert "<title>Ada Lovelace: Soup on Friday · Alpha</title>" in page and "Accept" in headers["Vary"]

