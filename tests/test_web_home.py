"""The home timeline: writing, editing and deleting posts in the browser, form errors, CSRF, paging."""

from __future__ import annotations

import re
from html import unescape

from node.db import transaction
from node.governance.posts import MAX_SOURCE
from node.processing.posts import publish_post
from node.store import local_actors, remote_objects
from node.store.remote_objects import RemoteObject
from tests.webclient import Visitor, make_member, text_of

OLDER_RE = re.compile(r'href="(/home\?before=[^"]+)"')


async def _post(visitor: Visitor, text: str, visibility: str = "members") -> tuple[int, str]:
    return await visitor.post("/posts", {"text": text, "visibility": visibility}, page="/home")


async def _uuid(node, text: str) -> str:
    async with node.db.execute("SELECT uuid FROM posts WHERE source = ?", (text,)) as cur:
        return (await cur.fetchone())[0]


async def test_compose__members_only_and_public_show_newest_first_with_badges(node, signed_in):
    # Given a signed-in member
    ada = await signed_in("ada")
    # When she posts for members, then for everyone
    status, _ = await _post(ada, "Soup at mine on Friday", "members")
    assert status == 200
    status, page = await _post(ada, "Garden open day on Sunday", "public")
    # Then both are on her timeline, newest first, each with its badge and her own Edit and Delete
    assert status == 200
    text = text_of(page)
    assert text.index("Garden open day on Sunday") < text.index("Soup at mine on Friday")
    assert "Members only" in text and "Public" in text and "Ada @ada@" in text
    assert page.count(">Edit<") == 2 and page.count(">Delete<") == 2
    assert await node.count("posts", "visibility = 'members'") == 1
    assert await node.count("posts", "visibility = 'public'") == 1


async def test_compose__members_only_is_the_default_choice(node, signed_in):
    ada = await signed_in("ada")
    _, page = await ada.get("/home")
    assert re.search(r'value="members"\s+aria-describedby="[^"]+" checked', page)
    assert not re.search(r'value="public"\s+aria-describedby="[^"]+" checked', page)


async def test_compose__empty_post_is_a_form_error_and_nothing_is_stored(node, signed_in):
    ada = await signed_in("ada")
    status, page = await _post(ada, "   \n  ", "public")
    assert status == 400 and 'role="alert"' in page and "A post needs some text." in text_of(page)
    assert await node.count("posts") == 0
    # And the visibility chosen is kept
    assert re.search(r'value="public"\s+aria-describedby="[^"]+" checked', page)


async def test_compose__too_long_post_is_refused_and_the_text_is_kept(node, signed_in):
    ada = await signed_in("ada")
    typed = "word " * (MAX_SOURCE // 5) + "x"
    status, page = await _post(ada, typed, "members")
    assert status == 400 and f"at most {MAX_SOURCE} characters" in text_of(page)
    assert typed.strip() in unescape(page)
    assert await node.count("posts") == 0 and await node.count("deliveries") == 0


async def test_compose__unknown_visibility_is_a_form_error(node, signed_in):
    ada = await signed_in("ada")
    status, page = await _post(ada, "Hello", "everyone")
    assert status == 400 and "Choose who can see the post." in text_of(page) and ">Hello</textarea>" in page
    assert await node.count("posts") == 0


async def test_compose__wrong_csrf_is_403_and_nothing_is_stored(node, signed_in):
    ada = await signed_in("ada")
    status, _ = await ada.post("/posts", {"text": "forged", "visibility": "public"}, csrf="forged")
    assert status == 403 and await node.count("posts") == 0


async def test_compose__signed_out_is_sent_to_sign_in_and_cannot_post(node):
    visitor = Visitor(node)
    try:
        status, page = await visitor.get("/home")
        assert status == 200 and "<h1>Sign in</h1>" in page
        status, _ = await visitor.post("/posts", {"text": "hi", "visibility": "public"}, page="/login")
        assert status == 403 and await node.count("posts") == 0
    finally:
        await visitor.close()


async def test_edit__own_post_is_changed_and_shown(node, signed_in):
    ada = await signed_in("ada")
    await _post(ada, "Soup on Friday", "public")
    uuid = await _uuid(node, "Soup on Friday")
    status, form = await ada.get(f"/posts/{uuid}/edit")
    assert status == 200 and ">Soup on Friday</textarea>" in form
    status, page = await ada.post(f"/posts/{uuid}/edit", {"text": "Soup on Saturday"})
    assert status == 200 and "Soup on Saturday" in text_of(page) and "edited" in text_of(page)
    assert await node.count("posts", "source = 'Soup on Saturday'") == 1


async def test_edit__empty_text_is_a_form_error_and_the_post_is_unchanged(node, signed_in):
    ada = await signed_in("ada")
    await _post(ada, "Soup on Friday")
    uuid = await _uuid(node, "Soup on Friday")
    status, page = await ada.post(f"/posts/{uuid}/edit", {"text": " "})
    assert status == 400 and 'role="alert"' in page and "A post needs some text." in text_of(page)
    assert await node.count("posts", "source = 'Soup on Friday' AND updated IS NULL") == 1


async def test_edit__wrong_csrf_is_403_and_the_post_is_unchanged(node, signed_in):
    ada = await signed_in("ada")
    await _post(ada, "Soup on Friday")
    uuid = await _uuid(node, "Soup on Friday")
    status, _ = await ada.post(f"/posts/{uuid}/edit", {"text": "forged"}, csrf="forged")
    assert status == 403 and await node.count("posts", "source = 'Soup on Friday' AND updated IS NULL") == 1


async def test_edit__someone_elses_post_is_403(node, signed_in):
    ada, bob = await signed_in("ada"), await signed_in("bob", "partner")
    await _post(ada, "Soup on Friday")
    uuid = await _uuid(node, "Soup on Friday")
    assert (await bob.get(f"/posts/{uuid}/edit"))[0] == 403
    status, _ = await bob.post(f"/posts/{uuid}/edit", {"text": "Bob was here"}, page="/home")
    assert status == 403
    status, _ = await bob.post(f"/posts/{uuid}/delete", {}, page="/home")
    assert status == 403
    assert await node.count("posts", "source = 'Soup on Friday' AND deleted_at IS NULL") == 1
    # And no Edit or Delete is offered to him
    _, page = await bob.get("/home")
    assert "Soup on Friday" in page and f"/posts/{uuid}/edit" not in page


async def test_edit__unknown_post_is_404(node, signed_in):
    ada = await signed_in("ada")
    assert (await ada.get("/posts/00000000-0000-0000-0000-000000000000/edit"))[0] == 404


async def test_delete__gone_from_the_timeline_and_410_on_its_page(node, signed_in):
    ada = await signed_in("ada")
    await _post(ada, "Soup on Friday", "public")
    uuid = await _uuid(node, "Soup on Friday")
    status, page = await ada.post(f"/posts/{uuid}/delete", {}, page="/home")
    assert status == 200 and "Soup on Friday" not in page
    assert (await ada.get(f"/posts/{uuid}"))[0] == 410
    assert (await ada.get(f"/posts/{uuid}/edit"))[0] == 410
    assert (await ada.post(f"/posts/{uuid}/delete", {}, page="/home"))[0] == 410


async def test_delete__wrong_csrf_is_403_and_the_post_stays(node, signed_in):
    ada = await signed_in("ada")
    await _post(ada, "Soup on Friday")
    uuid = await _uuid(node, "Soup on Friday")
    status, _ = await ada.post(f"/posts/{uuid}/delete", {}, csrf="forged")
    assert status == 403 and await node.count("posts", "deleted_at IS NULL") == 1


async def _remote_note(node, n: int) -> None:
    note = RemoteObject(f"https://elsewhere.example/notes/{n}", "Note", "https://elsewhere.example/users/kim",
                        f"<p>remote {n}</p>", None, None, None, None, True, None, None)
    async with transaction(node.db):
        await remote_objects.insert(node.db, note, "{}")


async def _walk(visitor: Visitor) -> list[list[str]]:
    """Every page of /home by its "Older posts" link: the post texts on each."""
    pages, path = [], "/home"
    while path:
        status, page = await visitor.get(path)
        assert status == 200
        pages.append(re.findall(r"<p>((?:local|remote) \d+)</p>", page))
        match = OLDER_RE.search(page)
        path = unescape(match.group(1)) if match else None
    return pages


async def test_home__pages_walk_every_local_and_remote_post_once_newest_first(make_node):
    # Given 7 local posts and 5 public remote notes, interleaved in time, and pages of 4
    node = await make_node("alpha", page_size=4)
    await make_member(node, "ada")
    ada_actor = await local_actors.by_username(node.db, "ada")
    expected = []
    for n in range(12):
        if n % 5 in (1, 3):
            await _remote_note(node, n)
            expected.append(f"remote {n}")
        else:
            await publish_post(node.db, node.config, ada_actor, f"local {n}", "members" if n % 2 else "public")
            expected.append(f"local {n}")
    visitor = Visitor(node)
    try:
        await visitor.sign_in("ada")
        # When she follows "Older posts" to the end
        pages = await _walk(visitor)
    finally:
        await visitor.close()
    # Then she saw every post once, newest first, four at a time
    assert [len(p) for p in pages] == [4, 4, 4]
    assert [t for p in pages for t in p] == expected[::-1]


async def test_home__equal_times_still_page_without_gaps_or_repeats(make_node):
    # Given local and remote entries that share timestamps (a bulk import, a coarse clock)
    node = await make_node("alpha", page_size=3)
    await make_member(node, "ada")
    ada_actor = await local_actors.by_username(node.db, "ada")
    for n in range(5):
        await publish_post(node.db, node.config, ada_actor, f"local {n}", "members")
        await _remote_note(node, n)
    async with transaction(node.db):
        await node.db.execute("UPDATE posts SET published = '2026-01-01T00:00:00.000000Z' WHERE id % 2 = 1")
        await node.db.execute("UPDATE remote_objects SET received_at = '2026-01-01T00:00:00.000000Z'")
    visitor = Visitor(node)
    try:
        await visitor.sign_in("ada")
        pages = await _walk(visitor)
    finally:
        await visitor.close()
    seen = [t for p in pages for t in p]
    assert sorted(seen) == sorted([f"local {n}" for n in range(5)] + [f"remote {n}" for n in range(5)])
    assert len(seen) == len(set(seen)) == 10


async def test_home__a_malformed_page_link_is_400_not_500(node, signed_in):
    ada = await signed_in("ada")
    for cursor in ("yesterday", "2026-01-01T00:00:00Z~x1", "2026-01-01T00:00:00Z~p" + "9" * 30,
                   "2026-01-01T00:00:00Z~p1%0A", "٢٠٢٦-01-01T00:00:00Z~p1"):
        status, page = await ada.get(f"/home?before={cursor}")
        assert status == 400 and 'role="alert"' in page


async def test_home__remote_note_from_an_actor_the_group_follows_is_badged_followed(node, signed_in):
    await _remote_note(node, 1)
    ada = await signed_in("ada")
    _, page = await ada.get("/home")
    text = text_of(page)
    assert "remote 1" in text and "Followed" in text and "@kim@elsewhere.example" in text
    assert "Sibling" not in text
