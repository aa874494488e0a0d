"""The delivery queue: one row per (activity, inbox)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosqlite

from node.db import now_iso

_COLUMNS = "id, activity_id, actor_id, inbox, body, attempts, created_ts, host"


@dataclass(frozen=True)
class Delivery:
    id: int
    activity_id: str
    actor_id: int
    inbox: str
    body: str
    attempts: int
    created_ts: float
    host: str


def host_of(url: str) -> str:
    """The authority (host[:port]) deliveries are grouped by."""
    return urlsplit(url).netloc.lower()


async def enqueue(db: aiosqlite.Connection, activity_id: str, actor_id: int, inbox: str, body: str,
                  due: float) -> None:
    now = now_iso()
    await db.execute(
        "INSERT OR IGNORE INTO deliveries (activity_id, actor_id, inbox, host, body, next_attempt_at, created_ts,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (activity_id, actor_id, inbox, host_of(inbox), body, due, due, now, now),
    )


async def due_candidates(db: aiosqlite.Connection, now: float, per_host: int, limit: int) -> list[Delivery]:
    """Due, unleased rows of available hosts, at most `per_host` per host, oldest due first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.host"
        " ORDER BY d.next_attempt_at, d.id) AS rn FROM deliveries d"
        " WHERE d.state = 'queued' AND d.next_attempt_at <= ? AND d.lease_until <= ?"
        " AND d.host NOT IN (SELECT host FROM hosts WHERE unavailable = 1))"
        " WHERE rn <= ? ORDER BY next_attempt_at, id LIMIT ?",
        (now, now, per_host, limit),
    ) as cur:
        return [Delivery(*row) for row in await cur.fetchall()]


async def probe_candidates(db: aiosqlite.Connection, now: float) -> list[Delivery]:
    """For each unavailable host whose probe time has come, its oldest unleased queued row."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.host"
        " ORDER BY d.next_attempt_at, d.id) AS rn FROM deliveries d JOIN hosts h ON h.host = d.host"
        " WHERE h.unavailable = 1 AND h.next_probe_at <= ? AND d.state = 'queued' AND d.lease_until <= ?)"
        " WHERE rn = 1",
        (now, now),
    ) as cur:
        return [Delivery(*row) for row in await cur.fetchall()]


async def lease(db: aiosqlite.Connection, ids: list[int], until: float) -> None:
    """Claim rows: a crash mid-send leaves them claimable again once the lease runs out."""
    await db.executemany("UPDATE deliveries SET lease_until = ? WHERE id = ?", [(until, i) for i in ids])


async def finish(db: aiosqlite.Connection, delivery_id: int, state: str, status: int | None,
                 error: str | None) -> None:
    await db.execute(
        "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?,"
        " lease_until = 0, updated_at = ? WHERE id = ?", (state, status, error, now_iso(), delivery_id),
    )


async def retry_later(db: aiosqlite.Connection, delivery_id: int, due: float, status: int | None,
                      error: str) -> None:
    await db.execute(
        "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_status = ?, last_error = ?,"
        " lease_until = 0, updated_at = ? WHERE id = ?", (due, status, error, now_iso(), delivery_id),
    )


async def make_due(db: aiosqlite.Connection, host: str, now: float) -> None:
    """Every queued row for `host` becomes due now (the host is back)."""
    await db.execute("UPDATE deliveries SET next_attempt_at = ? WHERE host = ? AND state = 'queued'"
                     " AND next_attempt_at > ?", (now, host, now))


async def expire_unavailable(db: aiosqlite.Connection, before: float) -> int:
    """Give up on rows created before `before` whose host is unavailable (they are not being attempted)."""
    cur = await db.execute(
        "UPDATE deliveries SET state = 'failed', last_error = 'gave up after 7 days: host unavailable',"
        " updated_at = ? WHERE state = 'queued' AND created_ts < ? AND lease_until <= ?"
        " AND host IN (SELECT host FROM hosts WHERE unavailable = 1)", (now_iso(), before, before),
    )
    return cur.rowcount


async def drop_followers_at_inbox(db: aiosqlite.Connection, inbox: str, local_prefix: str) -> int:
    """A personal inbox answered 410: its actor no longer follows anyone here."""
    cur = await db.execute(
        "DELETE FROM follows WHERE follower IN (SELECT uri FROM remote_actors WHERE inbox = ?)"
        " AND substr(followee, 1, length(?)) = ?", (inbox, local_prefix, local_prefix),
    )
    return cur.rowcount


async def counts(db: aiosqlite.Connection) -> dict[str, int]:
    async with db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state") as cur:
        return {row[0]: row[1] for row in await cur.fetchall()}


async def oldest_queued(db: aiosqlite.Connection) -> float | None:
    async with db.execute("SELECT MIN(created_ts) FROM deliveries WHERE state = 'queued'") as cur:
        return (await cur.fetchone())[0]


async def next_due(db: aiosqlite.Connection) -> float | None:
    """When the worker next has something to do: the soonest due row of an available host, or probe."""
    async with db.execute(
        "SELECT MIN(t) FROM (SELECT MAX(next_attempt_at, lease_until) AS t FROM deliveries"
        " WHERE state = 'queued' AND host NOT IN (SELECT host FROM hosts WHERE unavailable = 1)"
        " UNION ALL SELECT next_probe_at FROM hosts WHERE unavailable = 1"
        " AND host IN (SELECT host FROM deliveries WHERE state = 'queued'))"
    ) as cur:
        return (await cur.fetchone())[0]
