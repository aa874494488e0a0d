"""GET of proposals (public ones as `Question`s) and of the Congregation's decision log, an OrderedCollection
of signed, hash-chained entries, oldest first, that anyone can verify (`congregation verify-decisions`)."""

from __future__ import annotations

from aiohttp import web

from node import uris
from node.activitypub.actors import as_response, require_fetch_signature
from node.activitypub.as2.context import RECORD_CONTEXT
from node.activitypub.as2.decisions import decisions_uri, log_item
from node.activitypub.as2.documents import actor_id, collection, collection_page, key_id
from node.activitypub.questions import current_document
from node.appkeys import CONFIG, DB
from node.store import local_actors
from node.store import proposals as proposals_store

routes = web.RouteTableDef()
LOG_PAGE = 100


async def _group(request: web.Request) -> tuple[str, str]:
    """(the Group's id, its key id), when the URL names the Group."""
    group = await local_actors.group(request.app[DB])
    if request.match_info["username"] != group.username:
        raise web.HTTPNotFound(text="only the Congregation keeps a decision log")
    await require_fetch_signature(request)
    config = request.app[CONFIG]
    return actor_id(config, group.username), key_id(config, group.username)


@routes.get("/actors/{username}/decisions")
async def get_decisions(request: web.Request) -> web.Response:
    db = request.app[DB]
    group_uri, kid = await _group(request)
    uri = decisions_uri(group_uri)
    total = await proposals_store.count_entries(db)
    raw = request.query.get("page")
    if raw is None:
        return as_response(collection(uri, total, f"{uri}?page=1"))
    page = uris.number(raw, 1_000_000)
    if page is None:
        raise web.HTTPBadRequest(text="page must be a number from 1")
    rows = await proposals_store.entries(db, after=(page - 1) * LOG_PAGE, limit=LOG_PAGE)
    more = (page * LOG_PAGE) < total
    document = collection_page(
        f"{uri}?page={page}", uri, [log_item(group_uri, kid, e) for e in rows],
        next_page=f"{uri}?page={page + 1}" if more else None, prev_page=f"{uri}?page={page - 1}" if page > 1 else None)
    document["@context"] = RECORD_CONTEXT
    return as_response(document)


@routes.get("/actors/{username}/decisions/{seq}")
async def get_decision(request: web.Request) -> web.Response:
    """One record of the log, at its id: the same item as in the collection's page."""
    group_uri, kid = await _group(request)
    seq = uris.number(request.match_info["seq"], 1_000_000_000)
    if seq is None:
        raise web.HTTPNotFound(text="no such decision")
    rows = await proposals_store.entries(request.app[DB], after=seq - 1, limit=1)
    if not rows or rows[0].seq != seq:
        raise web.HTTPNotFound(text="no such decision")
    return as_response({"@context": RECORD_CONTEXT, **log_item(group_uri, kid, rows[0])})


async def question_json(request: web.Request) -> web.Response:
    """A public proposal's Question (node/web/negotiate.py routes /proposals/{uuid} here for servers)."""
    config, db = request.app[CONFIG], request.app[DB]
    proposal = await proposals_store.by_uuid(db, request.match_info["uuid"])
    # Only public proposals are on the wire; the others' voters are all members on this node.
    if proposal is None or proposal.scope != "public":
        raise web.HTTPNotFound(text="no such object")
    await require_fetch_signature(request)
    return as_response(await current_document(db, config, proposal))
