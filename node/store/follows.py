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
                   state: str | None = None, limit: int | None = None, offset: int = 0) -> list[Follow]:
    """Follows matching the filters, oldest first; every one unless `limit` says (a silent cap once cut off
    followers past the 1,000th from voting: callers that need one row or a count have queries of their own)."""
    where, args = [], []
    for column, value in (("followee", followee), ("follower", follower), ("state", state)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    async with db.execute(f"SELECT {_COLUMNS} FROM follows{clause} ORDER BY id LIMIT ? OFFSET ?",
                          (*args, -1 if limit is None else limit, offset)) as cur:
        return [Follow(*row) for row in await cur.fetchall()]


async def count(db: aiosqlite.Connection, *, followee: str | None = None, follower: str | None = None,
                state: str = "accepted") -> int:
    column, value = ("followee", followee) if followee is not None else ("follower", follower)
    async with db.execute(f"SELECT COUNT(*) FROM follows WHERE {column} = ? AND state = ?",
                          (value, state)) as cur:
        return (await cur.fetchone())[0]


# The follower's URI starts with a prefix (its origin and "/"), compared without case as hosts are.
_FOLLOWER_ON = "lower(substr(follower, 1, length(?))) = ?"


async def count_followers_elsewhere(db: aiosqlite.Connection, followee: str, local_origin: str) -> int:
    """Accepted followers of `followee` that are not on our own server (those are counted as members)."""
    prefix = local_origin.lower() + "/"
    async with db.execute("SELECT COUNT(*) FROM follows WHERE followee = ? AND state = 'accepted'"
                          f" AND NOT {_FOLLOWER_ON}", (followee, prefix, prefix)) as cur:
        return (await cur.fetchone())[0]


async def mutual_group_on(db: aiosqlite.Connection, group_uri: str, origin: str) -> bool:
    """Whether a Group on `origin` follows `group_uri` and is followed back, both accepted: a sibling there."""
    prefix = origin.lower() + "/"
    async with db.execute(
            "SELECT 1 FROM follows theirs"
            " JOIN follows ours ON ours.follower = theirs.followee AND ours.followee = theirs.follower"
            "  AND ours.state = 'accepted'"
            " JOIN remote_actors a ON a.uri = theirs.follower AND a.kind = 'Group' AND a.deleted_at IS NULL"
            " WHERE theirs.followee = ? AND theirs.state = 'accepted'"
            "  AND lower(substr(theirs.follower, 1, length(?))) = ? LIMIT 1", (group_uri, prefix, prefix)) as cur:
        return await cur.fetchone() is not None
