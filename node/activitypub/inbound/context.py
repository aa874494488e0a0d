"""What every inbound handler is given, and the look-ups several of them share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from node import uris
from node.activitypub import blocks
from node.activitypub.as2.documents import actor_id, local_username
from node.activitypub.as2.notes import NOTE_TYPES
from node.activitypub.as2.parse import ref, types_of
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.keys import KeyResolver
from node.config import Config
from node.store import follows, local_actors, remote_objects
from node.store import posts as posts_store
from node.store.local_actors import LocalActor

MAX_FETCHES = 2  # per activity; inReplyTo chains are never followed


@dataclass(frozen=True)
class InboxContext:
    db: aiosqlite.Connection
    config: Config
    client: HttpClient
    keys: KeyResolver
    # The username whose personal inbox the activity was POSTed to; None for the shared inbox.
    inbox_owner: str | None = None


Handler = Callable[[InboxContext, dict[str, Any], str], Awaitable[str]]


def misdelivered(ctx: InboxContext, username: str, kind: str) -> str | None:
    """The refusal when an activity meant for our `username` came to another actor's personal inbox, or None."""
    # The shared inbox serves every local actor; a personal inbox only its owner.
    if ctx.inbox_owner is None or ctx.inbox_owner == username:
        return None
    return f"refused: the {kind} is for @{username} but was delivered to the inbox of @{ctx.inbox_owner}"


async def our_follow(ctx: InboxContext, activity: dict[str, Any]) -> follows.Follow | None:
    """The Follow an Accept/Reject/Undo refers to: by id, or by its embedded actor and object."""
    obj = activity.get("object")
    found = await follows.by_activity(ctx.db, ref(obj) or "")
    if found is None and isinstance(obj, dict):
        follower, followee = ref(obj.get("actor")), ref(obj.get("object"))
        if follower and followee:
            found = await follows.get(ctx.db, follower, followee)
    return found


def local_party(ctx: InboxContext, follow: follows.Follow) -> str | None:
    """The username of our actor in `follow` (follower or followee), or None."""
    return local_username(ctx.config, follow.follower) or local_username(ctx.config, follow.followee)


class Dropped(Exception):
    """The activity is dropped quietly (its object is gone, or the fetch budget is spent)."""


class Budget:
    """At most MAX_FETCHES remote fetches for one activity."""

    def __init__(self, ctx: InboxContext, remaining: int = MAX_FETCHES):
        self.ctx = ctx
        self.remaining = remaining

    async def fetch(self, url: str) -> dict[str, Any]:
        if self.remaining <= 0:
            raise Dropped("the fetch budget for this activity is spent")
        if (refused := await blocks.fetch_refusal(self.ctx.db, self.ctx.config, url)) is not None:
            raise Dropped(f"{url}: {refused}")
        self.remaining -= 1
        try:
            return await self.ctx.client.get_json(url)
        except FetchError as exc:
            if exc.status in (404, 410):
                raise Dropped(f"{url} is gone ({exc.status})") from None
            raise


def is_note(document: Any) -> bool:
    return isinstance(document, dict) and any(k in NOTE_TYPES for k in types_of(document))


async def group(ctx: InboxContext) -> tuple[LocalActor, str]:
    """Our Group and its actor id."""
    actor = await local_actors.group(ctx.db)
    return actor, actor_id(ctx.config, actor.username)


async def followed_by_us(ctx: InboxContext, actor: str) -> bool:
    """True when one of our actors follows `actor` (accepted)."""
    rows = await follows.list_for(ctx.db, followee=actor, state="accepted", limit=100)
    return any(local_username(ctx.config, row.follower) for row in rows)


async def may_post_to_group(ctx: InboxContext, actor: str, group_uri: str) -> bool:
    """Per the `group_accepts_from` setting: approved followers, or members only (all local, for now)."""
    if getattr(ctx.config, "group_accepts_from", "followers") == "members":
        return False
    row = await follows.get(ctx.db, actor, group_uri)
    return row is not None and row.state == "accepted"


async def reshared_by_group(ctx: InboxContext, obj: remote_objects.RemoteObject) -> tuple[LocalActor, bool]:
    """Our Group, and whether it re-shared `obj` (so a change to it goes to the Group's followers too)."""
    actor, group_uri = await group(ctx)
    return actor, obj.public and obj.audience == group_uri and await may_post_to_group(ctx, obj.author, group_uri)


async def known(ctx: InboxContext, uri: str) -> bool:
    """True for a live local post or a stored remote object."""
    if (post_uuid := uris.post_uuid(ctx.config, uri)) is not None:
        post = await posts_store.by_uuid(ctx.db, post_uuid)
        return post is not None and post.deleted_at is None and post.visibility == "public"
    held = await remote_objects.get(ctx.db, uri)
    return held is not None and held.deleted_at is None
