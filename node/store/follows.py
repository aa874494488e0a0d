"""Follow relations in both directions, by actor URI."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Follow:
    id: int
    follower: str
    followee: str
    activity_id: str
    state: str
    created_at: str
    updated_at: str


_COLUMNS = "id, follower, followee, activity_id, state, created_at, updated_at"


async def upsert(db: aiosqlite.Connection, follower: str, followee: str, activity_id: str, state: str) -> None:
    """Record a Follow; a repeated Follow replaces the activity id and keeps an accepted state."""
    now = now_iso()
    await db.execute(
        f"INSERT INTO follows ({_COLUMNS[4:]}) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (follower, followee) DO UPDATE SET activity_id = excluded.activity_id,"
        " state = CASE WHEN follows.state = 'accepted' THEN 'accepted' ELSE excluded.state END,"
        " updated_at = excluded.updated_at",
        (follower, followee, activity_id, state, now, now),
    )


async def get(db: aiosqlite.Connection, follower: str, followee: str) -> Follow | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM follows WHERE follower = ? AND followee = ?",
                          (follower, followee)) as cur:
        row = await cur.fetchone()
    return Follow(*row) if row else None


async def by_id(db: aiosqlite.Connection, follow_id: int) -> Follow | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM follows WHERE id = ?", (follow_id,)) as cur:
        row = await cur.fetchone()
    return Follow(*row) if row else None


async def by_activity(db: aiosqlite.Connection, activity_id: str) -> Follow | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM follows WHERE activity_id = ?", (activity_id,)) as cur:
        row = await cur.fetchone()
    return Follow(*row) if row else None


async def set_state(db: aiosqlite.Connection, follow_id: int, state: str) -> None:
    await db.execute("UPDATE follows SET state = ?, updated_at = ? WHERE id = ?", (state, now_iso(), follow_id))


async def delete(db: aiosqlite.Connection, follow_id: int) -> None:
    await db.execute("DELETE FROM follows WHERE id = ?", (follow_id,))


async def delete_involving(db: aiosqlite.Connection, actor_uri: str) -> None:
    await db.execute("DELETE FROM follows WHERE follower = ? OR followee = ?", (actor_uri, actor_uri))


async def list_for(db: aiosqlite.Connection, *, followee: str | None = None, follower: str | None = None,
                   state: str | None = None, limit: int = 1000, offset: int = 0) -> list[Follow]:
    where, args = [], []
    for column, value in (("followee", followee), ("follower", follower), ("state", state)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    async with db.execute(f"SELECT {_COLUMNS} FROM follows{clause} ORDER BY id LIMIT ? OFFSET ?",
                          (*args, limit, offset)) as cur:
        return [Follow(*row) for row in await cur.fetchall()]


async def count(db: aiosqlite.Connection, *, followee: str | None = None, follower: str | None = None,
                state: str = "accepted") -> int:
    column, value = ("followee", followee) if followee is not None else ("follower", follower)
    async with db.execute(f"SELECT COUNT(*) FROM follows WHERE {column} = ? AND state = ?",
                          (value, state)) as cur:
        return (await cur.fetchone())[0]
