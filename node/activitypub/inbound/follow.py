"""Follow: someone asks to follow one of our actors."""

from __future__ import annotations

from typing import Any

from node.activitypub.as2.documents import local_username
from node.activitypub.as2.parse import ref
from node.activitypub.inbound.context import InboxContext, misdelivered
from node.activitypub.remote_actors import get_remote_actor
from node.processing import follows as follow_processing
from node.store import local_actors


async def on_follow(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Record the Follow; accept it at once for a Person (or by the Group's policy), else leave it pending."""
    target = ref(activity.get("object"))
    username = local_username(ctx.config, target or "")
    local = await local_actors.by_username(ctx.db, username) if username else None
    if local is None:
        return "ignored: the Follow is not for one of our actors"
    if refusal := misdelivered(ctx, local.username, "Follow"):
        return refusal
    follower = await get_remote_actor(ctx.db, ctx.client, actor)
    return await follow_processing.request_received(ctx.db, ctx.config, local, follower, activity["id"])
