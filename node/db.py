"""The one SQLite file: open it (WAL, foreign keys), run numbered migrations, scope transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)
MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Primary result codes that mean "try again later", not "your input is bad" (sqlite3.h).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL = 5, 6, 10, 13
UNAVAILABLE_CODES = frozenset({SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL})


class StorageUnavailable(Exception):
    """The database cannot take a write right now (disk full, locked); the caller answers 503."""


def error_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of a sqlite3 error (extended codes folded), or None."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and error_code(exc) in UNAVAILABLE_CODES


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def connect(path: Path | str) -> aiosqlite.Connection:
    """Open the database with the pragmas every connection needs."""
    db = await aiosqlite.connect(str(path), isolation_level=None)
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("PRAGMA synchronous = NORMAL")
    await db.execute("PRAGMA busy_timeout = 5000")
    return db


def _lock(db: aiosqlite.Connection) -> asyncio.Lock:
    lock = getattr(db, "_congregation_lock", None)
    if lock is None:
        lock = asyncio.Lock()
        db._congregation_lock = lock  # type: ignore[attr-defined]
    return lock


# SQLite answers BEGIN IMMEDIATE with "database is locked" at once, ignoring busy_timeout, when a read on this
# connection still holds a snapshot older than another connection's commit. That read belongs to another
# coroutine and ends within milliseconds: wait for it, briefly, rather than fail the request.
BEGIN_RETRY_DELAYS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


async def _begin_immediate(db: aiosqlite.Connection) -> None:
    for delay in (*BEGIN_RETRY_DELAYS, None):
        try:
            await db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if error_code(exc) == SQLITE_BUSY and delay is not None:
                await asyncio.sleep(delay)
                continue
            if is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise


@contextlib.asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error.

    One connection is shared by many coroutines: the lock keeps another coroutine's statements out of
    this transaction. Every write goes through here; a storage failure becomes StorageUnavailable.
    Inside a transaction this task already holds (processing opens one, governance runs in it), it is a
    SAVEPOINT: an inner failure undoes only the inner part, and the outer one decides what commits.
    """
    task = asyncio.current_task()
    if getattr(db, "_congregation_owner", None) is task and task is not None:
        depth = db._congregation_depth = db._congregation_depth + 1  # type: ignore[attr-defined]
        name = f"nested_{depth}"
        await db.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            await db.execute(f"ROLLBACK TO {name}")
            await db.execute(f"RELEASE {name}")
            raise
        else:
            await db.execute(f"RELEASE {name}")
        finally:
            db._congregation_depth -= 1  # type: ignore[attr-defined]
        return
    async with _lock(db):
        await _begin_immediate(db)
        db._congregation_owner, db._congregation_depth = task, 0  # type: ignore[attr-defined]
        try:
            yield db
            await db.commit()
        except BaseException as exc:
            if db.in_transaction:
                await db.rollback()
            if isinstance(exc, sqlite3.OperationalError) and is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise
        finally:
            db._congregation_owner = None  # type: ignore[attr-defined]


def in_transaction(db: aiosqlite.Connection) -> bool:
    """True when the calling task holds a transaction on this connection."""
    task = asyncio.current_task()
    return task is not None and getattr(db, "_congregation_owner", None) is task


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in node/migrations, in order."""
    found = []
    for entry in resources.files("node.migrations").iterdir():
        match = MIGRATION_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def schema_version(db: aiosqlite.Connection) -> int:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )
    async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0])


async def database_file(db: aiosqlite.Connection) -> Path | None:
    async with db.execute("PRAGMA database_list") as cur:
        for row in await cur.fetchall():
            if row[1] == "main" and row[2]:
                return Path(row[2])
    return None


async def migrate(db: aiosqlite.Connection, *, backup: bool = True) -> int:
    """Apply every migration newer than the recorded version, each in its own transaction.

    An upgrade (a database that already holds data, and migrations to apply) first writes a backup to
    DATA/backups/; if that backup cannot be written, nothing is migrated."""
    current = await schema_version(db)
    pending = [m for m in migrations() if m[0] > current]
    if pending and current > 0 and backup and (path := await database_file(db)) is not None:
        from node.backups import before_migrating

        written = await asyncio.to_thread(before_migrating, path, current, pending[-1][0])
        log.warning("Upgrading the database from schema %d to %d; a backup was written first: %s",
                    current, pending[-1][0], written)
    for version, name, sql in migrations():
        if version <= current:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, now_iso()),
            )
        except BaseException:
            await db.rollback()
            raise
        await db.commit()
        log.info("applied migration %s", name, extra={"migration": version})
        current = version
    return current


def _statements(sql: str) -> list[str]:
    parts, buf = [], []
    for line in sql.splitlines():
        buf.append(line)
        if sqlite3.complete_statement("\n".join(buf)):
            statement = "\n".join(buf).strip()
            if statement.strip(";").strip():
                parts.append(statement)
            buf = []
    return parts
