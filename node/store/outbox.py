"""Activities published by this node's actors."""

from __future__ import annotations

import aiosqlite

from node.db import now_iso


async def insert(db: aiosqlite.Connection, activity_id: str, actor_id: int, type_: str, body: str,
                 public: bool) -> None:
    await db.execute(
        "INSERT INTO outbox (activity_id, actor_id, type, body, public, published) VALUES (?, ?, ?, ?, ?, ?)",
        (activity_id, actor_id, type_, body, int(public), now_iso()),
    )


async def page(db: aiosqlite.Connection, actor_id: int, limit: int, before: int | None) -> list[tuple[int, str]]:
    """Public activities newest first: (row id, body)."""
    async with db.execute(
        "SELECT id, body FROM outbox WHERE actor_id = ? AND public = 1 AND id < ? ORDER BY id DESC LIMIT ?",
        (actor_id, before if before is not None else 2**62, limit),
    ) as cur:
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def count_public(db: aiosqlite.Connection, actor_id: int) -> int:
    async with db.execute("SELECT COUNT(*) FROM outbox WHERE actor_id = ? AND public = 1", (actor_id,)) as cur:
        return (await cur.fetchone())[0]


async def by_activity_id(db: aiosqlite.Connection, activity_id: str) -> tuple[str, bool] | None:
    async with db.execute("SELECT body, public FROM outbox WHERE activity_id = ?", (activity_id,)) as cur:
        row = await cur.fetchone()
    return (row[0], bool(row[1])) if row else None
