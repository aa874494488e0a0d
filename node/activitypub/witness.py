"""Cross-witnessed decision logs on the wire: reading a sibling's log a page at a time and its Group's keys (through
the guarded client), gossiping an equivocation proof to our siblings (`Add{LogEquivocation}`, the outbound
registry's line), and serving what we witnessed of a sibling's log (GET /actors/{group}/witnessed?group=URI).

Every fetch names a page of the sibling's own `decisions` collection; its pages hold LOG_PAGE entries each
(`?page=n` holds seq 100·(n−1)+1 … 100·n), so a poll starts at the page of the oldest entry still held and reads
a bounded number of entries past the last one witnessed."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiosqlite
from aiohttp import web

from node import uris
from node.activitypub import outbox
from node.activitypub.actors import as_response, require_fetch_signature, signed_fetcher
from node.activitypub.as2 import witness as wire
from node.activitypub.as2.documents import actor_id
from node.activitypub.as2.parse import origin, own_keys_of
from node.activitypub.decisions import LOG_PAGE
from node.activitypub.fetch import FetchError, HttpClient
from node.appkeys import CONFIG, DB
from node.config import Config
from node.governance.events import Event, LogEquivocation
from node.store import local_actors, remote
from node.store import witness as store
from node.store.timeline import sibling_uris

log = logging.getLogger(__name__)
MAX_PAGES = 10_000  # a whole log read at once (`verify-decisions --sibling`): a million entries at most


class Unreadable(Exception):
    """A Group or its log could not be fetched or read; the message says what."""


async def group_keys(client: HttpClient, group: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(the Group's actor document, key id → PEM or 'multibase:…' for each key it vouches for as its own)."""
    try:
        document = await client.get_json(group)
    except FetchError as exc:
        raise Unreadable(f"cannot fetch {group}: {exc}") from None
    if document.get("id") != group or "Group" not in (document.get("type"), *(document.get("type") or ())):
        raise Unreadable(f"{group} is not a Congregation's Group")
    return document, {kid: material for kid, (_, material) in own_keys_of(document).items()}


async def log_items(client: HttpClient, actor: dict[str, Any], from_seq: int = 1,
                    until_seq: int | None = None) -> list[Any]:
    """The published items of a Group's decision log from `from_seq` to `until_seq` (to its end when None), oldest
    first, read page by page from the page that holds `from_seq`."""
    base = actor.get("decisions") if isinstance(actor.get("decisions"), str) else f"{actor['id']}/decisions"
    if origin(base) != origin(actor["id"]):
        raise Unreadable(f"{actor['id']} names a decision log on another server")
    url: str | None = f"{base}?page={(max(from_seq, 1) - 1) // LOG_PAGE + 1}"
    items: list[Any] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        try:
            page = await client.get_json(url)
        except FetchError as exc:
            raise Unreadable(f"cannot fetch the log: {exc}") from None
        found = page.get("orderedItems")
        if not isinstance(found, list):
            raise Unreadable(f"{url}: orderedItems is not a list")
        for item in found:
            seq = wire.log_item_seq(item) or from_seq
            if until_seq is not None and seq > until_seq:
                return items
            if seq >= from_seq:
                items.append(item)
        following = page.get("next")
        url = following if isinstance(following, str) and origin(following) == origin(base) else None
    return items


# --- gossip --------------------------------------------------------------------------------------------------------


def proof_object(equivocation: store.Equivocation) -> dict[str, Any]:
    return wire.equivocation_object(equivocation.group, equivocation.seq, equivocation.first, equivocation.second)


async def gossip(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """The proof to every sibling but the one it came from (the accused too, when it is one: its members should
    know); one delivery row each, committed with the proof."""
    assert isinstance(event, LogEquivocation)
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    inboxes = []
    for target in sorted(await sibling_uris(db, group_uri) - {event.source}):
        actor = await remote.actor(db, target)
        if actor is not None:
            inboxes.append(actor.shared_inbox or actor.inbox)
    if inboxes:
        activity = wire.equivocation_activity(uris.new_activity(config), group_uri, proof_object(event.equivocation))
        await outbox.publish(db, group, activity, inboxes, False, config=config)


# --- what we witnessed, served -------------------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.get("/actors/{username}/witnessed")
async def get_witnessed(request: web.Request) -> web.Response:
    """What our Group witnessed of one sibling's log (`?group=URI`): its latest (seq, hash), that signed entry,
    and every equivocation proof held about it. Anyone may compare a log with it (`verify-decisions`)."""
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    if request.match_info["username"] != group.username:
        raise web.HTTPNotFound(text="only the Congregation witnesses its siblings' logs")
    if await signed_fetcher(request) is None:
        await require_fetch_signature(request)
    accused = request.query.get("group", "")
    if not accused or len(accused) > 2048:
        raise web.HTTPBadRequest(text="name the Group whose log you ask about: ?group=URI")
    group_uri = actor_id(config, group.username)
    head = await store.head(db, accused)
    proofs = [proof_object(e) for e in await store.equivocations(db, accused, limit=20)]
    if head is None and not proofs:
        raise web.HTTPNotFound(text="this Congregation has witnessed nothing of that log")
    held = await store.held_at(db, accused, head.seq) if head is not None and head.seq else None
    uri = f"{group_uri}/witnessed?group={quote(accused, safe='')}"
    return as_response(wire.witnessed_document(uri, group_uri, accused, head.seq if head else 0,
                                               head.hash if head else "", held.item if held else None, proofs))
