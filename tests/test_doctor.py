"""`congregation doctor` as the operator runs it: a real process against real nodes, files, a tmpfs and loopback
servers; one line per check, exit 1 when any check failed, never a traceback."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from node import config as configuration
from node.clock import FileOffsetClock, clock_env
from node.db import transaction
from node.store import remote_objects
from node.store.remote_objects import RemoteObject
from tests.fediverse import InProcessNode, free_port, init_node, run_cli, update_settings

pytestmark = pytest.mark.slow

STATUSES = ("ok", "warn", "FAIL", "skip")


async def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """`congregation doctor ARGS` as a process (the event loop keeps serving in-process nodes meanwhile):
    (exit status, {check name: its line}, stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node", "doctor", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode() + err.decode()
    assert "Traceback" not in text, text
    lines = {}
    for line in out.decode().splitlines():
        match = re.match(r"^(ok|warn|FAIL|skip) +([^:]+): ", line)
        assert match, f"not a check line: {line!r}"
        lines[match.group(2)] = line
    return proc.returncode, lines, text


def db_path(data: Path) -> Path:
    return data / configuration.DB_FILE


async def test_doctor__healthy_node__every_line_ok(tmp_path):
    # Given a running node with its Group and one member
    config = init_node(tmp_path / "a", free_port(), "Alpha")
    assert await run_cli("member", "add", "rosa", "--data", str(config.data_dir)) == 0
    node = await InProcessNode(config).start()
    # And a remote post of 20 kB stored today
    note = RemoteObject("https://r.example/notes/1", "Note", "https://r.example/users/x", "x" * 20_000, None, None,
                        None, None, True, None, None)
    async with transaction(node.db):
        await remote_objects.insert(node.db, note, json.dumps({"content": note.content}))
    try:
        # When the operator asks the doctor
        status, lines, text = await doctor("--data", str(config.data_dir))
    finally:
        await node.close()
    # Then every check passes
    assert status == 0, text
    assert list(lines) == ["config", "database", "keys", "disk", "growth", "base URL", "clock"], text
    assert all(line.startswith("ok    ") for line in lines.values()), text
    assert lines["config"] == f"ok    config: {config.data_dir / 'congregation.toml'} (base_url {config.base_url})"
    assert "the Group @group and 1 person" in lines["keys"]
    assert re.search(r"the database takes \d+(\.\d+)? [KMG]i?B", lines["disk"]), text
    # And the growth line says which table took what, and what the stored objects hold
    assert lines["growth"].startswith("ok    growth: last 1h: inbox +0, remote_objects +1, reactions +0,"
                                      " deliveries +"), text
    assert "remote_objects +1, reactions +0, deliveries +0 (20 KiB of objects)" in lines["growth"], text
    assert "remote objects hold 20 KiB, the inbox's waiting activities 0 bytes" in lines["growth"], text
    assert f"answers as {config.base_url}/actors/group with the Group's key" in lines["base URL"]


async def test_doctor__wrong_base_url__names_both_ids_or_cannot_reach(tmp_path):
    # Given node B serving, node A's base_url pointing at B's port (B answers as itself), and a copy of A whose
    # base_url points where nothing listens
    a = init_node(tmp_path / "a", free_port(), "Alpha")
    lost = shutil.copytree(a.data_dir, tmp_path / "lost")
    b_port, nobody = free_port(), free_port()
    update_settings(a.data_dir, base_url=f"http://localhost:{b_port}")
    update_settings(lost, base_url=f"http://127.0.0.1:{nobody}")
    b = await InProcessNode(init_node(tmp_path / "b", b_port, "Beta")).start()
    try:
        (status, lines, text), (lost_status, lost_lines, lost_text) = await asyncio.gather(
            doctor("--data", str(a.data_dir)), doctor("--data", str(lost)))
    finally:
        await b.close()
    # Then the base URL check fails naming the id answered and the one expected
    assert status == 1, text
    assert lines["base URL"].startswith(
        f"FAIL  base URL: the server at http://localhost:{b_port} answers as http://127.0.0.1:{b_port}/actors/group,"
        f" expected http://localhost:{b_port}/actors/group"), text
    # And where nothing listens, it cannot reach the node
    assert lost_status == 1, lost_text
    assert lost_lines["base URL"] == (f"FAIL  base URL: cannot reach http://127.0.0.1:{nobody}: Connection refused "
                                      "(is the node running, and does the proxy forward to it?)"), lost_text


async def test_doctor__missing_key_and_missing_database(tmp_path):
    # Given one node whose Group's private key was blanked in the database, and a copy whose database is gone
    config = init_node(tmp_path / "a", free_port())
    gone = shutil.copytree(config.data_dir, tmp_path / "gone")
    with sqlite3.connect(db_path(config.data_dir)) as db:
        db.execute("UPDATE local_actors SET private_key_pem = '' WHERE kind = 'Group'")
    db.close()
    for path in gone.glob(configuration.DB_FILE + "*"):
        path.unlink()
    (status, lines, text), (gone_status, gone_lines, gone_text) = await asyncio.gather(
        doctor("--data", str(config.data_dir), "--offline"), doctor("--data", str(gone), "--offline"))
    # Then the keys check fails naming the Group
    assert status == 1, text
    assert lines["keys"].startswith("FAIL  keys: the Group @group has no private key"), text
    assert lines["database"].startswith("ok    database:"), text
    assert lines["base URL"] == "skip  base URL: not checked (--offline)"
    # And the database check says the database, with every key, is missing
    assert gone_status == 1, gone_text
    assert gone_lines["database"].startswith(
        f"FAIL  database: {db_path(gone)} is missing: it is the database, and it holds every key"), gone_text
    assert gone_lines["keys"].startswith("skip  keys:"), gone_text


async def test_doctor__corrupt_database(tmp_path):
    # Given a node that ran and stopped, then had its database overwritten from page 2 on
    config = init_node(tmp_path / "a", free_port())
    await (await InProcessNode(config).start()).close()
    path = db_path(config.data_dir)
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.seek(4096)
        file.write(bytes(range(7, 250)) * ((size - 4096) // 243 + 1))
    status, lines, text = await doctor("--data", str(config.data_dir), "--offline")
    assert status == 1, text
    assert lines["database"].startswith(f"FAIL  database: {path} is corrupt: "), text
    assert lines["keys"].startswith("skip  keys:"), text


async def test_doctor__full_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, check=False
    ).returncode == 0
    try:
        # Given a node whose data directory is on a 2 MiB filesystem that is then filled up
        config = init_node(mount / "node", free_port())
        if mounted:
            with open(mount / "ballast", "wb") as ballast:
                try:
                    while True:
                        ballast.write(b"\0" * 65536)
                        ballast.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            extra = []
        else:
            # Not root, or no CAP_SYS_ADMIN (a container): no small filesystem to fill, so ask for more than is free.
            extra = ["--min-free", str(shutil.disk_usage(mount).free + (1 << 30))]
        status, lines, text = await doctor("--data", str(config.data_dir), "--offline", *extra)
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], check=True)
    # Then the disk check fails: too little free, and (on the full tmpfs) the scratch write itself
    assert status == 1, text
    assert re.match(rf"FAIL  disk: .+ free in {re.escape(str(config.data_dir))}, need at least ", lines["disk"]), text
    if mounted:
        assert f"cannot write to {config.data_dir}: No space left on device" in lines["disk"], text


def _skewed_server(seconds: float) -> TestServer:
    """A loopback server whose Date header is SECONDS in the past."""
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({}, headers={"Date": formatdate(time.time() - seconds, usegmt=True)})

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return TestServer(app, host="127.0.0.1")


async def test_doctor__clock_skew(tmp_path):
    # Given a running node whose Group follows an actor on a server 10 minutes behind
    config = init_node(tmp_path / "a", free_port())
    node = await InProcessNode(config).start()
    late = _skewed_server(600)
    await late.start_server()
    late_host = f"127.0.0.1:{late.port}"
    with sqlite3.connect(db_path(config.data_dir)) as db:
        db.execute("INSERT INTO follows (follower, followee, activity_id, state, created_at, updated_at)"
                   " VALUES (?, ?, ?, 'accepted', '2025-01-01', '2025-01-01')",
                   (node.group_id, f"http://{late_host}/actors/group", f"{node.base}/follows/1"))
    db.close()
    clock = FileOffsetClock(tmp_path / "clock")
    clock.set_offset(-600)
    try:
        # When the doctor compares with the followed host (the default), with the node itself (in step), and
        # with the node while the doctor's own clock runs 10 minutes slow
        (default_status, default, t1), (peer_status, peer, t2), (slow_status, slow, t3) = await asyncio.gather(
            doctor("--data", str(config.data_dir)),
            doctor("--data", str(config.data_dir), "--peer", node.base),
            doctor("--data", str(config.data_dir), "--peer", node.base, env=clock_env(clock.path)))
    finally:
        await late.close()
        await node.close()
    match = re.match(rf"FAIL  clock: (\d+) s ahead of {late_host}'s Date \(signed requests will be refused; run NTP\)$",
                     default["clock"])
    assert default_status == 1 and match and 595 <= int(match.group(1)) <= 605, t1
    assert peer_status == 0, t2
    assert peer["clock"].startswith(f"ok    clock: within 1 s of {config.host}'s Date") or \
        peer["clock"].startswith(f"ok    clock: within 0 s of {config.host}'s Date"), t2
    match = re.match(rf"FAIL  clock: (\d+) s behind {config.host}'s Date", slow["clock"])
    assert slow_status == 1 and match and 595 <= int(match.group(1)) <= 605, t3


async def test_doctor__bad_input(tmp_path):
    missing = tmp_path / "nowhere"
    (status, lines, text), (missing_status, missing_lines, missing_text) = await asyncio.gather(
        doctor("--data", str(tmp_path), "--min-free", "banana"), doctor("--data", str(missing)))
    # A size that is not one: argparse's one line, exit 2
    assert status == 2 and lines == {}, text
    assert text.strip() == ("congregation: argument --min-free: expected a size such as 100M, 1G or a number of "
                            "bytes, got 'banana' (see `congregation --help`)")
    # A data directory that does not exist: the config check fails, the rest are skipped
    assert missing_status == 1, missing_text
    assert missing_lines["config"] == (f"FAIL  config: data directory {missing} does not exist "
                                       "(run `congregation init` first)"), missing_text
    assert [line.split()[0] for line in missing_lines.values()] == ["FAIL"] + ["skip"] * 6, missing_text
