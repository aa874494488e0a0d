"""Activities this node's actors send: stored in the outbox and queued for delivery, inside the transaction of
the change they report. The senders at the end are the outbound registry's lines for follows and votes."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from node import uris
from node.activitypub import blocks
from node.activitypub.as2 import follows as as2
from node.activitypub.as2.documents import actor_id
from node.clock import clock_of
from node.config import Config
from node.governance.events import Event, FollowAnswered, FollowRequested, FollowUndone, PollVoted
from node.store import deliveries, outbox
from node.store.local_actors import LocalActor


def new_activity_id(config: Config) -> str:
    return uris.new_activity(config)


async def publish(db: aiosqlite.Connection, actor: LocalActor, activity: dict[str, Any], inboxes: list[str],
                  public: bool = False, now: float | None = None, config: Config | None = None) -> None:
    """Store the activity and one delivery row per inbox, atomically (call inside a transaction).

    The rows are due `now`, by default the node's clock: on a test's clock, due when that clock says so. No row is
    made for an inbox on a server the Congregation blocks (or, in allowlist mode, does not list; its siblings are
    known from `config`)."""
    inboxes = await blocks.deliverable(db, config, inboxes)
    body = json.dumps(activity, separators=(",", ":"))
    await outbox.insert(db, activity["id"], actor.id, activity["type"], body, public)
    due = clock_of(db).now() if now is None else now
    for inbox in dict.fromkeys(inboxes):
        await deliveries.enqueue(db, activity["id"], actor.id, inbox, body, due)


async def follow_requested(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, FollowRequested)
    me = actor_id(config, event.actor.username)
    await publish(db, event.actor, as2.follow(config, me, event.follow.followee, event.follow.activity_id),
                  [event.inbox], config=config)


async def follow_answered(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, FollowAnswered)
    kind, me = "Accept" if event.accepted else "Reject", actor_id(config, event.actor.username)
    await publish(db, event.actor, as2.answer(config, kind, me, event.follow), [event.inbox], config=config)


async def follow_undone(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, FollowUndone)
    me = actor_id(config, event.actor.username)
    await publish(db, event.actor, as2.undo(config, me, event.follow), [event.inbox], config=config)


async def poll_voted(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """One Create(Note{name, inReplyTo}) per choice, to the poll's author, as Mastodon sends votes."""
    assert isinstance(event, PollVoted)
    voter = actor_id(config, event.member.username)
    for choice in event.choices:
        await publish(db, event.member, as2.vote(config, voter, event.question, event.author, choice), [event.inbox],
                      config=config)
