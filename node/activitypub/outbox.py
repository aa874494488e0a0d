"""Activities this node's actors send: stored in the outbox and queued for delivery, inside the transaction of
the change they report. The senders at the end are the outbound registry's lines for follows and votes."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from node import uris
from node.activitypub.documents import AS_CONTEXT, actor_id
from node.clock import clock_of
from node.config import Config
from node.governance.events import Event, FollowAnswered, FollowRequested, FollowUndone, PollVoted
from node.store import deliveries, outbox
from node.store import follows as follows_store
from node.store.local_actors import LocalActor


def new_activity_id(config: Config) -> str:
    return uris.new_activity(config)


async def publish(db: aiosqlite.Connection, actor: LocalActor, activity: dict[str, Any], inboxes: list[str],
                  public: bool = False, now: float | None = None) -> None:
    """Store the activity and one delivery row per inbox, atomically (call inside a transaction).

    The rows are due `now`, by default the node's clock: on a test's clock, due when that clock says so."""
    body = json.dumps(activity, separators=(",", ":"))
    await outbox.insert(db, activity["id"], actor.id, activity["type"], body, public)
    due = clock_of(db).now() if now is None else now
    for inbox in dict.fromkeys(inboxes):
        await deliveries.enqueue(db, activity["id"], actor.id, inbox, body, due)


def follow_activity(config: Config, actor: LocalActor, target_uri: str, activity_id: str) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": activity_id, "type": "Follow",
            "actor": actor_id(config, actor.username), "object": target_uri}


def answer_activity(config: Config, kind: str, actor: LocalActor, follow: follows_store.Follow) -> dict[str, Any]:
    """Accept or Reject of a Follow, with the Follow embedded (Mastodon and Fedify look at both forms)."""
    me = actor_id(config, actor.username)
    return {"@context": AS_CONTEXT, "id": new_activity_id(config), "type": kind, "actor": me,
            "object": {"id": follow.activity_id, "type": "Follow", "actor": follow.follower, "object": me}}


async def follow_requested(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, FollowRequested)
    activity = follow_activity(config, event.actor, event.follow.followee, event.follow.activity_id)
    await publish(db, event.actor, activity, [event.inbox])


async def follow_answered(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, FollowAnswered)
    activity = answer_activity(config, "Accept" if event.accepted else "Reject", event.actor, event.follow)
    await publish(db, event.actor, activity, [event.inbox])


async def follow_undone(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, FollowUndone)
    me = actor_id(config, event.actor.username)
    activity = {"@context": AS_CONTEXT, "id": new_activity_id(config), "type": "Undo", "actor": me,
                "object": {"id": event.follow.activity_id, "type": "Follow", "actor": me,
                           "object": event.follow.followee}}
    await publish(db, event.actor, activity, [event.inbox])


async def poll_voted(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """One Create(Note{name, inReplyTo}) per choice, to the poll's author, as Mastodon sends votes."""
    assert isinstance(event, PollVoted)
    voter = actor_id(config, event.member.username)
    for choice in event.choices:
        note_id = uris.new_vote(config)
        note = {"id": note_id, "type": "Note", "attributedTo": voter, "name": choice, "inReplyTo": event.question,
                "to": [event.author]}
        activity = {"@context": AS_CONTEXT, "id": note_id + "/activity", "type": "Create", "actor": voter,
                    "to": [event.author], "object": note}
        await publish(db, event.member, activity, [event.inbox])
