"""GET of actors and their collections, at exactly their ids, as AS2."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from node import uris
from node.activitypub import actor_updates
from node.activitypub.as2.documents import (
    AS_JSON,
    actor_id,
    collection,
    collection_page,
)
from node.activitypub.inbox import asker
from node.activitypub.keys import KEY_UNAVAILABLE, KeyUnavailable
from node.activitypub.ratelimit import retry_after_header
from node.activitypub.signatures import SignatureError
from node.activitypub.verify import SignatureCheck, check, pending_signature
from node.appkeys import CONFIG, DB, KEYS
from node.store import follows, local_actors, outbox
from node.store.local_actors import LocalActor

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def as_response(document: dict, private: bool = False) -> web.Response:
    """The document as AS2; `private` for one only a member's signature may read, which no shared cache may keep
    (it would hand it to the next unsigned request)."""
    headers = {"Vary": "Accept"}
    if private:
        headers["Cache-Control"] = "private, no-store"
    return web.Response(body=json.dumps(document).encode(), content_type=AS_JSON, headers=headers)


async def signed_fetcher(request: web.Request) -> SignatureCheck | None:
    """The verified signer of a GET, or None when unsigned; a bad signature raises web.HTTPUnauthorized."""
    if "Signature" not in request.headers and "Signature-Input" not in request.headers:
        return None
    config = request.app[CONFIG]
    try:
        pending = pending_signature(config, request.method, request.raw_path, request.headers, None)
        return await check(pending, request.app[KEYS], asker(request))
    except SignatureError as exc:
        reason = exc.reason
    except KeyUnavailable as exc:
        if exc.retry_after is not None:
            refused = web.HTTPServiceUnavailable if exc.busy else web.HTTPTooManyRequests
            raise refused(
                text=json.dumps({"error": "too many unknown keys to fetch; try again later"}),
                content_type="application/json", headers={"Retry-After": retry_after_header(exc.retry_after)}) from None
        log.info("signed GET: the key of %s cannot be had: %s", pending.key_id, exc.reason)
        reason = KEY_UNAVAILABLE
    raise web.HTTPUnauthorized(text=json.dumps({"error": reason}), content_type="application/json")


async def require_fetch_signature(request: web.Request) -> None:
    if request.app[CONFIG].authorized_fetch and await signed_fetcher(request) is None:
        raise web.HTTPUnauthorized(text=json.dumps({"error": "this node requires signed fetches"}),
                                   content_type="application/json")


async def _actor(request: web.Request) -> LocalActor:
    actor = await local_actors.by_username(request.app[DB], request.match_info["username"])
    if actor is None or actor.username != request.match_info["username"]:
        raise web.HTTPNotFound(text="no such actor")
    return actor


async def actor_json(request: web.Request) -> web.Response:
    """The actor's AS2 document (node/web/negotiate.py routes /actors/{username} here for servers)."""
    actor = await _actor(request)
    await require_fetch_signature(request)
    return as_response(await actor_updates.current_document(request.app[DB], request.app[CONFIG], actor))


def _page_number(request: web.Request) -> int | None:
    raw = request.query.get("page")
    if raw is None:
        return None
    page = uris.number(raw, 100_000)
    if page is None:
        raise web.HTTPBadRequest(text="page must be a number from 1")
    return page


async def _follow_collection(request: web.Request, which: str) -> web.Response:
    actor = await _actor(request)
    await require_fetch_signature(request)
    config, db = request.app[CONFIG], request.app[DB]
    me = actor_id(config, actor.username)
    uri = f"{me}/{which}"
    side = {"followee": me} if which == "followers" else {"follower": me}
    total = await follows.count(db, **side)
    page = _page_number(request)
    if page is None:
        return as_response(collection(uri, total, f"{uri}?page=1"))
    size = config.page_size
    rows = await follows.list_for(db, state="accepted", limit=size + 1, offset=(page - 1) * size, **side)
    other = [r.follower if which == "followers" else r.followee for r in rows[:size]]
    return as_response(collection_page(
        f"{uri}?page={page}", uri, other,
        next_page=f"{uri}?page={page + 1}" if len(rows) > size else None,
        prev_page=f"{uri}?page={page - 1}" if page > 1 else None,
    ))


@routes.get("/actors/{username}/followers")
async def get_followers(request: web.Request) -> web.Response:
    return await _follow_collection(request, "followers")


@routes.get("/actors/{username}/following")
async def get_following(request: web.Request) -> web.Response:
    return await _follow_collection(request, "following")


@routes.get("/actors/{username}/outbox")
async def get_outbox(request: web.Request) -> web.Response:
    actor = await _actor(request)
    await require_fetch_signature(request)
    config, db = request.app[CONFIG], request.app[DB]
    uri = f"{actor_id(config, actor.username)}/outbox"
    total = await outbox.count_public(db, actor.id)
    if request.query.get("page") is None:
        return as_response(collection(uri, total, f"{uri}?page=true"))
    raw_max = request.query.get("max_id")
    max_id = uris.number(raw_max, 2**63 - 1) if raw_max else None
    if raw_max and max_id is None:
        raise web.HTTPBadRequest(text="max_id must be a number")
    rows = await outbox.page(db, actor.id, config.page_size + 1, max_id)
    items = [json.loads(body) for _, body in rows[: config.page_size]]
    more = len(rows) > config.page_size
    this = f"{uri}?page=true" + (f"&max_id={raw_max}" if raw_max else "")
    return as_response(collection_page(
        this, uri, items, next_page=f"{uri}?page=true&max_id={rows[config.page_size - 1][0]}" if more else None,
    ))


@routes.get("/activities/{uuid}")
async def get_activity(request: web.Request) -> web.Response:
    await require_fetch_signature(request)
    config = request.app[CONFIG]
    found = await outbox.by_activity_id(request.app[DB], uris.activity(config, request.match_info["uuid"]))
    if found is None or not found[1]:
        raise web.HTTPNotFound(text="no such activity")
    return web.Response(body=found[0].encode(), content_type=AS_JSON)
