"""`congregation demo`: three seeded sibling Congregations in one real process, stopped cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from node.commands.demo import SPECS

pytestmark = pytest.mark.slow

NAMES = tuple(spec.name for spec in SPECS)
AS = {"Accept": "application/activity+json"}
READY = "Press Ctrl-C to stop."


def free_port_base(count: int = 3) -> int:
    """A port P with P, P+1, … P+count-1 all free on 127.0.0.1 right now."""
    for _ in range(100):
        base = random.randint(32_000, 32_760)  # above the workers' slices (fediverse.py), below ephemeral
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        return base
    raise RuntimeError("no free consecutive ports")


async def start_demo(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "node", "demo", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def read_until_ready(proc: asyncio.subprocess.Process, timeout: float = 25.0) -> str:
    """What the demo printed up to and including "Press Ctrl-C to stop."; fails if it exits or takes too long."""
    deadline, out = time.monotonic() + timeout, []
    while not out or READY not in out[-1]:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "demo not ready in time:\n" + "".join(out)
        line = await asyncio.wait_for(proc.stdout.readline(), remaining)
        if not line:
            stderr = (await proc.stderr.read()).decode()
            raise AssertionError(f"demo exited ({await proc.wait()}):\n{''.join(out)}\n{stderr}")
        out.append(line.decode())
    return "".join(out)


async def finish(proc: asyncio.subprocess.Process, timeout: float = 20.0) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def collection(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(url + "?page=1", headers=AS) as response:
        assert response.status == 200, url
        return (await response.json(content_type=None))["orderedItems"]


async def test_demo__three_siblings_serve_until_ctrl_c(tmp_path):
    base = free_port_base()
    urls = [f"http://127.0.0.1:{base + i}" for i in range(3)]
    proc = await start_demo("--seconds", "120", "--port-base", str(base))
    try:
        printed = await read_until_ready(proc)
        groups = [f"{url}/actors/group" for url in urls]
        for url, name in zip(urls, NAMES, strict=True):
            assert f"{url}/" in printed and f"@group@{url.removeprefix('http://')}" in printed
            assert name in printed
        assert "demo-password" in printed and "sign in as rosa" in printed and "partner" in printed

        async with aiohttp.ClientSession() as session:
            for url, group, name in zip(urls, groups, NAMES, strict=True):
                async with session.get(group, headers={"Accept": "text/html"}) as response:
                    assert response.status == 200 and name in await response.text()
                host = url.removeprefix("http://")
                async with session.get(f"{url}/.well-known/webfinger?resource=acct:group@{host}") as response:
                    assert response.status == 200
                    assert (await response.json(content_type=None))["subject"] == f"acct:group@{host}"
                others = sorted(g for g in groups if g != group)
                assert sorted(await collection(session, group + "/followers")) == others
                assert sorted(await collection(session, group + "/following")) == others
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
    code, out, err = await finish(proc)
    assert code == 0, err
    assert "Traceback" not in err + out
    data = re.search(r"^Data: (\S+)", printed, re.M).group(1)
    assert not Path(data).exists(), "the temporary data directory outlived the demo"


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def test_demo__keeps_data_given_and_reuses_it(tmp_path):
    base = free_port_base()
    code, out, err = await finish(await start_demo("--data", str(tmp_path), "--seconds", "0.2", "--port-base",
                                                   str(base)), timeout=40)
    assert code == 0 and READY in out, out + err
    dbs = [tmp_path / key / "congregation.sqlite3" for key in "abc"]
    groups = [f"http://127.0.0.1:{base + i}/actors/group" for i in range(3)]

    for db, group in zip(dbs, groups, strict=True):
        others = {g for g in groups if g != group}
        follows = _rows(db, "SELECT follower, followee, state FROM follows")
        assert {(f, s) for f, g, s in follows if g == group} == {(o, "accepted") for o in others}
        assert {(g, s) for f, g, s in follows if f == group} == {(o, "accepted") for o in others}
        assert _rows(db, "SELECT tier, COUNT(*) FROM members GROUP BY tier") == [("friend", 2), ("partner", 2)]
        assert _rows(db, "SELECT COUNT(*) FROM credentials")[0][0] == 4
        # What each sibling's members posted in public arrived here; their members-only posts did not.
        stored = " ".join(row[0] for row in _rows(db, "SELECT content FROM remote_objects"))
        for spec in SPECS:
            for _, visibility, text in spec.posts:
                mine = spec.key == db.parent.name
                assert (text in stored) == (visibility == "public" and not mine), (text, stored)
    posts = [_rows(db, "SELECT COUNT(*) FROM posts")[0][0] for db in dbs]
    assert posts == [3, 3, 3]

    code, out, err = await finish(await start_demo("--data", str(tmp_path), "--seconds", "0.2", "--port-base",
                                                   str(base)), timeout=40)
    assert code == 0 and READY in out and "temporary" not in out, out + err
    assert [_rows(db, "SELECT COUNT(*) FROM posts")[0][0] for db in dbs] == posts, "seeded twice"
    assert _rows(dbs[0], "SELECT COUNT(*) FROM members")[0][0] == 4

    code, out, err = await finish(await start_demo("--data", str(tmp_path), "--port-base", str(free_port_base())))
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"--port-base {base}" in err


async def test_demo__port_in_use_is_one_line(tmp_path):
    base = free_port_base()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 1))
        busy.listen()
        code, out, err = await finish(await start_demo("--port-base", str(base), "--seconds", "1"))
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()] and f"port {base + 1} on 127.0.0.1 is in use" in err
