"""Backups: taken while a real node takes inbox POSTs and member posts, restored into a new directory, the
restored node serves the same actors with the same keys, and every activity acknowledged before the backup
started is in it."""

from __future__ import annotations

import asyncio
import sqlite3
import sys

import aiohttp
import pytest

from tests.fediverse import AS_JSON, NodeProcess, cli, eventually, free_port, init_node

pytestmark = pytest.mark.slow


async def congregation(*args: str) -> tuple[int, str, str]:
    """The command as a real process, without blocking this loop (the fake remote actor must keep answering)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "node", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


def _rows(path, sql: str, *args):
    with sqlite3.connect(path) as db:
        return db.execute(sql, args).fetchall()


async def test_backup__taken_under_load_restores_the_same_actors_keys_and_every_acknowledged_activity(
        tmp_path, remote, session):
    # Given a node running as a real process, with a member who posts
    config = init_node(tmp_path / "live", free_port(), "Live")
    node = NodeProcess(config.data_dir).start()
    try:
        assert (await congregation("member", "add", "ada", "--data", str(config.data_dir)))[0] == 0
        assert (await congregation("post", "--as", "ada", "--visibility", "public", "Before the backup",
                                   "--data", str(config.data_dir)))[0] == 0
        acked: list[str] = []
        under_way = asyncio.Event()

        async def load(count: int) -> None:
            for i in range(count):
                activity = remote.activity("Follow", f"{config.base_url}/actors/ada", suffix=f"load-{i}")
                status, _ = await remote.post(session, f"{config.base_url}/inbox", activity)
                if status == 202:
                    acked.append(activity["id"])
                if len(acked) == 40:
                    under_way.set()

        posted: list[str] = []
        sending = True

        async def member_posts() -> None:
            """The member keeps posting, each post acknowledged when the command prints its id."""
            i = 0
            while sending:
                i += 1
                code, out, err = await congregation("post", "--as", "ada", "--visibility", "members",
                                                    f"During the load {i}", "--data", str(config.data_dir))
                assert code == 0, err
                posted.append(f"During the load {i}")

        # When inbox POSTs and member posts keep arriving and a backup is taken in the middle of them
        sender = asyncio.create_task(load(200))
        poster = asyncio.create_task(member_posts())
        await asyncio.wait_for(under_way.wait(), 30)

        async def some_posted() -> bool:  # at least one member post acknowledged before the backup starts
            return bool(posted)

        await eventually(some_posted, timeout=30)
        acked_before, posted_before = list(acked), list(posted)
        backup_file = tmp_path / "congregation-backup.tar.gz"
        code, out, err = await congregation("backup", str(backup_file), "--data", str(config.data_dir))
        assert code == 0, err
        await sender
        sending = False
        await poster
        assert len(acked) > len(acked_before) and len(posted) > len(posted_before)
        live_keys = _rows(config.db_path, "SELECT username, private_key_pem, public_key_pem FROM local_actors"
                                          " ORDER BY id")
    finally:
        node.stop()

    # Then it restores into an empty directory, with every key and everything acknowledged before it started
    restored = tmp_path / "restored"
    code, out, err = await congregation("restore", str(backup_file), "--data", str(restored))
    assert code == 0, err
    db = restored / "congregation.sqlite3"
    assert _rows(db, "SELECT username, private_key_pem, public_key_pem FROM local_actors ORDER BY id") == live_keys
    stored = {row[0] for row in _rows(db, "SELECT activity_id FROM inbox")}
    assert set(acked_before) <= stored
    sources = {row[0] for row in _rows(db, "SELECT source FROM posts")}
    assert {"Before the backup", *posted_before} <= sources

    # And the restored node serves the same Group with the same key
    again = NodeProcess(restored).start()
    try:
        async with aiohttp.ClientSession() as client, \
                client.get(f"{config.base_url}/actors/group", headers={"Accept": AS_JSON}) as r:
            group = await r.json(content_type=None)
        assert group["publicKey"]["publicKeyPem"] == live_keys[0][2]
    finally:
        again.stop()

    # And restoring over it, or from a file that is not a backup, is refused in one line and changes nothing
    code, _, err = await congregation("restore", str(backup_file), "--data", str(restored))
    assert code == 1 and "already holds a Congregation" in err and len(err.strip().splitlines()) == 1
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tarball")
    code, _, err = await congregation("restore", str(bogus), "--data", str(tmp_path / "empty"))
    assert code == 1 and "cannot be read as a backup" in err
    assert not (tmp_path / "empty" / "congregation.sqlite3").exists()


async def test_serve__sigterm_stops_the_node_cleanly_within_ten_seconds(tmp_path):
    # Given a running node with a member
    config = init_node(tmp_path / "live", free_port(), "Live")
    node = NodeProcess(config.data_dir).start()
    assert (await congregation("member", "add", "ada", "--data", str(config.data_dir)))[0] == 0
    # When it is sent SIGTERM, as `docker stop` does
    node.proc.send_signal(15)
    # Then it exits with status 0 within 10 s, without a traceback
    code = await asyncio.wait_for(asyncio.to_thread(node.proc.wait), 10)
    node.stop()
    assert code == 0 and "Traceback" not in node.log.read_text()


def test_backup__a_large_database_shows_its_progress_in_a_log(tmp_path):
    # Given a Congregation whose database has grown past 16 MiB (the size from which progress shows)
    config = init_node(tmp_path / "big", free_port(), "Big")
    with sqlite3.connect(config.db_path) as db:
        db.execute("CREATE TABLE padding (blob BLOB)")
        db.executemany("INSERT INTO padding VALUES (randomblob(1048576))", [()] * 24)
    # When it is backed up with stderr going to a file (as under `docker exec` or cron)
    code, out, err = cli("backup", str(tmp_path / "big.tar.gz"), "--data", str(config.data_dir))
    # Then the log shows one line per tenth, ending at 100 %, and the backup holds every page
    assert code == 0, err
    lines = [line for line in err.splitlines() if "copied" in line]
    percents = [int(line.rsplit("(", 1)[1].split(" ")[0]) for line in lines]
    assert percents == sorted(set(percents)) and percents[-1] == 100 and len(percents) >= 5
    restored = tmp_path / "restored"
    assert cli("restore", str(tmp_path / "big.tar.gz"), "--data", str(restored))[0] == 0
    assert _rows(restored / "congregation.sqlite3", "SELECT COUNT(*) FROM padding") == [(24,)]
