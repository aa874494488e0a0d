"""Notes from elsewhere, and Likes/Announces of any object."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


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


async def insert(db: aiosqlite.Connection, obj: RemoteObject, document: str) -> bool:
    """Store a new object; False when it was already known (or tombstoned)."""
    cur = await db.execute(
        "INSERT OR IGNORE INTO remote_objects (uri, type, author, content, name, summary, in_reply_to, audience,"
        " public, published, updated, received_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (obj.uri, obj.type, obj.author, obj.content, obj.name, obj.summary, obj.in_reply_to, obj.audience,
         int(obj.public), obj.published, obj.updated, now_iso(), document))
    return cur.rowcount == 1


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
        "UPDATE remote_objects SET content = ?, name = ?, summary = ?, public = ?, updated = ?, document = ?"
        " WHERE uri = ? AND deleted_at IS NULL",
        (obj.content, obj.name, obj.summary, int(obj.public), obj.updated or now_iso(), document, obj.uri))


async def tombstone(db: aiosqlite.Connection, uri: str) -> None:
    await db.execute("UPDATE remote_objects SET deleted_at = ?, content = '', name = NULL, summary = NULL,"
                     " document = '{}' WHERE uri = ?", (now_iso(), uri))
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
