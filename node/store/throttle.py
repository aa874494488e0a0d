"""Sign-in attempts inside the throttle's window (login_attempts): one row per limited key per attempt."""

from __future__ import annotations

import aiosqlite


async def prune(db: aiosqlite.Connection, before: float) -> None:
    """Forget attempts made at or before `before`; call inside a transaction."""
    await db.execute("DELETE FROM login_attempts WHERE at <= ?", (before,))


async def count_since(db: aiosqlite.Connection, key: str, since: float) -> int:
    """Attempts against `key` made after `since`."""
    async with db.execute("SELECT COUNT(*) FROM login_attempts WHERE key = ? AND at > ?", (key, since)) as cur:
        return (await cur.fetchone())[0]


async def nth_since(db: aiosqlite.Connection, key: str, since: float, n: int) -> float | None:
    """When the `n`th (from 0, oldest first) attempt against `key` after `since` was made, or None."""
    async with db.execute("SELECT at FROM login_attempts WHERE key = ? AND at > ? ORDER BY at, id LIMIT 1 OFFSET ?",
                          (key, since, n)) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


async def record(db: aiosqlite.Connection, keys: list[str], at: float) -> list[int]:
    """Count one attempt against each key; the rows' ids, in the order of `keys`. Call inside a transaction."""
    ids = []
    for key in keys:
        cur = await db.execute("INSERT INTO login_attempts (key, at) VALUES (?, ?)", (key, at))
        ids.append(cur.lastrowid)
    return ids


async def forget(db: aiosqlite.Connection, key: str, attempt_id: int | None = None) -> None:
    """Forget every attempt against `key`, or only the one with `attempt_id`; call inside a transaction."""
    if attempt_id is None:
        await db.execute("DELETE FROM login_attempts WHERE key = ?", (key,))
    else:
        await db.execute("DELETE FROM login_attempts WHERE key = ? AND id = ?", (key, attempt_id))
