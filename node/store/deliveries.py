"""The delivery queue: one row per (activity, inbox)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Delivery:
    id: int
    activity_id: str
    actor_id: int
    inbox: str
    body: str
    attempts: int
    created_at: str


async def enqueue(db: aiosqlite.Connection, activity_id: str, actor_id: int, inbox: str, body: str,
                  due: float) -> None:
    now = now_iso()
    await db.execute(
        "INSERT OR IGNORE INTO deliveries (activity_id, actor_id, inbox, body, next_attempt_at, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (activity_id, actor_id, inbox, body, due, now, now),
    )


async def claim_due(db: aiosqlite.Connection, now: float, lease_seconds: float, limit: int) -> list[Delivery]:
    """Due rows, leased: a crash mid-send leaves them due again once the lease runs out."""
    async with db.execute(
        "UPDATE deliveries SET next_attempt_at = ? WHERE id IN (SELECT id FROM deliveries"
        " WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?)"
        " RETURNING id, activity_id, actor_id, inbox, body, attempts, created_at",
        (now + lease_seconds, now, limit),
    ) as cur:
        return [Delivery(*row) for row in await cur.fetchall()]


async def finish(db: aiosqlite.Connection, delivery_id: int, state: str, status: int | None,
                 error: str | None) -> None:
    await db.execute(
        "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?,"
        " updated_at = ? WHERE id = ?", (state, status, error, now_iso(), delivery_id),
    )


async def retry_later(db: aiosqlite.Connection, delivery_id: int, due: float, status: int | None,
                      error: str) -> None:
    await db.execute(
        "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_status = ?, last_error = ?,"
        " updated_at = ? WHERE id = ?", (due, status, error, now_iso(), delivery_id),
    )


async def counts(db: aiosqlite.Connection) -> dict[str, int]:
    async with db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state") as cur:
        return {row[0]: row[1] for row in await cur.fetchall()}


async def next_due(db: aiosqlite.Connection) -> float | None:
    async with db.execute("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'queued'") as cur:
        row = await cur.fetchone()
    return row[0]
