"""Remote hosts we deliver to: when they last failed and succeeded, and whether the breaker is open."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from node.store import deliveries

UNAVAILABLE_AFTER = 24 * 3600.0
PROBE_EVERY = 6 * 3600.0

_COLUMNS = "host, first_failure_at, last_failure_at, last_success_at, unavailable, next_probe_at, last_error"


@dataclass(frozen=True)
class Host:
    host: str
    first_failure_at: float | None
    last_failure_at: float | None
    last_success_at: float | None
    unavailable: bool
    next_probe_at: float | None
    last_error: str | None


async def get(db: aiosqlite.Connection, host: str) -> Host | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM hosts WHERE host = ?", (host,)) as cur:
        row = await cur.fetchone()
    return Host(*row[:4], bool(row[4]), *row[5:]) if row else None


async def failing(db: aiosqlite.Connection) -> list[Host]:
    """Hosts whose latest attempts failed (unavailable ones first)."""
    async with db.execute(f"SELECT {_COLUMNS} FROM hosts WHERE first_failure_at IS NOT NULL OR unavailable = 1"
                          " ORDER BY unavailable DESC, first_failure_at") as cur:
        return [Host(*row[:4], bool(row[4]), *row[5:]) for row in await cur.fetchall()]


async def record_failure(db: aiosqlite.Connection, host: str, now: float, error: str) -> bool:
    """Note a failed attempt; open the breaker when every attempt for a day has failed. True if it opened."""
    await db.execute(
        "INSERT INTO hosts (host, first_failure_at, last_failure_at, last_error) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (host) DO UPDATE SET"
        " first_failure_at = COALESCE(hosts.first_failure_at, excluded.first_failure_at),"
        " last_failure_at = excluded.last_failure_at, last_error = excluded.last_error",
        (host, now, now, error[:500]),
    )
    cur = await db.execute(
        "UPDATE hosts SET unavailable = 1, next_probe_at = ? WHERE host = ? AND unavailable = 0"
        " AND first_failure_at <= ?", (now + PROBE_EVERY, host, now - UNAVAILABLE_AFTER),
    )
    return cur.rowcount > 0


async def record_success(db: aiosqlite.Connection, host: str, now: float) -> bool:
    """Close the breaker and clear failures; a host that had been failing gets its queue due now."""
    cur = await db.execute(
        "UPDATE hosts SET first_failure_at = NULL, unavailable = 0, next_probe_at = NULL, last_success_at = ?"
        " WHERE host = ? AND (first_failure_at IS NOT NULL OR unavailable = 1)", (now, host),
    )
    if cur.rowcount:
        await deliveries.make_due(db, host, now)
        return True
    await db.execute(
        "INSERT INTO hosts (host, last_success_at) VALUES (?, ?)"
        " ON CONFLICT (host) DO UPDATE SET last_success_at = excluded.last_success_at", (host, now),
    )
    return False


async def host_seen_alive(db: aiosqlite.Connection, host: str, now: float | None = None) -> bool:
    """The host spoke to us (a verified signed request): reset it and make its queued rows due now.

    Call inside a transaction. Returns True when the host had been failing.
    """
    return await record_success(db, host.lower(), time.time() if now is None else now)


async def probe_sent(db: aiosqlite.Connection, host: str, now: float) -> None:
    """One probe at a time: the next one waits a full interval."""
    await db.execute("UPDATE hosts SET next_probe_at = ? WHERE host = ?", (now + PROBE_EVERY, host))
