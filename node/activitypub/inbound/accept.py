"""Accept: the actor one of ours asked to follow says yes."""

from __future__ import annotations

from typing import Any

from node.activitypub.as2.documents import local_username
from node.activitypub.inbound.context import InboxContext, misdelivered, our_follow
from node.processing import follows as follow_processing


async def on_accept_follow(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Mark our Follow accepted, when the followee itself answers."""
    follow = await our_follow(ctx, activity)
    username = local_username(ctx.config, follow.follower) if follow is not None else None
    if follow is None or follow.followee != actor or username is None:
        return "ignored: not an answer to one of our follows"
    if refusal := misdelivered(ctx, username, "Accept"):
        return refusal
    await follow_processing.answer_received(ctx.db, ctx.config, follow, accepted=True)
    return "follow accepted"
