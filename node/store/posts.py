"""Posts written on this node, and the follower inboxes they go to."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Post:
    id: int
    uuid: str
    author_id: int
    visibility: str
    to_group: bool
    content: str
    source: str
    published: str
    updated: str | None
    deleted_at: str | None
    crew_id: int | None = None  # visibility 'crew': the crew whose members alone may read it


_SELECT = ("SELECT id, uuid, author_id, visibility, to_group, content, source, published, updated, deleted_at,"
           " crew_id FROM posts")


def _post(row) -> Post | None:
    return Post(*row[:4], bool(row[4]), *row[5:]) if row else None


async def insert(db: aiosqlite.Connection, uuid: str, author_id: int, visibility: str, to_group: bool,
                 content: str, source: str, crew_id: int | None = None) -> int:
    cur = await db.execute(
        "INSERT INTO posts (uuid, author_id, visibility, to_group, content, source, published, crew_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (uuid, author_id, visibility, int(to_group), content, source, now_iso(), crew_id))
    return cur.lastrowid


async def by_id(db: aiosqlite.Connection, post_id: int) -> Post | None:
    async with db.execute(_SELECT + " WHERE id = ?", (post_id,)) as cur:
        return _post(await cur.fetchone())


async def by_uuid(db: aiosqlite.Connection, uuid: str) -> Post | None:
    async with db.execute(_SELECT + " WHERE uuid = ?", (uuid,)) as cur:
        return _post(await cur.fetchone())


async def set_content(db: aiosqlite.Connection, post_id: int, content: str, source: str) -> None:
    await db.execute("UPDATE posts SET content = ?, source = ?, updated = ? WHERE id = ?",
                     (content, source, now_iso(), post_id))


async def mark_deleted(db: aiosqlite.Connection, post_id: int) -> None:
    await db.execute("UPDATE posts SET content = '', source = '', deleted_at = ? WHERE id = ?",
                     (now_iso(), post_id))


async def follower_inboxes(db: aiosqlite.Connection, followee: str, exclude: str | None = None) -> list[str]:
    """Inboxes of the accepted remote followers of `followee`: the shared inbox where there is one."""
    async with db.execute(
        "SELECT DISTINCT COALESCE(r.shared_inbox, r.inbox) FROM follows f JOIN remote_actors r ON r.uri = f.follower"
        " WHERE f.followee = ? AND f.state = 'accepted' AND r.deleted_at IS NULL AND r.inbox != ''"
        " AND f.follower IS NOT ? ORDER BY 1", (followee, exclude),
    ) as cur:
        return [row[0] for row in await cur.fetchall()]
