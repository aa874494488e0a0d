"""Activities this node's actors send: stored in the outbox and queued for delivery in one transaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiosqlite

from node.activitypub.documents import AS_CONTEXT, actor_id
from node.clock import clock_of
from node.config import Config
from node.db import transaction
from node.store import deliveries, outbox
from node.store import follows as follows_store
from node.store.local_actors import LocalActor


def new_activity_id(config: Config) -> str:
    return f"{config.base_url}/activities/{uuid.uuid4()}"


async def publish(db: aiosqlite.Connection, actor: LocalActor, activity: dict[str, Any], inboxes: list[str],
                  public: bool = False, now: float | None = None) -> None:
    """Store the activity and one delivery row per inbox, atomically (call inside a transaction).

    The rows are due `now`, by default the node's clock: on a test's clock, due when that clock says so."""
    body = json.dumps(activity, separators=(",", ":"))
    await outbox.insert(db, activity["id"], actor.id, activity["type"], body, public)
    due = clock_of(db).now() if now is None else now
    for inbox in dict.fromkeys(inboxes):
        await deliveries.enqueue(db, activity["id"], actor.id, inbox, body, due)


def follow_activity(config: Config, actor: LocalActor, target_uri: str) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": new_activity_id(config), "type": "Follow",
            "actor": actor_id(config, actor.username), "object": target_uri}


def answer_activity(config: Config, kind: str, actor: LocalActor, follow: follows_store.Follow) -> dict[str, Any]:
    """Accept or Reject of a Follow, with the Follow embedded (Mastodon and Fedify look at both forms)."""
    me = actor_id(config, actor.username)
    return {"@context": AS_CONTEXT, "id": new_activity_id(config), "type": kind, "actor": me,
            "object": {"id": follow.activity_id, "type": "Follow", "actor": follow.follower, "object": me}}


async def send_follow(db: aiosqlite.Connection, config: Config, actor: LocalActor, target_uri: str,
                      target_inbox: str) -> str:
    activity = follow_activity(config, actor, target_uri)
    async with transaction(db):
        await follows_store.upsert(db, actor_id(config, actor.username), target_uri, activity["id"], "pending")
        await publish(db, actor, activity, [target_inbox])
    return activity["id"]


async def answer_follow(db: aiosqlite.Connection, config: Config, actor: LocalActor, follow: follows_store.Follow,
                        inbox: str, accept: bool) -> str:
    """Accept or Reject a pending follow of `actor`; the state change and the delivery row commit together."""
    activity = answer_activity(config, "Accept" if accept else "Reject", actor, follow)
    async with transaction(db):
        await follows_store.set_state(db, follow.id, "accepted" if accept else "rejected")
        await publish(db, actor, activity, [inbox])
    return activity["id"]


async def undo_follow(db: aiosqlite.Connection, config: Config, actor: LocalActor, follow: follows_store.Follow,
                      inbox: str) -> str:
    me = actor_id(config, actor.username)
    activity = {"@context": AS_CONTEXT, "id": new_activity_id(config), "type": "Undo", "actor": me,
                "object": {"id": follow.activity_id, "type": "Follow", "actor": me, "object": follow.followee}}
    async with transaction(db):
        await follows_store.delete(db, follow.id)
        await publish(db, actor, activity, [inbox])
    return activity["id"]
