"""GET of posts (Note, its Create) and the Group's members collection; members-only needs a member's signature."""

from __future__ import annotations

from aiohttp import web

from node.activitypub.actors import as_response, require_fetch_signature, signed_fetcher
from node.activitypub.as2 import notes
from node.activitypub.as2.documents import actor_id, collection_page, local_username
from node.appkeys import CONFIG, DB
from node.store import local_actors, outbox
from node.store import posts as posts_store
from node.store.posts import Post

routes = web.RouteTableDef()


async def _is_member_request(request: web.Request) -> bool:
    """True when the request is signed by one of this node's members (or its Group)."""
    signer = await signed_fetcher(request)
    if signer is None:
        return False
    username = local_username(request.app[CONFIG], signer.key_owner)
    actor = await local_actors.by_username(request.app[DB], username) if username else None
    return actor is not None and (actor.kind == "Group" or actor.tier is not None)


async def _visible_post(request: web.Request) -> Post:
    """The post, or 404 for a members-only post and anyone but a member, and for every crew post."""
    post = await posts_store.by_uuid(request.app[DB], request.match_info["uuid"])
    # Crews are all on this node, so no server has a reason to fetch a crew post: it is not on the wire at all.
    if post is None or post.visibility == "crew":
        raise web.HTTPNotFound(text="no such object")
    if post.visibility == "members":
        if not await _is_member_request(request):
            raise web.HTTPNotFound(text="no such object")
    else:
        await require_fetch_signature(request)
    return post


def _gone(request: web.Request, post: Post) -> web.Response:
    """Mastodon answers a deleted status with 410 and a Tombstone."""
    response = as_response(notes.tombstone(request.app[CONFIG], post), private=post.visibility != "public")
    response.set_status(410)
    return response


async def _note(request: web.Request, post: Post) -> dict:
    db, config = request.app[DB], request.app[CONFIG]
    author = await local_actors.by_id(db, post.author_id)
    group = await local_actors.group(db)
    return notes.note_document(config, post, author.username, group.username)


async def post_json(request: web.Request) -> web.Response:
    """The post's Note, or its Tombstone (node/web/negotiate.py routes /posts/{uuid} here for servers)."""
    post = await _visible_post(request)
    if post.deleted_at is not None:
        return _gone(request, post)
    return as_response(await _note(request, post), private=post.visibility != "public")


@routes.get("/posts/{uuid}/activity")
async def get_post_activity(request: web.Request) -> web.Response:
    post = await _visible_post(request)
    if post.deleted_at is not None:
        return _gone(request, post)
    note = await _note(request, post)
    stored = await outbox.by_activity_id(request.app[DB], note["id"] + "/activity")
    if stored is None:
        raise web.HTTPNotFound(text="no such activity")
    return as_response(notes.create_activity(note), private=post.visibility != "public")


@routes.get("/actors/{username}/members")
async def get_members(request: web.Request) -> web.Response:
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    if group is None or request.match_info["username"] != group.username or not await _is_member_request(request):
        raise web.HTTPNotFound(text="no such collection")
    uri = notes.members_uri(actor_id(config, group.username))
    items = [actor_id(config, m.username) for m in await local_actors.members(db)]
    document = collection_page(uri, uri, items, None)
    document.update(type="OrderedCollection", totalItems=len(items))
    del document["partOf"]
    return as_response(document, private=True)
