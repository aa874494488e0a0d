"""The Group and member Person actors that live on this node."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class LocalActor:
    id: int
    username: str
    kind: str
    display_name: str
    summary: str
    private_key_pem: str
    public_key_pem: str
    created_at: str
    tier: str | None = None


# Public for a query that reads an actor beside something else in one trip (a session and its member).
ACTOR_COLUMNS = ("a.id, a.username, a.kind, a.display_name, a.summary, a.private_key_pem, a.public_key_pem,"
                 " a.created_at, m.tier")
_SELECT = f"SELECT {ACTOR_COLUMNS} FROM local_actors a LEFT JOIN members m ON m.actor_id = a.id"


def _actor(row) -> LocalActor | None:
    return LocalActor(*row) if row else None


async def insert(db: aiosqlite.Connection, username: str, kind: str, display_name: str, summary: str,
                 private_key_pem: str, public_key_pem: str) -> int:
    cur = await db.execute(
        "INSERT INTO local_actors (username, kind, display_name, summary, private_key_pem, public_key_pem,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (username, kind, display_name, summary, private_key_pem, public_key_pem, now_iso()),
    )
    return cur.lastrowid


async def add_member(db: aiosqlite.Connection, actor_id: int, tier: str) -> None:
    await db.execute("INSERT INTO members (actor_id, tier, joined_at) VALUES (?, ?, ?)",
                     (actor_id, tier, now_iso()))


async def by_username(db: aiosqlite.Connection, username: str) -> LocalActor | None:
    async with db.execute(_SELECT + " WHERE a.username = ?", (username,)) as cur:
        return _actor(await cur.fetchone())


async def group(db: aiosqlite.Connection) -> LocalActor | None:
    async with db.execute(_SELECT + " WHERE a.kind = 'Group' ORDER BY a.id LIMIT 1") as cur:
        return _actor(await cur.fetchone())


async def members(db: aiosqlite.Connection) -> list[LocalActor]:
    async with db.execute(_SELECT + " WHERE m.actor_id IS NOT NULL ORDER BY a.username") as cur:
        return [LocalActor(*row) for row in await cur.fetchall()]


async def count_members(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM members") as cur:
        return (await cur.fetchone())[0]


async def by_id(db: aiosqlite.Connection, actor_id: int) -> LocalActor | None:
    async with db.execute(_SELECT + " WHERE a.id = ?", (actor_id,)) as cur:
        return _actor(await cur.fetchone())


async def set_tier(db: aiosqlite.Connection, actor_id: int, tier: str) -> None:
    await db.execute("UPDATE members SET tier = ? WHERE actor_id = ?", (tier, actor_id))


async def remove_member(db: aiosqlite.Connection, actor_id: int) -> None:
    """The actor stays (its posts keep an author); it is no longer a member."""
    await db.execute("DELETE FROM members WHERE actor_id = ?", (actor_id,))


async def set_profile(db: aiosqlite.Connection, actor_id: int, display_name: str, summary: str) -> None:
    await db.execute("UPDATE local_actors SET display_name = ?, summary = ? WHERE id = ?",
                     (display_name, summary, actor_id))


async def count_partners(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM members WHERE tier = 'partner'") as cur:
        return (await cur.fetchone())[0]
