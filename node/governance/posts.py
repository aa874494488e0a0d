"""Posts by members and by the Group: who may publish, edit and delete. Call inside a transaction."""

from __future__ import annotations

import uuid

import aiosqlite

from node.governance.errors import Invalid
from node.governance.events import Event, PostCreated, PostDeleted, PostEdited
from node.store import crews as crews_store
from node.store import local_actors
from node.store import posts as posts_store
from node.store.local_actors import LocalActor
from node.store.posts import Post

VISIBILITIES = ("public", "members", "crew")
MAX_SOURCE = 20_000


class PostError(Invalid):
    """A post cannot be made or changed; the message says why, for a person to read."""


def _check_author(author: LocalActor) -> None:
    if author.kind != "Group" and author.tier is None:
        raise PostError(f"@{author.username} is not a member and cannot post")


def _check_text(content: str, source: str) -> None:
    if not source.strip() or not content.strip():
        raise PostError("a post needs some text")
    if len(source) > MAX_SOURCE:
        raise PostError(f"a post is at most {MAX_SOURCE} characters")


async def publish(db: aiosqlite.Connection, author: LocalActor, visibility: str, content: str, source: str,
                  to_group: bool = True, crew_id: int | None = None) -> list[Event]:
    """A new post; `content` is the sanitized HTML of `source`; a crew post names its crew in `crew_id`."""
    _check_author(author)
    _check_text(content, source)
    if visibility not in VISIBILITIES:
        raise PostError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    if visibility == "members":
        to_group = True  # members-only posts exist only inside the Group
    if visibility == "crew":
        await _check_crew(db, author, crew_id)
        to_group = False  # a crew post is not the Group's to share: crews are all on this node
    else:
        crew_id = None
    post_id = await posts_store.insert(db, str(uuid.uuid4()), author.id, visibility, to_group, content, source,
                                       crew_id)
    return [PostCreated(await posts_store.by_id(db, post_id), author)]


async def _check_crew(db: aiosqlite.Connection, author: LocalActor, crew_id: int | None) -> None:
    crew = await crews_store.by_id(db, crew_id) if crew_id is not None else None
    if crew is None or crew.closed_at is not None:
        raise PostError("a crew post needs a crew")
    if author.id not in crew.members:
        raise PostError(f"only members of {crew.name} can post to it")


async def _own_post(db: aiosqlite.Connection, actor: LocalActor, post_id: int) -> Post:
    post = await posts_store.by_id(db, post_id)
    if post is None or post.deleted_at is not None:
        raise PostError(f"there is no post {post_id}")
    if post.author_id != actor.id:
        raise PostError(f"post {post_id} is not by @{actor.username}")
    return post


async def edit(db: aiosqlite.Connection, actor: LocalActor, post_id: int, content: str,
               source: str) -> list[Event]:
    """Replace a post's text; only its author may."""
    _check_text(content, source)
    post = await _own_post(db, actor, post_id)
    await posts_store.set_content(db, post.id, content, source)
    return [PostEdited(await posts_store.by_id(db, post.id), actor)]


async def delete(db: aiosqlite.Connection, actor: LocalActor, post_id: int) -> list[Event]:
    """Delete a post, leaving a tombstone; only its author may."""
    post = await _own_post(db, actor, post_id)
    await posts_store.mark_deleted(db, post.id)
    return [PostDeleted(await posts_store.by_id(db, post.id), actor)]


async def author_of(db: aiosqlite.Connection, post: Post) -> LocalActor | None:
    return await local_actors.by_id(db, post.author_id)
