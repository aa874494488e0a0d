"""The inbox table: raw accepted activities, the worker's queue."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class InboxRow:
    id: int
    activity_id: str
    type: str
    actor: str
    recipient: str | None
    body: str
    attempts: int


# A processed row keeps its activity id (dedup), type, actor and outcome (the record) but not its body: bodies
# kept for ever let a stranger fill the disk (53 MiB from 60 Flags, issue 12). Nothing reads a processed body.

INSERT_SQL = (
    "INSERT OR IGNORE INTO inbox (activity_id, type, actor, recipient, body, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


async def pending(db: aiosqlite.Connection, now: float, limit: int) -> list[InboxRow]:
    async with db.execute(
        "SELECT id, activity_id, type, actor, recipient, body, attempts FROM inbox"
        " WHERE processed_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?", (now, limit)
    ) as cur:
        return [InboxRow(*row) for row in await cur.fetchall()]


async def mark_processed(db: aiosqlite.Connection, outcomes: list[tuple[int, str]]) -> None:
    """Mark rows processed, each with its outcome; the body goes (see PRUNED)."""
    now = now_iso()
    await db.executemany("UPDATE inbox SET processed_at = ?, outcome = ?, attempts = attempts + 1, body = ''"
                         " WHERE id = ?",
                         [(now, outcome, row_id) for row_id, outcome in outcomes])


async def mark_failed_attempt(db: aiosqlite.Connection, row_id: int, outcome: str, retry_at: float | None) -> None:
    """Count a failed attempt; retry at `retry_at`, or give up (processed, with the error) when None."""
    await db.execute(
        "UPDATE inbox SET attempts = attempts + 1, outcome = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
        " processed_at = CASE WHEN ? IS NULL THEN ? ELSE NULL END,"
        " body = CASE WHEN ? IS NULL THEN '' ELSE body END WHERE id = ?",
        (outcome, retry_at, retry_at, now_iso(), retry_at, row_id),
    )


async def set_outcome(db: aiosqlite.Connection, activity_id: str, outcome: str) -> None:
    """Record what finally became of a processed activity (a Follow answered later by a person)."""
    await db.execute("UPDATE inbox SET outcome = ? WHERE activity_id = ? AND processed_at IS NOT NULL",
                     (outcome, activity_id))


async def by_activity_id(db: aiosqlite.Connection, activity_id: str) -> InboxRow | None:
    async with db.execute(
        "SELECT id, activity_id, type, actor, recipient, body, attempts FROM inbox WHERE activity_id = ?",
        (activity_id,),
    ) as cur:
        row = await cur.fetchone()
    return InboxRow(*row) if row else None


async def count(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM inbox") as cur:
        return (await cur.fetchone())[0]
