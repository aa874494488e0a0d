"""Reject: a follow between one of ours and a remote actor ends (refused, or withdrawn)."""

from __future__ import annotations

from typing import Any

from node.activitypub.inbound.context import InboxContext, local_party, misdelivered, our_follow
from node.processing import follows as follow_processing


async def on_reject_follow(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Mark the Follow rejected, when one of its two parties says so."""
    follow = await our_follow(ctx, activity)
    if follow is None or actor not in (follow.followee, follow.follower):
        return "ignored: not about one of our follows"
    username = local_party(ctx, follow)
    if username is not None and (refusal := misdelivered(ctx, username, "Reject")):
        return refusal
    await follow_processing.answer_received(ctx.db, ctx.config, follow, accepted=False)
    return "follow rejected"
