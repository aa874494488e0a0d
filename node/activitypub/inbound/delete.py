"""Delete: an actor deletes itself, or an object it wrote."""

from __future__ import annotations

from typing import Any

from node.activitypub import fanout
from node.activitypub.as2.parse import ref
from node.activitypub.inbound.context import InboxContext, reshared_by_group
from node.db import transaction
from node.store import follows, remote, remote_objects


async def on_delete(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """The actor itself (by its id, whatever the object's type) or one of its objects."""
    if ref(activity.get("object")) != actor:
        return await on_delete_object(ctx, activity, actor)
    async with transaction(ctx.db):
        await remote.tombstone_actor(ctx.db, actor)
        await follows.delete_involving(ctx.db, actor)
        await remote.delete_keys_of(ctx.db, actor)
    ctx.keys.forget(actor)
    return "actor deleted"


async def on_delete_object(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Tombstone an object we hold, when its author deletes it; the Group passes it on if it re-shared it."""
    held = await remote_objects.get(ctx.db, ref(activity.get("object")) or "")
    if held is None or held.deleted_at is not None:
        return "stored: Delete of an object we do not hold"
    if held.author != actor:
        return "ignored: only its author may delete an object"
    group, reshare = await reshared_by_group(ctx, held)
    async with transaction(ctx.db):
        await remote_objects.tombstone(ctx.db, held.uri)
        if reshare:
            await fanout.reshare(ctx.db, ctx.config, group, activity, None, actor)
    return "object deleted"
