"""The inbox table: raw accepted activities, the worker's queue."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiosqlite

from node.db import now_iso
from node.domains import server_of


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



def host_key(uri: str) -> str:
    """The server a per-server quota counts `uri` under: its registrable domain (node/domains.py), so neither a
    spelling of the host nor a wildcard domain's thousand names makes another server of the same one."""
    return server_of(uri)


# Parameters: (activity_id, type, actor, recipient, body, host, received_at); `size` is the body's bytes, `host`
# the actor's server, `host_key(actor)` (the per-server quota counts by it).
INSERT_SQL = (
    "INSERT OR IGNORE INTO inbox (activity_id, type, actor, recipient, body, size, host, received_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, length(CAST(?5 AS BLOB)), ?6, ?7)"
)


async def pending(db: aiosqlite.Connection, now: float, limit: int, busy: set[str] | frozenset[str] = frozenset(),
                  ) -> list[InboxRow]:
    """Due rows in order, skipping the actors in `busy` and any row behind an earlier one of its actor that
    waits for a retry: an actor's activities are acted on in the order they came."""
    async with db.execute(
        # The pending rows' own index: a scan in id order would read every processed row kept for dedup.
        "SELECT id, activity_id, type, actor, recipient, body, attempts FROM inbox AS i INDEXED BY inbox_pending"
        " WHERE processed_at IS NULL AND next_attempt_at <= ?1"
        " AND NOT EXISTS (SELECT 1 FROM inbox AS e WHERE e.actor = i.actor AND e.processed_at IS NULL"
        "                 AND e.id < i.id AND e.next_attempt_at > ?1)"
        " AND actor NOT IN (SELECT value FROM json_each(?2))"
        " ORDER BY id LIMIT ?3", (now, json.dumps(sorted(busy)), limit)
    ) as cur:
        return [InboxRow(*row) for row in await cur.fetchall()]


@dataclass(frozen=True)
class Usage:
    rows: int
    bytes: int


async def pending_usage(db: aiosqlite.Connection, actor: str, host: str) -> tuple[Usage, Usage]:
    """Rows not processed yet, and their bytes: of `actor`, and of every actor on `host` (lower-case, port too)."""
    async with db.execute(
        "SELECT a.n, a.b, s.n, s.b FROM"
        " (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM inbox WHERE processed_at IS NULL AND actor = ?) a,"
        " (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM inbox WHERE processed_at IS NULL AND host = ?) s",
        (actor, host)
    ) as cur:
        row = await cur.fetchone()
    return Usage(row[0], row[1]), Usage(row[2], row[3])


async def mark_processed(db: aiosqlite.Connection, outcomes: list[tuple[int, str]]) -> None:
    """Mark rows processed, each with its outcome; the body goes (see PRUNED)."""
    now = now_iso()
    await db.executemany("UPDATE inbox SET processed_at = ?, outcome = ?, attempts = attempts + 1, body = '',"
                         " size = 0"
                         " WHERE id = ?",
                         [(now, outcome, row_id) for row_id, outcome in outcomes])


async def mark_failed_attempt(db: aiosqlite.Connection, row_id: int, outcome: str, retry_at: float | None) -> None:
    """Count a failed attempt; retry at `retry_at`, or give up (processed, with the error) when None."""
    await db.execute(
        "UPDATE inbox SET attempts = attempts + 1, outcome = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
        " processed_at = CASE WHEN ? IS NULL THEN ? ELSE NULL END,"
        " body = CASE WHEN ? IS NULL THEN '' ELSE body END, size = CASE WHEN ? IS NULL THEN 0 ELSE size END"
        " WHERE id = ?",
        (outcome, retry_at, retry_at, now_iso(), retry_at, retry_at, row_id),
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
