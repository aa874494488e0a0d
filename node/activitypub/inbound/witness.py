"""Add{LogEquivocation}: a sibling gossips a proof that a Group rewrote its decision log. Only a sibling gossips;
the proof counts for its two signed entries, checked with the accused Group's own keys before anything is kept
(node/processing/witness.py), so a forged one changes nothing."""

from __future__ import annotations

from typing import Any

from node.activitypub.inbound.context import InboxContext, group
from node.processing import witness
from node.store.timeline import sibling_uris


async def on_equivocation(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    _, group_uri = await group(ctx)
    if actor not in await sibling_uris(ctx.db, group_uri):
        return "ignored: only a sibling Congregation gossips equivocation proofs"
    return await witness.receive_proof(ctx.db, ctx.config, ctx.client, activity.get("object"), actor)
