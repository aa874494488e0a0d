"""Follows, both ways: the Group (or a member) follows someone, answers a request, and takes in the answers and
requests other servers send. For the CLI, the web, the demo and the inbound handlers alike."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosqlite

from node import uris
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.remote_actors import ActorUnavailable, fetch_remote_actor, get_remote_actor
from node.activitypub.webfinger_client import resolve_handle
from node.config import Config
from node.governance.errors import Conflict, Invalid, NotFound, Unreachable
from node.governance.events import Event, FollowAnswered, FollowRequested
from node.processing import moderation
from node.processing.common import apply
from node.store import follows
from node.store import inbox as inbox_store
from node.store.follows import Follow
from node.store.local_actors import LocalActor
from node.store.remote import RemoteActor

MAX_TARGET = 2048


class FollowError(Invalid):
    """A follow cannot be answered or made; the message says why, for a person to read."""


class NoSuchRequest(FollowError, NotFound):
    """There is no such follow request."""


class AlreadyAnswered(FollowError, Conflict):
    """The request is already in the state asked for."""


class CannotReach(FollowError, Unreachable):
    """The other actor cannot be fetched."""


async def answer(db: aiosqlite.Connection, config: Config, actor: LocalActor, row: Follow, inbox: str,
                 accept: bool) -> list[Event]:
    """Accept or Reject a follow of `actor`: the state and the Accept/Reject commit together."""
    async def change() -> list[Event]:
        state = "accepted" if accept else "rejected"
        await follows.set_state(db, row.id, state)
        # The Follow's inbox row said "pending approval" when it was processed; it now says what became of it.
        await inbox_store.set_outcome(db, row.activity_id, state)
        return [FollowAnswered(actor, await follows.by_id(db, row.id), accept, inbox)]

    return await apply(db, config, change)


async def send_follow(db: aiosqlite.Connection, config: Config, actor: LocalActor, target: str, inbox: str
                      ) -> list[Event]:
    """`actor` asks to follow `target`; a repeated Follow replaces the pending one (and heals a lost one)."""
    async def change() -> list[Event]:
        me = uris.actor(config, actor.username)
        await follows.upsert(db, me, target, uris.new_activity(config), "pending")
        return [FollowRequested(actor, await follows.get(db, me, target), inbox)]

    return await apply(db, config, change)


async def answer_request(db: aiosqlite.Connection, config: Config, group: LocalActor, client: HttpClient,
                         follow_id: int, accept: bool) -> Follow:
    """Approve or reject a request to follow the Group; the Accept or Reject is queued for delivery."""
    me = uris.actor(config, group.username)
    row = await follows.by_id(db, follow_id)
    if row is None or row.followee != me:
        raise NoSuchRequest(f"there is no follow request {follow_id} for {me}")
    if row.state == ("accepted" if accept else "rejected"):
        raise AlreadyAnswered(f"follow request {follow_id} is already {row.state}")
    try:
        follower = await get_remote_actor(db, client, row.follower)
    except (ActorUnavailable, FetchError) as exc:
        raise CannotReach(f"cannot reach {row.follower}: {exc}") from None
    await answer(db, config, group, row, follower.inbox, accept)
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
        if uri == uris.actor(config, group.username):
            raise FollowError("the Congregation cannot follow itself")
        try:
            actor = await fetch_remote_actor(db, client, uri)
        except ActorUnavailable as exc:
            raise CannotReach(f"cannot follow {target}: {exc}") from None
    except FetchError as exc:
        raise CannotReach(f"cannot follow {target}: {exc.reason}") from None
    existing = await follows.get(db, uris.actor(config, group.username), actor.uri)
    if existing is not None and existing.state == "accepted":
        return FollowResult(actor, True)
    await send_follow(db, config, group, actor.uri, actor.inbox)
    return FollowResult(actor, False)


async def request_received(db: aiosqlite.Connection, config: Config, local: LocalActor, follower: RemoteActor,
                           activity_id: str) -> str:
    """Someone asks to follow one of our actors: recorded; a member's followers and a re-sent Follow that was
    accepted before are accepted at once, and the Group's by its policy. Returns what happened."""
    me = uris.actor(config, local.username)
    existing = await follows.get(db, follower.uri, me)
    # A Congregation following ours asks to be a sibling: trust before inclusion, so a person always decides.
    auto = local.kind == "Person" or (config.public_follows == "auto" and follower.kind != "Group")
    accept = (existing is not None and existing.state == "accepted") or auto
    # A member who blocks them (or their server) refuses their Follow, as Mastodon does: Reject, nothing kept.
    refused = await moderation.refuses_follow(db, local, follower.uri)

    async def change() -> list[Event]:
        await follows.upsert(db, follower.uri, me, activity_id, "pending")
        if refused:
            row = await follows.get(db, follower.uri, me)
            await follows.delete(db, row.id)
            return [FollowAnswered(local, row, False, follower.inbox)]
        if not accept:
            return []
        await follows.set_state(db, (await follows.get(db, follower.uri, me)).id, "accepted")
        return [FollowAnswered(local, await follows.get(db, follower.uri, me), True, follower.inbox)]

    await apply(db, config, change)
    if refused:
        return "rejected: blocked"
    return "accepted" if accept else "pending approval"


async def answer_received(db: aiosqlite.Connection, config: Config, follow: Follow, accepted: bool) -> None:
    """The other side accepted or rejected a follow (ours, or theirs that they now reject)."""
    await apply(db, config, lambda: _set(db, follow, "accepted" if accepted else "rejected"))


async def undone(db: aiosqlite.Connection, config: Config, follow: Follow) -> None:
    """The follower withdrew their follow."""
    async def change() -> list[Event]:
        await follows.delete(db, follow.id)
        return []

    await apply(db, config, change)


async def _set(db: aiosqlite.Connection, follow: Follow, state: str) -> list[Event]:
    await follows.set_state(db, follow.id, state)
    return []
