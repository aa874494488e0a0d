"""What each inbound activity type does. One function per type; each returns an outcome for the log."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from node.activitypub import actor_updates, inbound_notes
from node.activitypub.convert import ref
from node.activitypub.documents import local_username
from node.activitypub.fetch import HttpClient
from node.activitypub.keys import KeyResolver
from node.activitypub.remote_actors import get_remote_actor
from node.config import Config
from node.db import transaction
from node.processing import follows as follow_processing
from node.store import follows, local_actors, remote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxContext:
    db: aiosqlite.Connection
    config: Config
    client: HttpClient
    keys: KeyResolver


Handler = Callable[[InboxContext, dict[str, Any], str], Awaitable[str]]


async def on_follow(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    target = ref(activity.get("object"))
    username = local_username(ctx.config, target or "")
    local = await local_actors.by_username(ctx.db, username) if username else None
    if local is None:
        return "ignored: the Follow is not for one of our actors"
    follower = await get_remote_actor(ctx.db, ctx.client, actor)
    return await follow_processing.request_received(ctx.db, ctx.config, local, follower, activity["id"])


async def _our_follow(ctx: InboxContext, activity: dict[str, Any]) -> follows.Follow | None:
    """The Follow an Accept/Reject/Undo refers to: by id, or by its embedded actor and object."""
    obj = activity.get("object")
    found = await follows.by_activity(ctx.db, ref(obj) or "")
    if found is None and isinstance(obj, dict):
        follower, followee = ref(obj.get("actor")), ref(obj.get("object"))
        if follower and followee:
            found = await follows.get(ctx.db, follower, followee)
    return found


async def on_accept(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    follow = await _our_follow(ctx, activity)
    if follow is None or follow.followee != actor or local_username(ctx.config, follow.follower) is None:
        return "ignored: not an answer to one of our follows"
    async with transaction(ctx.db):
        await follows.set_state(ctx.db, follow.id, "accepted")
    return "follow accepted"


async def on_reject(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    follow = await _our_follow(ctx, activity)
    if follow is None or actor not in (follow.followee, follow.follower):
        return "ignored: not about one of our follows"
    async with transaction(ctx.db):
        await follows.set_state(ctx.db, follow.id, "rejected")
    return "follow rejected"


async def on_undo(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    obj = activity.get("object")
    kind = obj.get("type") if isinstance(obj, dict) else None
    follow = await _our_follow(ctx, activity)
    if follow is None or follow.follower != actor:
        if kind in (None, "Like", "Announce"):
            return await inbound_notes.on_undo_reaction(ctx, activity, actor)
        return f"stored: Undo of {kind} we do not act on"
    async with transaction(ctx.db):
        await follows.delete(ctx.db, follow.id)
    return "unfollowed"


async def on_delete(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    if ref(activity.get("object")) != actor:
        return await inbound_notes.on_delete_object(ctx, activity, actor)
    async with transaction(ctx.db):
        await remote.tombstone_actor(ctx.db, actor)
        await follows.delete_involving(ctx.db, actor)
        await remote.delete_keys_of(ctx.db, actor)
    ctx.keys.forget(actor)
    return "actor deleted"


async def on_update(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    if actor_updates.is_actor(activity.get("object")):
        return await actor_updates.on_update_actor(ctx, activity, actor)
    return await inbound_notes.on_update(ctx, activity, actor)


HANDLERS: dict[str, Handler] = {
    "Follow": on_follow,
    "Accept": on_accept,
    "Reject": on_reject,
    "Undo": on_undo,
    "Delete": on_delete,
    "Create": inbound_notes.on_create,
    "Update": on_update,
    "Announce": inbound_notes.on_announce,
    "Like": inbound_notes.on_like,
}
