"""Undo: a remote actor takes back its Follow, Like or Announce."""

from __future__ import annotations

from typing import Any

from node.activitypub.as2.parse import ref
from node.activitypub.inbound.context import InboxContext, local_party, misdelivered, our_follow
from node.db import transaction
from node.processing import follows as follow_processing
from node.store import follows, remote_objects


async def _unfollow(ctx: InboxContext, follow: follows.Follow) -> str:
    username = local_party(ctx, follow)
    if username is not None and (refusal := misdelivered(ctx, username, "Undo")):
        return refusal
    await follow_processing.undone(ctx.db, ctx.config, follow)
    return "unfollowed"


async def on_undo_follow(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Remove the follower, when the follower itself undoes its Follow."""
    follow = await our_follow(ctx, activity)
    if follow is None or follow.follower != actor:
        return "stored: Undo of Follow we do not act on"
    return await _unfollow(ctx, follow)


async def on_undo_reaction(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Remove the actor's Like or Announce named by the Undo's object."""
    async with transaction(ctx.db):
        removed = await remote_objects.remove_reaction(ctx.db, ref(activity.get("object")) or "", actor)
    return "reaction undone" if removed else "stored: Undo of something we do not act on"


async def on_undo(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """An Undo whose object is a bare id or of a type we do not know: a Follow of ours by that id, or a reaction."""
    obj = activity.get("object")
    kind = obj.get("type") if isinstance(obj, dict) else None
    follow = await our_follow(ctx, activity)
    if follow is not None and follow.follower == actor:
        return await _unfollow(ctx, follow)
    if kind is None:
        return await on_undo_reaction(ctx, activity, actor)
    return f"stored: Undo of {kind} we do not act on"
