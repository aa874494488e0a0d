"""Update of an actor, both ways: ours go out with the whole new document (as Mastodon and GoToSocial send
them). A remote actor's own Update is received in node/activitypub/inbound/update.py."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiosqlite

from node.activitypub import outbox
from node.activitypub.as2.documents import actor_document, actor_id, actor_update
from node.config import Config
from node.db import now_iso, transaction
from node.governance import decision_log
from node.governance.events import Event, ProfileChanged
from node.store import accounts, local_actors
from node.store import posts as posts_store
from node.store.local_actors import LocalActor


async def current_document(db: aiosqlite.Connection, config: Config, actor: LocalActor) -> dict[str, Any]:
    """The actor's document exactly as GET /actors/{username} serves it."""
    avatar = await accounts.avatar_meta(db, actor.id) if actor.kind == "Person" else None
    manually_approves = actor.kind == "Group" and config.public_follows != "auto"
    return actor_document(config, actor, manually_approves, avatar, await decision_log.public_multikey(db, actor.id))


async def send_update(db: aiosqlite.Connection, config: Config, actor: LocalActor) -> dict[str, Any]:
    """Queue Update(actor) for everyone who may hold the old document (call inside the changing transaction)."""
    document = await current_document(db, config, actor)
    inboxes = await posts_store.follower_inboxes(db, document["id"])
    group = await local_actors.group(db)
    if group is not None and group.id != actor.id:
        # Sibling Congregations meet members through the Group's Announces, and cache them from there.
        inboxes += await posts_store.follower_inboxes(db, actor_id(config, group.username))
    activity = actor_update(document)
    await outbox.publish(db, actor, activity, inboxes, config=config)
    return activity


GROUP_DIGEST = "group_document_sha256"


async def announce_group_if_changed(db: aiosqlite.Connection, config: Config) -> bool:
    """At start: the Group's name, summary and follow policy come from the settings, so an operator's edit
    changes its document with no event to hang an Update on. Compare with the document last announced, and
    queue Update(Group) to its followers when it differs. The first start only records it."""
    group = await local_actors.group(db)
    if group is None:
        return False
    document = await current_document(db, config, group)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    async with transaction(db):
        async with db.execute("SELECT value FROM node_state WHERE key = ?", (GROUP_DIGEST,)) as cur:
            row = await cur.fetchone()
        if row is not None and row[0] == digest:
            return False
        if row is not None:
            await send_update(db, config, group)
        await db.execute("INSERT INTO node_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
                         " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                         (GROUP_DIGEST, digest, now_iso()))
    return row is not None


async def actor_changed(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """One Update(actor) for a changed profile, in the transaction of the change."""
    assert isinstance(event, ProfileChanged)
    if event.actor.kind == "Group":
        await announce_group_if_changed(db, config)
    else:
        await send_update(db, config, event.actor)
