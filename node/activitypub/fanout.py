"""Post events → activities → outbox and delivery rows (call inside the transaction that made the events)."""

from __future__ import annotations

from typing import Any

import aiosqlite

from node.activitypub import outbox
from node.activitypub.as2 import notes
from node.activitypub.as2.documents import actor_id
from node.config import Config
from node.governance.events import Event, PostCreated, PostDeleted, PostEdited
from node.store import local_actors
from node.store import posts as posts_store
from node.store.local_actors import LocalActor


async def post_changed(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """A post as its author's activity, with the Group's Announces for member posts; never a crew post."""
    assert isinstance(event, PostCreated | PostEdited | PostDeleted)
    post, author = event.post, event.author
    if post.visibility == "crew":
        return  # crews are all on this node: a crew post is never sent, announced or put in an outbox
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    author_uri = actor_id(config, author.username)
    note = notes.note_document(config, post, author.username, group.username)
    public = post.visibility == "public"
    by_member = author.id != group.id
    created = isinstance(event, PostCreated)
    if created:
        activity = notes.create_activity(note)
    elif isinstance(event, PostEdited):
        activity = notes.update_activity(config, note)
    else:
        activity = notes.delete_activity(config, note)
    inboxes: list[str] = []
    # Members-only posts stay on this node: their members are local (no remote delivery at all).
    if public:
        inboxes = await posts_store.follower_inboxes(db, author_uri)
        if by_member and post.to_group and not created:
            # Group followers saw the post only as a boost; Mastodon takes the edit/delete from the author.
            inboxes += await posts_store.follower_inboxes(db, group_uri)
    await outbox.publish(db, author, activity, inboxes, public, config=config)
    if by_member and post.to_group:
        await _announce(db, config, group, activity, note["id"] if created else None, public)


async def _announce(db: aiosqlite.Connection, config: Config, group: LocalActor, activity: dict[str, Any],
                    object_id: str | None, public: bool, exclude: str | None = None) -> None:
    """FEP-1b12 Announce(activity), and Announce(object id) for Mastodon (as Lemmy sends both)."""
    group_uri = actor_id(config, group.username)
    inboxes = await posts_store.follower_inboxes(db, group_uri, exclude=exclude) if public else []
    wrapped = notes.announce(config, group_uri, activity, public)
    await outbox.publish(db, group, wrapped, inboxes, public, config=config)
    if object_id is not None:
        await outbox.publish(db, group, notes.announce(config, group_uri, object_id, public), inboxes, public,
                             config=config)


async def reshare(db: aiosqlite.Connection, config: Config, group: LocalActor, activity: dict[str, Any],
                  object_id: str, author: str) -> None:
    """Re-share a remote public post addressed to the Group with the Group's other followers."""
    await _announce(db, config, group, activity, object_id, True, exclude=author)
