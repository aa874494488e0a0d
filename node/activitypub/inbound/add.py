"""Add: a page of signed Assembly objects (proposals, stances, withdrawals) relayed by a sibling Group. Only a
sibling relays; each object counts for its own proof, checked before it is kept (node/activitypub/assembly.py)."""

from __future__ import annotations

from typing import Any

from node.activitypub.as2 import assembly as wire
from node.activitypub.as2.parse import BadDocument
from node.activitypub.inbound.context import InboxContext, group
from node.processing import assembly
from node.store.timeline import sibling_uris


async def on_add(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    _, group_uri = await group(ctx)
    if actor not in await sibling_uris(ctx.db, group_uri):
        return "ignored: only a sibling Congregation relays Assembly objects"
    try:
        objects = wire.relayed_objects(activity)
    except BadDocument as exc:
        return f"refused: {exc}"
    new = await assembly.receive(ctx.db, ctx.config, ctx.client, objects, actor)
    return f"{new} new of {len(objects)} Assembly objects kept and relayed"


async def on_create_proposal(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """A Create(Question) that is an Assembly proposal, from the Group that tabled it (a copy of what siblings
    relay; a follower that is not on the roster keeps nothing)."""
    obj = activity.get("object")
    if not isinstance(obj, dict) or obj.get("attributedTo") != actor:
        return "ignored: an Assembly proposal is created by the Group that tabled it"
    _, group_uri = await group(ctx)
    if actor not in await sibling_uris(ctx.db, group_uri):
        return "ignored: an Assembly proposal is taken only from a sibling Congregation"
    new = await assembly.receive(ctx.db, ctx.config, ctx.client, [obj], actor)
    return "Assembly proposal kept" if new else "Assembly proposal not kept (held already, or not for us)"
