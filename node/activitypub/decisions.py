"""GET of proposals (public ones as `Question`s) and of the Congregation's decision log, an OrderedCollection
of signed, hash-chained entries, oldest first, that anyone can verify (`congregation verify-decisions`). A
record that is not public shows its body only to a GET signed by a member who may read it (a member for
`members`, a Partner for `partners`, the crew's members for `crew`); to anyone else, its header and proof."""

from __future__ import annotations

import json

from aiohttp import web

from node import uris
from node.activitypub.actors import as_response, require_fetch_signature, signed_fetcher
from node.activitypub.as2.context import RECORD_CONTEXT
from node.activitypub.as2.decisions import decisions_uri, log_item
from node.activitypub.as2.documents import actor_id, collection, collection_page, key_id, local_username
from node.activitypub.questions import current_document
from node.appkeys import CONFIG, DB
from node.store import crews as crews_store
from node.store import local_actors
from node.store import proposals as proposals_store
from node.store.local_actors import LocalActor
from node.store.proposals import LogEntry

routes = web.RouteTableDef()
LOG_PAGE = 100


async def _group(request: web.Request) -> tuple[str, str, LocalActor | None]:
    """(the Group's id, its key id, the member who signed the GET if one did), when the URL names the Group."""
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    if request.match_info["username"] != group.username:
        raise web.HTTPNotFound(text="only the Congregation keeps a decision log")
    signer = await signed_fetcher(request)
    if signer is None:
        await require_fetch_signature(request)
        reader = None
    else:
        username = local_username(config, signer.key_owner)
        reader = await local_actors.by_username(db, username) if username else None
        if reader is not None and reader.tier is None:
            reader = None
    return actor_id(config, group.username), key_id(config, group.username), reader


async def _may_read(request: web.Request, reader: LocalActor | None, entry: LogEntry) -> bool:
    """Whether the signed-in reader may see this non-public entry's body."""
    if reader is None or entry.version == 1:
        return False
    visibility = json.loads(entry.entry)["header"]["visibility"]
    if visibility == "members":
        return True
    if visibility == "partners":
        return reader.tier == "partner"
    if visibility == "crew":
        db = request.app[DB]
        proposal = await proposals_store.by_uuid(db, entry.proposal_uuid.rsplit("/", 1)[-1])
        return proposal is not None and proposal.crew_id is not None and \
            await crews_store.is_member(db, proposal.crew_id, reader.id)
    return False


async def _items(request: web.Request, group_uri: str, kid: str, reader: LocalActor | None,
                 rows: list[LogEntry]) -> tuple[list[dict], bool]:
    """The records as this reader may see them, and whether any shows a body that is not public."""
    items, private = [], False
    for entry in rows:
        shown = await _may_read(request, reader, entry)
        private = private or shown
        items.append(log_item(group_uri, kid, entry, show_body=shown))
    return items, private


@routes.get("/actors/{username}/decisions")
async def get_decisions(request: web.Request) -> web.Response:
    db = request.app[DB]
    group_uri, kid, reader = await _group(request)
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
    items, private = await _items(request, group_uri, kid, reader, rows)
    document = collection_page(
        f"{uri}?page={page}", uri, items,
        next_page=f"{uri}?page={page + 1}" if more else None, prev_page=f"{uri}?page={page - 1}" if page > 1 else None)
    document["@context"] = RECORD_CONTEXT
    return as_response(document, private=private)


@routes.get("/actors/{username}/decisions/{seq}")
async def get_decision(request: web.Request) -> web.Response:
    """One record of the log, at its id: the same item as in the collection's page."""
    group_uri, kid, reader = await _group(request)
    seq = uris.number(request.match_info["seq"], 1_000_000_000)
    if seq is None:
        raise web.HTTPNotFound(text="no such decision")
    rows = await proposals_store.entries(request.app[DB], after=seq - 1, limit=1)
    if not rows or rows[0].seq != seq:
        raise web.HTTPNotFound(text="no such decision")
    [item], private = await _items(request, group_uri, kid, reader, rows)
    return as_response({"@context": RECORD_CONTEXT, **item}, private=private)


async def question_json(request: web.Request) -> web.Response:
    """A public proposal's Question (node/web/negotiate.py routes /proposals/{uuid} here for servers)."""
    config, db = request.app[CONFIG], request.app[DB]
    proposal = await proposals_store.by_uuid(db, request.match_info["uuid"])
    # Only public proposals are on the wire; the others' voters are all members on this node.
    if proposal is None or proposal.scope != "public":
        raise web.HTTPNotFound(text="no such object")
    await require_fetch_signature(request)
    return as_response(await current_document(db, config, proposal))
