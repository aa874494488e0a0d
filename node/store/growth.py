"""How fast the database grows: rows each table took in a recent window, and the bytes of what strangers feed.

Shared by /metrics (async, on a reader) and `doctor` (sqlite3, read-only): both run these statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiosqlite

# Tables whose rows come in time order and say when they came: (table, time column).
TIMED = (("inbox", "received_at"), ("remote_objects", "received_at"), ("reactions", "created_at"),
         ("deliveries", "created_at"))
WINDOWS = (("1h", timedelta(hours=1)), ("24h", timedelta(days=1)))


def added_sql(table: str, column: str) -> str:
    """Rows of `table` newer than the cutoff (parameter 1), walking back from the newest only as far as the
    window: the cost grows with what came, not with the table."""
    return (f"SELECT COUNT(*) FROM {table} WHERE rowid > COALESCE("
            f"(SELECT rowid FROM {table} WHERE {column} < ?1 ORDER BY rowid DESC LIMIT 1), 0)")


# (objects, their bytes) received since the cutoff (parameter 1) and still stored.
OBJECTS_ADDED_SQL = ("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM remote_objects"
                     " WHERE deleted_at IS NULL AND received_at >= ?1")
# (bytes of the stored objects, bytes of the activities waiting for the worker)
STORED_SQL = ("SELECT (SELECT COALESCE(SUM(size), 0) FROM remote_objects WHERE deleted_at IS NULL),"
              " (SELECT COALESCE(SUM(size), 0) FROM inbox WHERE processed_at IS NULL)")


def cutoff(window: timedelta, now: datetime | None = None) -> str:
    """The time `window` ago, written as the tables write times (db.now_iso)."""
    return ((now or datetime.now(UTC)) - window).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def rows_added(db: aiosqlite.Connection) -> dict[tuple[str, str], int]:
    """{(table, window): rows added}"""
    found = {}
    for label, window in WINDOWS:
        since = cutoff(window)
        for table, column in TIMED:
            async with db.execute(added_sql(table, column), (since,)) as cur:
                found[(table, label)] = (await cur.fetchone())[0]
    return found


async def object_bytes_added(db: aiosqlite.Connection) -> dict[str, int]:
    """{window: bytes of the objects received in it, still stored}"""
    found = {}
    for label, window in WINDOWS:
        async with db.execute(OBJECTS_ADDED_SQL, (cutoff(window),)) as cur:
            found[label] = (await cur.fetchone())[1]
    return found


async def stored_bytes(db: aiosqlite.Connection) -> tuple[int, int]:
    """(bytes of the stored objects, bytes of the activities waiting for the worker)"""
    async with db.execute(STORED_SQL) as cur:
        row = await cur.fetchone()
    return row[0], row[1]
