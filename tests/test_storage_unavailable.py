"""A full or locked database answers 503 + Retry-After, writes nothing, and a later resend lands once."""

from __future__ import annotations

import json
import sqlite3

from node.appkeys import INBOX_WRITER


async def _writer_pragma(node, sql: str) -> int:
    async with node.app[INBOX_WRITER].db.execute(sql) as cur:
        row = await cur.fetchone()
    return row[0] if row else 0


async def test_inbox__database_full__503_then_accepted_once(node, remote, session):
    big = remote.activity("Create", {"id": remote.origin + "/notes/1", "type": "Note",
                                     "attributedTo": remote.id, "content": "x" * 200_000})
    # Given the key is cached (its fetch writes too) and the database cannot grow
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Like", node.group_id))
    assert status == 202
    before = await node.snapshot()
    pages = await _writer_pragma(node, "PRAGMA page_count")
    await _writer_pragma(node, f"PRAGMA max_page_count = {pages}")

    # When an activity arrives that needs more room
    status, text = await remote.post(session, node.base + "/inbox", big)

    # Then it is refused for now, and nothing was written
    assert status == 503, text
    assert await node.snapshot() == before

    # When room returns, the same activity sent again is accepted, once
    await _writer_pragma(node, "PRAGMA max_page_count = 1073741823")
    for _ in range(2):
        status, _ = await remote.post(session, node.base + "/inbox", big)
        assert status == 202
    assert await node.count("inbox", "activity_id = ?", big["id"]) == 1


async def test_inbox__database_locked__503_with_retry_after(node, remote, session):
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Like", node.group_id))
    assert status == 202
    await _writer_pragma(node, "PRAGMA busy_timeout = 50")
    before = await node.snapshot()
    activity = remote.activity("Like", node.group_id)
    body = json.dumps(activity).encode()

    # Given another process holds the write lock
    other = sqlite3.connect(node.config.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        headers = remote.signed_headers("POST", node.base + "/inbox", body)
        async with session.post(node.base + "/inbox", data=body, headers=headers) as r:
            status, retry_after = r.status, r.headers.get("Retry-After")
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert status == 503 and retry_after
    assert await node.snapshot() == before
    status, _ = await remote.post(session, node.base + "/inbox", activity)
    assert status == 202
    assert await node.count("inbox", "activity_id = ?", activity["id"]) == 1
