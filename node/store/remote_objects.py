"""Notes from elsewhere, and Likes/Announces of any object."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso
from node.store.inbox import host_key


@dataclass(frozen=True)
class RemoteObject:
    uri: str
    type: str
    author: str
    content: str
    name: str | None
    summary: str | None
    in_reply_to: str | None
    audience: str | None
    public: bool
    published: str | None
    updated: str | None
    deleted_at: str | None = None


_COLUMNS = "uri, type, author, content, name, summary, in_reply_to, audience, public, published, updated, deleted_at"


@dataclass(frozen=True)
class Usage:
    rows: int
    bytes: int


async def insert(db: aiosqlite.Connection, obj: RemoteObject, document: str) -> bool:
    """Store a new object; False when it was already known (or tombstoned)."""
    cur = await db.execute(
        "INSERT OR IGNORE INTO remote_objects (uri, type, author, content, name, summary, in_reply_to, audience,"
        " public, published, updated, received_at, document, size, host)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (obj.uri, obj.type, obj.author, obj.content, obj.name, obj.summary, obj.in_reply_to, obj.audience,
         int(obj.public), obj.published, obj.updated, now_iso(), document, len(document.encode()),
         host_key(obj.author)))
    return cur.rowcount == 1


async def author_usage(db: aiosqlite.Connection, author: str) -> Usage:
    """The live objects of `author`, and their bytes."""
    async with db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM remote_objects"
                          " WHERE author = ? AND deleted_at IS NULL", (author,)) as cur:
        return Usage(*await cur.fetchone())


async def unfollowed_usage(db: aiosqlite.Connection, host: str, local_prefix: str) -> Usage:
    """The live objects on `host` whose authors no actor under `local_prefix` follows, and their bytes."""
    async with db.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM remote_objects WHERE host = ? AND deleted_at IS NULL"
        " AND author NOT IN (SELECT followee FROM follows WHERE state = 'accepted' AND follower >= ?"
        " AND follower < ?)", (host, local_prefix, local_prefix[:-1] + chr(ord(local_prefix[-1]) + 1))
    ) as cur:
        return Usage(*await cur.fetchone())


async def prune_author(db: aiosqlite.Connection, author: str, max_rows: int, max_bytes: int) -> list[str]:
    """Delete the author's oldest live objects (and the reactions to them) past the newest `max_rows` that fit
    in `max_bytes`; the uris deleted."""
    used = await author_usage(db, author)
    if used.rows <= max_rows and used.bytes <= max_bytes:
        return []
    async with db.execute(
        "SELECT uri FROM (SELECT uri, ROW_NUMBER() OVER newest AS n, SUM(size) OVER newest AS total"
        "  FROM remote_objects WHERE author = ? AND deleted_at IS NULL"
        "  WINDOW newest AS (ORDER BY received_at DESC, rowid DESC))"
        " WHERE n > ? OR total > ?", (author, max_rows, max_bytes)
    ) as cur:
        gone = [row[0] for row in await cur.fetchall()]
    for uri in gone:
        await db.execute("DELETE FROM reactions WHERE object_uri = ?", (uri,))
        await db.execute("DELETE FROM remote_objects WHERE uri = ?", (uri,))
    return gone


async def get(db: aiosqlite.Connection, uri: str) -> RemoteObject | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM remote_objects WHERE uri = ?", (uri,)) as cur:
        row = await cur.fetchone()
    return RemoteObject(*row[:8], bool(row[8]), *row[9:]) if row else None


async def document(db: aiosqlite.Connection, uri: str) -> str:
    """The object's JSON as it was last received ('{}' once tombstoned or unknown)."""
    async with db.execute("SELECT document FROM remote_objects WHERE uri = ?", (uri,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else "{}"


async def update(db: aiosqlite.Connection, obj: RemoteObject, document: str) -> None:
    await db.execute(
        "UPDATE remote_objects SET content = ?, name = ?, summary = ?, public = ?, updated = ?, document = ?,"
        " size = ? WHERE uri = ? AND deleted_at IS NULL",
        (obj.content, obj.name, obj.summary, int(obj.public), obj.updated or now_iso(), document,
         len(document.encode()), obj.uri))


async def tombstone(db: aiosqlite.Connection, uri: str) -> None:
    await db.execute("UPDATE remote_objects SET deleted_at = ?, content = '', name = NULL, summary = NULL,"
                     " document = '{}', size = 0 WHERE uri = ?", (now_iso(), uri))
    await db.execute("DELETE FROM reactions WHERE object_uri = ?", (uri,))


async def add_reaction(db: aiosqlite.Connection, activity_id: str, object_uri: str, actor: str, kind: str) -> bool:
    cur = await db.execute(
        "INSERT OR IGNORE INTO reactions (activity_id, object_uri, actor, kind, created_at) VALUES (?, ?, ?, ?, ?)",
        (activity_id, object_uri, actor, kind, now_iso()))
    return cur.rowcount == 1


async def remove_reaction(db: aiosqlite.Connection, activity_id: str, actor: str) -> bool:
    cur = await db.execute("DELETE FROM reactions WHERE activity_id = ? AND actor = ?", (activity_id, actor))
    return cur.rowcount > 0


async def count_reactions(db: aiosqlite.Connection, object_uri: str, kind: str) -> int:
    async with db.execute("SELECT COUNT(*) FROM reactions WHERE object_uri = ? AND kind = ?",
                          (object_uri, kind)) as cur:
        return (await cur.fetchone())[0]
