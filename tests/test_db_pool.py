"""The node's pool: a transaction's rows stay its own until commit, reads run side by side, writes never mix."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from node import db as database
from node.db import Database, transaction


@pytest.fixture
async def pool(tmp_path):
    path = tmp_path / "pool.sqlite3"
    writer = await database.connect(path)
    await writer.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    db = await Database.open(writer, path, readers=2)
    yield db
    await db.close()


async def _texts(db) -> list[str]:
    return [row[0] for row in await db.execute_fetchall("SELECT text FROM notes ORDER BY id")]


async def test_pool__another_task_never_reads_rows_a_transaction_has_not_committed(pool):
    wrote, looked = asyncio.Event(), asyncio.Event()
    seen: dict[str, list[str]] = {}

    async def writer() -> None:
        async with transaction(pool):
            await pool.execute("INSERT INTO notes (text) VALUES ('draft')")
            wrote.set()
            await looked.wait()  # the transaction stays open while the other task reads

    async def reader() -> None:
        await wrote.wait()
        seen["during"] = await _texts(pool)
        looked.set()

    # Given one task inside a transaction that has inserted a row, when another task reads
    await asyncio.gather(writer(), reader())

    # Then the reader did not see the uncommitted row, and sees it once committed
    assert seen["during"] == []
    assert await _texts(pool) == ["draft"]


async def test_pool__inside_a_transaction_reads_see_its_own_writes(pool):
    async with transaction(pool) as db:
        cur = await db.execute("INSERT INTO notes (text) VALUES ('mine')")
        assert cur.lastrowid == 1
        async with db.execute("SELECT text FROM notes WHERE id = ?", (cur.lastrowid,)) as found:
            assert (await found.fetchone())[0] == "mine"
        assert await _texts(db) == ["mine"]
        async with transaction(db):  # a nested block (a SAVEPOINT) reads them too
            assert await _texts(db) == ["mine"]


async def test_pool__two_reads_run_at_once_on_different_connections(pool):
    inside, threads, both_inside, release = 0, set(), threading.Event(), threading.Event()
    guard = threading.Lock()

    def hold() -> int:
        # Runs on the connection's thread: count who is inside, and stay until the test lets go.
        nonlocal inside
        with guard:
            inside += 1
            threads.add(threading.get_ident())
            if inside == 2:
                both_inside.set()
        release.wait(10)
        return 1

    for conn in pool.readers:
        await conn.create_function("hold", 0, hold)
    # Given a read in progress, when a second one starts
    reads = [asyncio.create_task(pool.execute_fetchall("SELECT hold()")) for _ in range(2)]
    try:
        # Then both are inside SQLite at the same time, on two connections' threads
        assert await asyncio.to_thread(both_inside.wait, 10), "the second read waited for the first"
    finally:
        release.set()
    assert [list(map(tuple, rows)) for rows in await asyncio.gather(*reads)] == [[(1,)], [(1,)]]
    assert len(threads) == 2


async def test_pool__a_write_outside_a_transaction_waits_for_the_open_one_and_never_joins_it(pool):
    routed: asyncio.Task | None = None

    # Given a task inside a transaction that will roll back
    with pytest.raises(RuntimeError, match="undo"):
        async with transaction(pool):
            await pool.execute("INSERT INTO notes (text) VALUES ('undone')")
            # When another task writes without a transaction of its own, while this one is open
            routed = asyncio.create_task(pool.execute("INSERT INTO notes (text) VALUES ('kept')"))
            for _ in range(5):
                await asyncio.sleep(0)  # let it run as far as it can: a shared connection would take its write now
            raise RuntimeError("undo")

    # Then that write is its own transaction: it outlives the rollback, which took only the other's row
    await routed
    assert await _texts(pool) == ["kept"]


async def test_pool__readers_refuse_writes(pool):
    # The readers are query_only: a write that reached one by mistake fails instead of committing on its own
    with pytest.raises(sqlite3.OperationalError) as refused:
        await pool.reader().execute("INSERT INTO notes (text) VALUES ('sneaky')")
    assert database.error_code(refused.value) == database.SQLITE_READONLY
    assert await _texts(pool) == []


async def test_pool__read_all_answers_each_statement_in_one_trip_as_a_plain_connection_does_in_turn(pool):
    statements = [("SELECT text FROM notes ORDER BY id", ()), ("SELECT COUNT(*) FROM notes WHERE text = ?", ("b",))]
    async with transaction(pool):
        await pool.executemany("INSERT INTO notes (text) VALUES (?)", [("a",), ("b",)])
        # Inside the transaction it reads the transaction's rows, as execute does
        mine = await database.read_all(pool, statements)
    on_writer = await database.read_all(pool.writer, statements)
    assert [[tuple(row) for row in rows] for rows in mine] == [[("a",), ("b",)], [(1,)]]
    assert [[tuple(row) for row in rows] for rows in on_writer] == [[("a",), ("b",)], [(1,)]]
