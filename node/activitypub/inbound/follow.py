"""Follow: someone asks to follow one of our actors."""

from __future__ import annotations

from typing import Any

from node.activitypub import outbox
from node.activitypub.convert import ref
from node.activitypub.documents import actor_id, local_username
from node.activitypub.inbound.context import InboxContext, misdelivered
from node.activitypub.remote_actors import get_remote_actor
from node.db import transaction
from node.store import follows, local_actors


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
    me = actor_id(ctx.config, local.username)
    existing = await follows.get(ctx.db, actor, me)
    async with transaction(ctx.db):
        await follows.upsert(ctx.db, actor, me, activity["id"], "pending")
    # A Congregation following ours asks to be a sibling: trust before inclusion, so a person always decides.
    auto = local.kind == "Person" or (ctx.config.public_follows == "auto" and follower.kind != "Group")
    if (existing is not None and existing.state == "accepted") or auto:
        row = await follows.get(ctx.db, actor, me)
        await outbox.answer_follow(ctx.db, ctx.config, local, row, follower.inbox, accept=True)
        return "accepted"
    return "pending approval"
