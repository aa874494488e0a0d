"""The Atom feed of the Congregation's public posts (RFC 4287), read as a feed reader would."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from node.processing.posts import delete_post, edit_post, publish_post
from node.store import local_actors
from tests.webclient import make_member

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


async def _feed(session, node) -> tuple[str, ET.Element]:
    async with session.get(f"{node.base}/feed.atom") as r:
        assert r.status == 200
        return r.headers["Content-Type"], ET.fromstring(await r.read())


async def test_feed__public_posts_newest_first_with_ids_and_no_members_only(node, session):
    # Given a member who posts publicly and for members, and edits one public post
    await make_member(node, "ada", display_name="Ada Lovelace")
    ada = await local_actors.by_username(node.db, "ada")
    public = [await publish_post(node.db, node.config, ada, f"public <{n}> &", "public") for n in range(3)]
    await publish_post(node.db, node.config, ada, "The key is under the mat", "members")
    await edit_post(node.db, node.config, ada, public[0].id, "public <0> edited")
    # When a feed reader fetches the feed
    content_type, feed = await _feed(session, node)
    # Then it is Atom, about the Congregation
    assert content_type == "application/atom+xml; charset=utf-8"
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == node.group_id and feed.findtext(f"{ATOM}title") == "Alpha"
    assert RFC3339.match(feed.findtext(f"{ATOM}updated"))
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links == {"self": f"{node.base}/feed.atom", "alternate": node.group_id}
    # And its entries are the public posts, newest first, each with its URL as id
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"{node.base}/posts/{p.uuid}" for p in public[::-1]]
    for entry in entries:
        assert entry.find(f"{ATOM}link").get("href") == entry.findtext(f"{ATOM}id")
        assert entry.find(f"{ATOM}content").get("type") == "html"
        assert entry.findtext(f"{ATOM}author/{ATOM}name") == "Ada Lovelace"
        assert RFC3339.match(entry.findtext(f"{ATOM}published")) and RFC3339.match(entry.findtext(f"{ATOM}updated"))
    # The content is the post's HTML, escaped once, and the title a plain excerpt
    newest = entries[0]
    assert newest.findtext(f"{ATOM}content") == "<p>public &lt;2&gt; &amp;</p>"
    assert newest.findtext(f"{ATOM}title") == "public <2> &"
    assert entries[-1].findtext(f"{ATOM}title") == "public <0> edited"
    assert entries[-1].findtext(f"{ATOM}updated") > entries[-1].findtext(f"{ATOM}published")
    # And nothing members-only is in it
    async with session.get(f"{node.base}/feed.atom") as r:
        assert "under the mat" not in await r.text()


async def test_feed__twenty_newest_and_no_deleted_posts(node, session):
    await make_member(node, "ada")
    ada = await local_actors.by_username(node.db, "ada")
    posts = [await publish_post(node.db, node.config, ada, f"post {n}", "public") for n in range(23)]
    await delete_post(node.db, node.config, ada, posts[-1].id)
    _, feed = await _feed(session, node)
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert ids == [f"{node.base}/posts/{p.uuid}" for p in posts[-2:-22:-1]]


async def test_feed__empty_is_still_a_valid_feed(node, session):
    _, feed = await _feed(session, node)
    assert feed.findall(f"{ATOM}entry") == [] and RFC3339.match(feed.findtext(f"{ATOM}updated"))


async def test_feed__control_characters_in_a_post_do_not_break_the_xml(node, session):
    await make_member(node, "ada")
    ada = await local_actors.by_username(node.db, "ada")
    await publish_post(node.db, node.config, ada, "bell \x07 and form feed \x0c here", "public")
    _, feed = await _feed(session, node)
    assert "bell" in feed.find(f"{ATOM}entry").findtext(f"{ATOM}content")
