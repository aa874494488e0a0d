"""GET of proposals (public ones as `Question`s) and of the Congregation's decision log, an OrderedCollection
of signed, hash-chained entries, oldest first, that anyone can verify (`congregation verify-decisions`)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from node.activitypub.actors import as_response, require_fetch_signature, wants_activity_json
from node.activitypub.documents import actor_id, collection, collection_page, key_id
from node.activitypub.questions import current_document
from node.appkeys import CONFIG, DB
from node.store import local_actors
from node.store import proposals as proposals_store

routes = web.RouteTableDef()
LOG_PAGE = 100


def decisions_uri(group_uri: str) -> str:
    return group_uri + "/decisions"


def log_item(group_uri: str, kid: str, entry: proposals_store.LogEntry) -> dict[str, Any]:
    return {"id": f"{decisions_uri(group_uri)}/{entry.seq}", "type": "DecisionRecord",
            "entry": json.loads(entry.entry), "hash": entry.hash, "hashAlgorithm": "sha-256",
            "signature": entry.signature, "signatureAlgorithm": "rsa-sha256", "signedBy": kid}


@routes.get("/actors/{username}/decisions")
async def get_decisions(request: web.Request) -> web.Response:
    config, db = request.app[CONFIG], request.app[DB]
    group = await local_actors.group(db)
    if request.match_info["username"] != group.username:
        raise web.HTTPNotFound(text="only the Congregation keeps a decision log")
    await require_fetch_signature(request)
    group_uri = actor_id(config, group.username)
    uri = decisions_uri(group_uri)
    total = await proposals_store.count_entries(db)
    raw = request.query.get("page")
    if raw is None:
        return as_response(collection(uri, total, f"{uri}?page=1"))
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise web.HTTPBadRequest(text="page must be a number from 1")
    page = int(raw)
    rows = await proposals_store.entries(db, after=(page - 1) * LOG_PAGE, limit=LOG_PAGE)
    kid = key_id(config, group.username)
    more = (page * LOG_PAGE) < total
    return as_response(collection_page(
        f"{uri}?page={page}", uri, [log_item(group_uri, kid, e) for e in rows],
        next_page=f"{uri}?page={page + 1}" if more else None, prev_page=f"{uri}?page={page - 1}" if page > 1 else None))


@routes.get("/proposals/{uuid}")
async def get_proposal(request: web.Request) -> web.StreamResponse:
    if not wants_activity_json(request):
        from node.web.proposals import proposal_page  # the HTML view lives with the web UI
        return await proposal_page(request)
    config, db = request.app[CONFIG], request.app[DB]
    proposal = await proposals_store.by_uuid(db, request.match_info["uuid"])
    # Only public proposals are on the wire; the others' voters are all members on this node.
    if proposal is None or proposal.scope != "public":
        raise web.HTTPNotFound(text="no such object")
    await require_fetch_signature(request)
    return as_response(await current_document(db, config, proposal))
