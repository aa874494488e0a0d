"""Announce: an actor we follow (often a sibling Group) shares a Note, or passes on its author's activity."""

from __future__ import annotations

import json
import logging
from typing import Any

from node.activitypub import blocks, quotas
from node.activitypub.as2.notes import parse_note
from node.activitypub.as2.parse import BadDocument, is_http_url, origin, ref, types_of
from node.activitypub.fetch import FetchError
from node.activitypub.inbound.context import Budget, Dropped, InboxContext, followed_by_us, is_note, known
from node.activitypub.inbound.delete import on_delete_object
from node.activitypub.inbound.like import on_like
from node.activitypub.inbound.update import on_update_note
from node.activitypub.remote_actors import ActorUnavailable, fetch_remote_actor
from node.db import transaction
from node.store import remote, remote_objects

log = logging.getLogger(__name__)

# What a Group passes on from its members: the Update, Delete or Like itself, embedded.
INNER = {"Update": on_update_note, "Delete": on_delete_object, "Like": on_like}


async def on_announce_activity(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """An embedded Update, Delete or Like, acted on as if its own actor had sent it."""
    if not await followed_by_us(ctx, actor):
        return "ignored: Announce from an actor we do not follow"
    obj = activity["object"]
    kind = next(k for k in types_of(obj) if k in INNER)
    inner_actor = ref(obj.get("actor"))
    # An embedded activity is vouched for by the announcer's signature only on the announcer's own origin.
    if inner_actor is None or not is_http_url(inner_actor) or origin(inner_actor) != origin(actor):
        return f"ignored: an embedded {kind} from another origin"
    return await INNER[kind](ctx, obj, inner_actor)


async def on_announce_create(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """An embedded Create: the Note it carries is what is shared."""
    if not await followed_by_us(ctx, actor):
        return "ignored: Announce from an actor we do not follow"
    return await _announce_object(ctx, activity, activity["object"].get("object"), actor)


async def on_announce(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """A shared Note, embedded or by id: stored (fetched from its origin if need be), and the share counted."""
    if not await followed_by_us(ctx, actor):
        return "ignored: Announce from an actor we do not follow"
    return await _announce_object(ctx, activity, activity.get("object"), actor)


async def _announce_object(ctx: InboxContext, activity: dict[str, Any], obj: Any, actor: str) -> str:
    try:
        document = await _announced_note(ctx, obj, actor, Budget(ctx))
    except Dropped as exc:
        return f"dropped: {exc}"
    target = ref(obj) if document is None else document["id"]
    if document is not None:
        try:
            note = parse_note(document)
        except BadDocument as exc:
            return f"ignored: {exc}"
        text = json.dumps(document)
        if (refused := await blocks.fetch_refusal(ctx.db, ctx.config, note.author)) is not None:
            return f"ignored: {note.author}: {refused}"  # embedded by a followed actor, written on a blocked server
        if (refused := await quotas.object_refusal(ctx, note.author, text)) is not None:
            return refused
        async with transaction(ctx.db):
            if await remote_objects.insert(ctx.db, note, text):
                await quotas.prune_author(ctx, note.author)
        await _learn_author(ctx, note.author)
    if not target or not await known(ctx, target):
        return "ignored: Announce of an object we cannot read"
    async with transaction(ctx.db):
        await remote_objects.add_reaction(ctx.db, activity["id"], target, actor, "Announce")
    return "stored announced object"


async def _learn_author(ctx: InboxContext, author: str) -> None:
    """A sibling's members reach us through their Group's Announces, signed by the Group, not by them: fetch
    an author we have not met once, so Home shows their name and avatar, not a guess from the URL."""
    if await remote.actor(ctx.db, author) is not None:
        return
    try:
        await fetch_remote_actor(ctx.db, ctx.client, author)
    except (ActorUnavailable, FetchError) as exc:
        log.info("could not fetch the author %s of an announced post: %s", author, exc)


async def _announced_note(ctx: InboxContext, obj: Any, announcer: str, budget: Budget) -> dict[str, Any] | None:
    """The Note to store: embedded when the announcer's origin vouches for it, else fetched from its origin;
    None when we hold it already."""
    uri = ref(obj)
    if not uri or not is_http_url(uri):
        raise Dropped("the Announce has no object id")
    if await known(ctx, uri) or uri.startswith(ctx.config.base_url + "/"):
        return None
    if is_note(obj) and origin(uri) == origin(announcer):
        return obj
    document = await budget.fetch(uri)
    if types_of(document)[:1] == ["Create"]:
        inner = document.get("object")
        if is_note(inner) and origin(ref(inner) or "") == origin(uri):
            return inner
    if not is_note(document):
        raise Dropped(f"{uri} is not a Note")
    return document
