"""Siblings: two Congregations that follow each other Group to Group, each approved by its people."""

from __future__ import annotations

import aiosqlite

from node import uris
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.remote_actors import ActorUnavailable, get_remote_actor
from node.config import Config
from node.governance.errors import Unreachable
from node.governance.events import Event, FollowAnswered, FollowRequested
from node.store import follows, local_actors
from node.store.remote import RemoteActor


async def reach(db: aiosqlite.Connection, client: HttpClient | None, group_uri: str) -> RemoteActor:
    """The other Group's actor (fetched unless held); before any transaction, as it may take the network."""
    if client is None:
        raise Unreachable("the node cannot reach other servers from here")
    try:
        return await get_remote_actor(db, client, group_uri)
    except (ActorUnavailable, FetchError) as exc:
        raise Unreachable(f"{group_uri} cannot be reached: {exc}") from None


async def approve(db: aiosqlite.Connection, config: Config, other: RemoteActor) -> list[Event]:
    """Accept their pending Follow of our Group and follow theirs unless we do (call inside a transaction;
    idempotent: run twice, it changes nothing more)."""
    group = await local_actors.group(db)
    ours, theirs = uris.actor(config, group.username), other.uri
    events: list[Event] = []
    asked = await follows.get(db, theirs, ours)
    if asked is not None and asked.state == "pending":
        await follows.set_state(db, asked.id, "accepted")
        events.append(FollowAnswered(group, await follows.by_id(db, asked.id), True, other.inbox))
    mine = await follows.get(db, ours, theirs)
    if mine is None or mine.state == "rejected":
        await follows.upsert(db, ours, theirs, uris.new_activity(config), "pending")
        events.append(FollowRequested(group, await follows.get(db, ours, theirs), other.shared_inbox or other.inbox))
    return events
