"""The one SQLite file: open it (WAL, foreign keys), run numbered migrations, scope transactions, and the
node's pool: one writer connection for transactions, a few read-only ones for everything else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TypeVar

import aiosqlite
from aiosqlite.context import Result

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Primary result codes that mean "try again later", not "your input is bad" (sqlite3.h).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL = 5, 6, 8, 10, 13
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
async def transaction(db: aiosqlite.Connection | Database) -> AsyncIterator[aiosqlite.Connection | Database]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error; yields `db` back.

    On a Database the transaction is the writer's, and every statement the owning task sends through the
    Database meanwhile goes into it (so processing reads its own writes); other tasks read from the readers,
    which see only committed rows, and wait on the lock to write. On a plain connection (the CLI) the lock
    keeps another coroutine's statements out. A storage failure becomes StorageUnavailable.
    Inside a transaction this task already holds (processing opens one, governance runs in it), it is a
    SAVEPOINT: an inner failure undoes only the inner part, and the outer one decides what commits.
    """
    conn = db.writer if isinstance(db, Database) else db
    task = asyncio.current_task()
    if getattr(conn, "_congregation_owner", None) is task and task is not None:
        depth = conn._congregation_depth = conn._congregation_depth + 1  # type: ignore[attr-defined]
        name = f"nested_{depth}"
        await conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            await conn.execute(f"ROLLBACK TO {name}")
            await conn.execute(f"RELEASE {name}")
            raise
        else:
            await conn.execute(f"RELEASE {name}")
        finally:
            conn._congregation_depth -= 1  # type: ignore[attr-defined]
        return
    async with _lock(conn):
        await _begin_immediate(conn)
        conn._congregation_owner, conn._congregation_depth = task, 0  # type: ignore[attr-defined]
        try:
            yield db
            await conn.commit()
        except BaseException as exc:
            if conn.in_transaction:
                await conn.rollback()
            if isinstance(exc, sqlite3.OperationalError) and is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise
        finally:
            conn._congregation_owner = None  # type: ignore[attr-defined]


def in_transaction(db: aiosqlite.Connection | Database) -> bool:
    """True when the calling task holds a transaction on this connection (a Database's: on its writer)."""
    conn = db.writer if isinstance(db, Database) else db
    task = asyncio.current_task()
    return task is not None and getattr(conn, "_congregation_owner", None) is task


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


# --- the node's pool -----------------------------------------------------------------------------------------

READERS = 2
# Statements that only read go to a reader; anything else is a write (or a PRAGMA meant for the writer).
_READ_VERBS = ("SELECT", "WITH", "VALUES", "EXPLAIN")


class Rows:
    """A statement's whole result, fetched in the same trip to the connection's thread as the statement.

    It answers the part of aiosqlite's Cursor that the store uses (fetchone, fetchall, lastrowid, rowcount,
    async iteration). One trip instead of three (execute, fetch, close) is most of a page's cost, and no
    half-read cursor keeps a reader's snapshot open."""

    __slots__ = ("_next", "_rows", "description", "lastrowid", "rowcount")

    def __init__(self, rows: list, lastrowid: int | None, rowcount: int, description: tuple | None) -> None:
        self._rows, self._next = rows, 0
        self.lastrowid, self.rowcount, self.description = lastrowid, rowcount, description

    async def fetchone(self) -> sqlite3.Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchmany(self, size: int = 1) -> list:
        rows = self._rows[self._next:self._next + size]
        self._next += len(rows)
        return rows

    async def fetchall(self) -> list:
        rows = self._rows[self._next:]
        self._next = len(self._rows)
        return rows

    async def close(self) -> None:
        self._rows, self._next = [], 0

    def __aiter__(self) -> Rows:
        return self

    async def __anext__(self) -> sqlite3.Row:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


def _run_all(conn: aiosqlite.Connection, statements: list[tuple[str, object]]) -> list[list]:
    raw = conn._conn
    results = []
    for sql, parameters in statements:
        cur = raw.execute(sql, parameters)
        try:
            results.append(cur.fetchall())
        finally:
            cur.close()
    return results


def _run(conn: aiosqlite.Connection, sql: str, parameters: object, many: bool) -> Rows:
    # Runs on the connection's own thread (aiosqlite's), so the sqlite3 connection is only ever used there.
    raw = conn._conn
    cur = raw.executemany(sql, parameters) if many else raw.execute(sql, parameters)
    try:
        return Rows(cur.fetchall(), cur.lastrowid, cur.rowcount, cur.description)
    finally:
        cur.close()


async def _on(conn: aiosqlite.Connection, sql: str, parameters: object, many: bool = False) -> Rows:
    # aiosqlite's own queue to the connection's thread (a private method, stable since 0.17): one trip per statement.
    return await conn._execute(_run, conn, sql, parameters, many)


async def read_all(db: aiosqlite.Connection | Database, statements: list[tuple[str, object]]) -> list[list]:
    """The rows of each read statement: in one trip on a Database (a page's independent queries), else in turn."""
    if isinstance(db, Database):
        return await db.read_all(statements)
    return [list(await db.execute_fetchall(sql, parameters)) for sql, parameters in statements]


class Database:
    """The node's SQLite file: one writer connection and a few `query_only` readers, all in WAL.

    It offers the aiosqlite calls the store makes (`execute`, awaited or `async with`, `execute_fetchall`,
    `executemany`). A task inside `transaction(database)` talks to the writer: it reads its own writes and
    its statements are the transaction's. Any other task reads from the least busy reader, so it sees only
    committed rows and reads run side by side. A write outside a transaction is routed to the writer as a
    transaction of its own, after the one in progress: it never joins another task's transaction."""

    def __init__(self, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection]) -> None:
        self.writer = writer
        self.readers = readers
        self._busy = [0] * len(readers)

    @classmethod
    async def open(cls, writer: aiosqlite.Connection, path: Path | str, readers: int = READERS) -> Database:
        """The pool around an open (and migrated) writer: `readers` more connections to the same file."""
        opened: list[aiosqlite.Connection] = []
        try:
            for _ in range(max(readers, 1)):
                opened.append(await connect(path))
                await opened[-1].execute("PRAGMA query_only = ON")
        except BaseException:
            for conn in opened:
                await conn.close()
            raise
        return cls(writer, opened)

    def execute(self, sql: str, parameters: object = ()) -> Result[Rows]:
        """One statement; its whole result comes back at once (see Rows)."""
        return Result(self._route(sql, parameters or (), many=False))

    async def execute_fetchall(self, sql: str, parameters: object = ()) -> list:
        return await (await self._route(sql, parameters or (), many=False)).fetchall()

    async def executemany(self, sql: str, parameters: object) -> Rows:
        return await self._route(sql, parameters, many=True)

    async def read_all(self, statements: list[tuple[str, object]]) -> list[list]:
        """Several reads in one trip to one connection (the transaction's, else a reader): every row of each."""
        if in_transaction(self.writer):
            return await self.writer._execute(_run_all, self.writer, statements)
        return await self._on_reader(_run_all, statements)

    async def commit(self) -> None:
        """Nothing to do: a write outside transaction() commits on its own."""
        if in_transaction(self):
            raise RuntimeError("commit() inside transaction(): the transaction commits when its block ends")

    async def close(self) -> None:
        for conn in (*self.readers, self.writer):
            await conn.close()

    def reader(self) -> aiosqlite.Connection:
        """The reader with the fewest statements in flight."""
        return self.readers[self._busy.index(min(self._busy))]

    async def _on_reader(self, fn: Callable[..., T], *args: object) -> T:
        index = self._busy.index(min(self._busy))
        reader = self.readers[index]
        self._busy[index] += 1
        try:
            return await reader._execute(fn, reader, *args)
        finally:
            self._busy[index] -= 1

    async def _route(self, sql: str, parameters: object, many: bool) -> Rows:
        if in_transaction(self.writer):
            return await _on(self.writer, sql, parameters, many)
        verb = sql.lstrip()[:8].upper()
        if not many and verb.startswith(_READ_VERBS):
            try:
                return await self._on_reader(_run, sql, parameters, False)
            except sqlite3.OperationalError as exc:
                if error_code(exc) != SQLITE_READONLY:  # else `WITH … INSERT`: a write after all
                    raise
        if verb.startswith("PRAGMA"):
            # A setting is the writer's (busy_timeout, query_only, max_page_count): set between transactions,
            # and not inside BEGIN IMMEDIATE, which a writer set to query_only would refuse.
            async with _lock(self.writer):
                return await _on(self.writer, sql, parameters, many)
        async with transaction(self):
            return await _on(self.writer, sql, parameters, many)
