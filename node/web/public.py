"""Pages anyone may read: the Congregation's page, members' profiles, a post, and the Atom feed."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from node.activitypub.as2.documents import actor_id
from node.appkeys import CONFIG, DB, TEMPLATES
from node.store import crews as crews_store
from node.store import local_actors, timeline
from node.store import posts as posts_store
from node.web.auth import member
from node.web.render import render
from node.web.timeline import before, excerpt, items, page

routes = web.RouteTableDef()
FEED_SIZE = 20
# XML 1.0 forbids these even when escaped; a typed post may carry one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _html_headers(request: web.Request, response: web.Response) -> web.Response:
    """The same URL answers AS2 to servers; a signed-in member's page (members-only posts, their CSRF token) is
    nobody else's to cache."""
    response.headers["Vary"] = "Accept, Cookie"
    if member(request) is not None:
        response.headers["Cache-Control"] = "private, no-store"
    return response


async def actor_view(request: web.Request) -> web.Response:
    """The HTML of /actors/{username}: the Congregation's public page for the Group, else a member's profile."""
    db, config = request.app[DB], request.app[CONFIG]
    actor = await local_actors.by_username(db, request.match_info["username"])
    if actor is None or actor.username != request.match_info["username"]:
        raise web.HTTPNotFound(text="no such actor")
    me = member(request)
    uri = actor_id(config, actor.username)
    cursor = before(request)
    if actor.kind == "Group":
        entries = await timeline.public_posts(db, config.page_size + 1, cursor)
    else:
        entries = await timeline.by_author(db, actor.id, config.page_size + 1, cursor, members_too=me is not None)
    shown, older = page(entries, config.page_size)
    facts = await timeline.facts(db, actor.id, uri)
    values: dict[str, Any] = {"followers": facts.followers, "following": facts.following}
    if actor.kind == "Group":
        values.update(name=config.name, summary=config.summary, members=facts.members, joined=None, avatar=None,
                      timeline_heading="Public posts", timeline_empty=f"{config.name} has no public posts yet.")
    else:
        values.update(name=actor.display_name, summary=actor.summary, members=None, joined=facts.joined_at,
                      avatar=f"/actors/{actor.username}/avatar" if facts.has_avatar else None,
                      timeline_heading="Posts" if me is not None else "Public posts",
                      timeline_empty=f"{actor.display_name} has not posted yet.")
    response = await render(
        request, "profile.html", actor=actor, actor_url=uri,
        items=await items(request, shown, me.id if me else None), older=older, newer=cursor is not None,
        timeline_path=f"/actors/{actor.username}", **values)
    return _html_headers(request, response)


async def post_view(request: web.Request) -> web.Response:
    """The HTML of /posts/{uuid}: a person following a link from Mastodon (the post's `url` is its id) gets a page."""
    db = request.app[DB]
    post = await posts_store.by_uuid(db, request.match_info["uuid"])
    # Browsers carry no member signature: a members-only post is shown to a member signed in here, and is no
    # more than "not found" to anyone else, deleted or not.
    me = member(request)
    if post is None or (post.visibility != "public" and me is None):
        raise web.HTTPNotFound(text="no such post")
    if post.visibility == "crew" and not await crews_store.is_member(db, post.crew_id, me.id):
        raise web.HTTPNotFound(text="no such post")
    if post.deleted_at is not None:
        raise web.HTTPGone(text="this post was deleted")
    entry = timeline.Entry(timeline.LOCAL, post.id, post.published, post.uuid, post.author_id, None, post.visibility,
                           post.content, None, post.published, post.updated, None, crew_id=post.crew_id)
    [item] = await items(request, [entry], me.id if me else None)
    response = await render(request, "post.html", item=item, excerpt=excerpt(post.content))
    return _html_headers(request, response)


def _stamp(iso: str) -> str:
    """RFC 3339 in UTC: stored times already are ("…T09:30:50.123456Z"); anything else is cut to the second."""
    return iso if iso.endswith("Z") else iso[:19] + "Z"


@routes.get("/feed.atom")
async def feed(request: web.Request) -> web.Response:
    """The Congregation's public posts as Atom 1.0 (RFC 4287): the newest FEED_SIZE, never members-only."""
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    entries = await timeline.public_posts(db, FEED_SIZE)
    shown = await items(request, entries)
    rows = [{
        "url": item.url, "title": _NOT_XML.sub("", excerpt(entry.content)) or "(no text)",
        "published": _stamp(entry.published), "updated": _stamp(entry.updated or entry.published),
        "author_name": _NOT_XML.sub("", item.author_name), "author_url": config.base_url + item.author_url,
        "content": _NOT_XML.sub("", entry.content),
    } for entry, item in zip(entries, shown, strict=True)]
    updated = max((row["updated"] for row in rows), default=_stamp(group.created_at))
    body = request.app[TEMPLATES].get_template("feed.atom").render(
        config=config, group_url=actor_id(config, group.username), updated=updated, entries=rows)
    return web.Response(text=body, content_type="application/atom+xml", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
