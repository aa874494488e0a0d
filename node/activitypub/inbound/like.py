"""Like: a remote actor likes a post we hold."""

from __future__ import annotations

from typing import Any

from node.activitypub.as2.parse import ref
from node.activitypub.inbound.context import InboxContext, known
from node.db import transaction
from node.store import remote_objects


async def on_like(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Count the Like on a local post or a stored remote object."""
    target = ref(activity.get("object"))
    if not target or not await known(ctx, target):
        return "ignored: Like of an object we do not hold"
    async with transaction(ctx.db):
        await remote_objects.add_reaction(ctx.db, activity["id"], target, actor, "Like")
    return "like counted"
