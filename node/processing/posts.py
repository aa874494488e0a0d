"""Publishing, editing and deleting posts: the domain change and its deliveries commit together."""

from __future__ import annotations

import aiosqlite

from node.activitypub.sanitize import text_to_html
from node.config import Config
from node.governance import posts
from node.governance.posts import PostError
from node.processing.common import apply
from node.store.local_actors import LocalActor
from node.store.posts import Post

__all__ = ["PostError", "delete_post", "edit_post", "publish_post"]


async def publish_post(db: aiosqlite.Connection, config: Config, author: LocalActor, text: str, visibility: str,
                       to_group: bool = True, crew_id: int | None = None) -> Post:
    """Publish plain text as a Note by `author` (a member or the Group); a crew post names its crew."""
    events = await apply(db, config, lambda: posts.publish(db, author, visibility, text_to_html(text), text,
                                                           to_group, crew_id))
    return events[0].post


async def edit_post(db: aiosqlite.Connection, config: Config, author: LocalActor, post_id: int, text: str) -> Post:
    events = await apply(db, config, lambda: posts.edit(db, author, post_id, text_to_html(text), text))
    return events[0].post


async def delete_post(db: aiosqlite.Connection, config: Config, author: LocalActor, post_id: int) -> Post:
    events = await apply(db, config, lambda: posts.delete(db, author, post_id))
    return events[0].post
