"""Whether an activity concerns this node at all, decided from what we hold before anything is fetched for it.

A stranger's Create naming an object on a server that never answers cost every other activity 93 s (issue 12):
what nobody here asked for is dropped with its outcome recorded, and no request goes out for it."""

from __future__ import annotations

from typing import Any

from node import uris
from node.activitypub.as2.notes import addressees
from node.activitypub.as2.parse import ref
from node.activitypub.inbound.context import InboxContext, followed_by_us

IRRELEVANT = ("dropped: not from an actor anyone here follows, nor addressed to, mentioning or replying to"
              " anyone here")


async def concerns_us(ctx: InboxContext, activity: dict[str, Any], actor: str, *,
                      followed: bool | None = None) -> bool:
    """True when one of our actors follows `actor` (a sibling Group is followed by ours; `followed` when the
    caller knows), or the activity or its embedded object is addressed to or mentions one of our actors, or
    replies to something of ours."""
    if followed if followed is not None else await followed_by_us(ctx, actor):
        return True
    obj = activity.get("object")
    for document in (activity, obj) if isinstance(obj, dict) else (activity,):
        if any(uris.local_username(ctx.config, uri) for uri in addressees(document)):
            return True
        reply = ref(document.get("inReplyTo"))
        if reply and uris.is_local(ctx.config, reply):
            return True
    return False
