"""Nothing lost (issue 3, acceptance 3): 50 notes to a stopped peer, the sender SIGKILLed twice, all arrive once.

Two real `congregation serve` processes; A's delivery clock is a FileOffsetClock the test moves forward.
The notes are published with `outbox.publish` against A's database while A runs (the member `post`
command is being built elsewhere); everything after the commit is the real delivery path.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from node import db as database
from node.activitypub.outbox import new_activity_id, publish
from node.clock import FileOffsetClock, clock_env
from node.store import local_actors
from tests.fediverse import NodeProcess, cli, eventually, free_port, init_node

pytestmark = pytest.mark.slow

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
HOUR = 3600.0


def _query(path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql, args).fetchall()


async def _post_notes(config, handle: str, inbox: str, n: int) -> list[str]:
    db = await database.connect(config.db_path)
    try:
        author = await local_actors.by_username(db, handle)
        me = f"{config.base_url}/actors/{handle}"
        ids = []
        for i in range(n):
            note = {"id": f"{config.base_url}/notes/{uuid.uuid4()}", "type": "Note", "attributedTo": me,
                    "content": f"note {i}", "to": [PUBLIC]}
            activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": new_activity_id(config),
                        "type": "Create", "actor": me, "object": note, "to": [PUBLIC]}
            async with database.transaction(db):
                await publish(db, author, activity, [inbox], public=True)
            ids.append(activity["id"])
        return ids
    finally:
        await db.close()


async def test_nothing_lost__50_notes_survive_two_sigkills_and_a_peer_outage(tmp_path):
    a_cfg = init_node(tmp_path / "a", free_port(), "Alpha")
    b_cfg = init_node(tmp_path / "b", free_port(), "Beta")
    clock = FileOffsetClock(tmp_path / "clock")
    clock.set_offset(0)
    env = clock_env(clock.path)
    assert cli("member", "add", "alice", "--data", str(a_cfg.data_dir))[0] == 0
    a = NodeProcess(a_cfg.data_dir, env=env).start()
    b = NodeProcess(b_cfg.data_dir)
    queued = "SELECT COUNT(*) FROM deliveries WHERE state = 'queued' AND attempts >= 1"
    try:
        # Given B is stopped and A's member posts 50 notes, which A tries to deliver and cannot
        ids = await _post_notes(a_cfg, "alice", f"{b_cfg.base_url}/inbox", 50)

        async def all_attempted():
            return _query(a_cfg.db_path, queued)[0][0] == 50

        await eventually(all_attempted)
        # When A is killed while it retries them
        clock.set_offset(HOUR)
        a.kill()
        # And B comes back; A's queue is spread out so that the next kill lands with about half delivered
        b.start()
        with sqlite3.connect(a_cfg.db_path) as conn:
            conn.execute("UPDATE deliveries SET next_attempt_at = ? + 60 * (id % 50), lease_until = 0",
                         (clock.now() + HOUR,))
            conn.execute("DELETE FROM hosts")  # as if B had been seen alive
        a = NodeProcess(a_cfg.data_dir, env=env).start()
        clock.set_offset(2 * HOUR + 25 * 60)

        async def b_has(n: int):
            rows = _query(b_cfg.db_path, "SELECT COUNT(*) FROM inbox WHERE type = 'Create'")
            return rows[0][0] >= n

        await eventually(lambda: b_has(20))
        a.kill()
        delivered_at_kill = _query(b_cfg.db_path, "SELECT COUNT(*) FROM inbox WHERE type = 'Create'")[0][0]
        assert 20 <= delivered_at_kill < 50
        # And A restarts and time moves past every backoff and lease
        a = NodeProcess(a_cfg.data_dir, env=env).start()
        clock.set_offset(10 * HOUR)

        async def a_done():
            return _query(a_cfg.db_path, "SELECT COUNT(*) FROM deliveries WHERE state = 'done'")[0][0] == 50

        await eventually(a_done, timeout=30)
    finally:
        a.stop()
        b.stop()
    # Then every one of the 50 arrived at B exactly once, and nothing else did
    received = _query(b_cfg.db_path, "SELECT activity_id, COUNT(*) FROM inbox WHERE type = 'Create'"
                                     " GROUP BY activity_id")
    assert sorted(r[0] for r in received) == sorted(ids)
    assert all(r[1] == 1 for r in received)
    assert _query(a_cfg.db_path, "SELECT COUNT(*) FROM deliveries WHERE state != 'done'")[0][0] == 0
