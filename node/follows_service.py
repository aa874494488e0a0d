"""The Group's follows, as `congregation follows approve|reject` and `congregation follow` do them: for the CLI and
the web alike."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosqlite

from node.activitypub.documents import actor_id
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.outbox import answer_follow, send_follow
from node.activitypub.remote_actors import ActorUnavailable, fetch_remote_actor, get_remote_actor
from node.activitypub.webfinger_client import resolve_handle
from node.config import Config
from node.store import follows
from node.store.follows import Follow
from node.store.local_actors import LocalActor
from node.store.remote import RemoteActor

MAX_TARGET = 2048


class FollowError(Exception):
    """A follow cannot be answered or made; the message says why, for a person to read."""


async def answer_request(db: aiosqlite.Connection, config: Config, group: LocalActor, client: HttpClient,
                         follow_id: int, accept: bool) -> Follow:
    """Approve or reject a request to follow the Group; the Accept or Reject is queued for delivery."""
    me = actor_id(config, group.username)
    row = await follows.by_id(db, follow_id)
    if row is None or row.followee != me:
        raise FollowError(f"there is no follow request {follow_id} for {me}")
    if row.state == ("accepted" if accept else "rejected"):
        raise FollowError(f"follow request {follow_id} is already {row.state}")
    try:
        follower = await get_remote_actor(db, client, row.follower)
    except ActorUnavailable as exc:
        raise FollowError(f"cannot reach {row.follower}: {exc}") from None
    await answer_follow(db, config, group, row, follower.inbox, accept)
    return row


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


async def _resolve(config: Config, client: HttpClient, target: str) -> str:
    """An actor URL, as given or found by WebFinger for @name@host."""
    if not target or len(target) > MAX_TARGET or any(c.isspace() for c in target):
        raise FollowError(f"{target[:100]!r} is neither an actor URL nor a handle like @name@host")
    if _is_url(target):
        try:
            if not urlsplit(target).hostname:
                raise ValueError(target)
        except ValueError:
            raise FollowError(f"{target[:100]!r} is not a URL this node can reach") from None
        return target
    if target.count("@") in (1, 2) and not target.startswith(("http:", "https:")):
        return await resolve_handle(client, target, allow_http=config.allow_private_addresses)
    raise FollowError(f"{target[:100]!r} is neither an actor URL nor a handle like @name@host")


@dataclass(frozen=True)
class FollowResult:
    actor: RemoteActor
    already: bool  # True when the Group already followed them; nothing was sent


async def follow(db: aiosqlite.Connection, config: Config, group: LocalActor, client: HttpClient,
                 target: str) -> FollowResult:
    """The Group asks to follow an actor (URL or @name@host); nothing is stored unless the actor was fetched."""
    target = target.strip()
    try:
        uri = await _resolve(config, client, target)
        if uri == actor_id(config, group.username):
            raise FollowError("the Congregation cannot follow itself")
        try:
            actor = await fetch_remote_actor(db, client, uri)
        except ActorUnavailable as exc:
            raise FollowError(f"cannot follow {target}: {exc}") from None
    except FetchError as exc:
        raise FollowError(f"cannot follow {target}: {exc.reason}") from None
    existing = await follows.get(db, actor_id(config, group.username), actor.uri)
    if existing is not None and existing.state == "accepted":
        return FollowResult(actor, True)
    await send_follow(db, config, group, actor.uri, actor.inbox)
    return FollowResult(actor, False)
