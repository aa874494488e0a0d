"""The inbox writer commits in batches, and one row the database refuses does not fail its neighbours."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from node import db as database
from node.activitypub.inbox import InboxWriter


@pytest.fixture
async def writer(tmp_path):
    conn = await database.connect(tmp_path / "w.sqlite3")
    await database.migrate(conn)
    w = InboxWriter(conn)
    w.start()
    yield w
    await w.stop()
    await conn.close()


async def _count(conn) -> int:
    async with conn.execute("SELECT COUNT(*) FROM inbox") as cur:
        return (await cur.fetchone())[0]


async def test_inbox_writer__concurrent_puts_share_commits(writer):
    puts = [writer.put(f"https://r.example/a/{i}", "Like", "https://r.example/u", None, "{}") for i in range(300)]
    await asyncio.gather(*puts)
    assert await _count(writer.db) == 300


async def test_inbox_writer__bad_row_fails_alone(writer):
    good = [writer.put(f"https://r.example/a/{i}", "Like", "https://r.example/u", None, "{}") for i in range(5)]
    # A value SQLite cannot bind: the kind of row no validation upstream should let through, but might.
    bad = writer.put("https://r.example/bad", "Like", "https://r.example/u", None, ["not", "text"])
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert results[:5] == [None] * 5
    assert isinstance(results[5], sqlite3.ProgrammingError)
    assert await _count(writer.db) == 5


async def test_inbox_writer__duplicate_id_is_one_row(writer):
    await asyncio.gather(*(writer.put("https://r.example/a/1", "Like", "https://r.example/u", None, "{}")
                           for _ in range(3)))
    assert await _count(writer.db) == 1
