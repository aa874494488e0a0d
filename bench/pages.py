"""How fast are the pages people read most: a member's home timeline, a member's profile, the Congregation's page?

    python bench/pages.py [--seconds N] [--concurrency C] [--members 150] [--posts 20000] [--remote 3000]

Builds a node in a temporary directory: MEMBERS members, POSTS posts by them (a third members-only, a few deleted),
REMOTE public notes from elsewhere (plus some that are not public), all inserted in bulk with SQL. Runs
`congregation serve` as its own process, signs one member in over HTTP, then drives each page from this process
with an aiohttp client, one request at a time and then CONCURRENCY in flight, for SECONDS each:
  1. a trivial aiohttp handler (its own process, same event loop as `serve`): the ceiling of the HTTP stack;
  2. GET /home signed in; GET /actors/{member} (HTML) signed in, a different member each time;
     GET /actors/{group} (HTML) signed out.
Prints p50/p99 latency (as the client sees it: server time plus loopback) and requests/s for each, the ratio of
each to the trivial handler, and whether the home timeline's p99 is under the 50 ms target. One request at a time
shows the time a page takes; with C in flight a saturated server's latency is about C ÷ its requests/s (queueing).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import platform
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPT = Path(__file__).resolve()
HOME_P99_TARGET_MS = 50.0
PASSWORD = "bench password, long enough"
WORDS = ["soup", "garden", "meeting", "rota", "childcare", "bikes", "repair", "tools", "library", "shared", "kitchen",
         "allotment", "compost", "rain", "market", "lift", "school", "tomorrow", "evening", "friday", "saturday",
         "thanks", "welcome", "everyone", "bring", "chairs", "plates", "https://example.org/notes"]


# --- small helpers ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)  # waiting for a port to open
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))]


def node_env() -> dict[str, str]:
    # The node refuses unknown CONGREGATION_* variables, so pass none of the caller's.
    return {k: v for k, v in os.environ.items() if not k.startswith("CONGREGATION_")}


def event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# --- the trivial server (its own process) ------------------------------------------------------------------

def serve_trivial(port: int) -> None:
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>ok</title><p>ok</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=event_loop())


# --- the data ----------------------------------------------------------------------------------------------

def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))).capitalize() + "."


def build(data: Path, port: int, members: int, posts: int, remote: int) -> tuple[str, list[str]]:
    """A node with its data; returns (the Group's handle, the members' handles)."""
    from node.activitypub import signatures
    from node.governance import accounts

    done = subprocess.run([sys.executable, "-m", "node", "init", "--base-url", f"http://127.0.0.1:{port}",
                           "--name", "Bench Congregation", "--data", str(data), "--allow-private-addresses"],
                          capture_output=True, text=True, timeout=60, env=node_env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"congregation init failed: {done.stderr.strip()}")
    rng = random.Random(1)
    # One key pair for every member: key generation is not what this bench measures.
    key = signatures.generate_private_key()
    private, public = signatures.private_pem(key), signatures.public_pem(key)
    password_hash = asyncio.run(accounts.hash_password(PASSWORD))
    start = datetime.now(UTC) - timedelta(days=365)
    handles = [f"member{n:03d}" for n in range(members)]
    db = sqlite3.connect(data / "congregation.sqlite3")
    try:
        with db:
            group_id, group_handle = db.execute("SELECT id, username FROM local_actors WHERE kind = 'Group'").fetchone()
            db.executemany(
                "INSERT INTO local_actors (username, kind, display_name, summary, private_key_pem, public_key_pem,"
                " created_at) VALUES (?, 'Person', ?, ?, ?, ?, ?)",
                [(h, f"Member {n}", sentence(rng), private, public, stamp(start)) for n, h in enumerate(handles)])
            ids = [row[0] for row in db.execute("SELECT id FROM local_actors WHERE kind = 'Person' ORDER BY id")]
            db.executemany("INSERT INTO members (actor_id, tier, joined_at) VALUES (?, ?, ?)",
                           [(i, "partner" if n < 10 else "friend", stamp(start)) for n, i in enumerate(ids)])
            db.execute("INSERT INTO credentials (actor_id, password_hash, changed_at) VALUES (?, ?, ?)",
                       (ids[0], password_hash, stamp(start)))
            db.executemany("INSERT INTO avatars (actor_id, media_type, data, updated_at) VALUES (?, 'image/png', ?, ?)",
                           [(i, b"\x89PNG\r\n\x1a\n" + bytes(200), stamp(start)) for i in ids[::7]])
            step = timedelta(days=365) / max(posts, 1)
            rows = []
            for n in range(posts):
                text = sentence(rng)
                author = group_id if n % 97 == 0 else rng.choice(ids)
                visibility = "members" if rng.random() < 0.35 else "public"
                when = stamp(start + step * n)
                rows.append((str(uuid.uuid4()), author, visibility, f"<p>{text}</p>", text, when,
                             when if n % 50 == 0 else None))
            db.executemany("INSERT INTO posts (uuid, author_id, visibility, to_group, content, source, published,"
                           " deleted_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)", rows)
            authors = [f"https://sibling{n % 4}.example/actors/person{n}" for n in range(40)]
            db.executemany(
                "INSERT INTO remote_actors (uri, kind, username, host, inbox, display_name, document, fetched_at)"
                " VALUES (?, 'Person', ?, ?, ?, ?, '{}', ?)",
                [(a, a.rsplit("/", 1)[1], a.split("/")[2], a + "/inbox", f"Person {n}", stamp(start))
                 for n, a in enumerate(authors)])
            step = timedelta(days=365) / max(remote, 1)
            db.executemany(
                "INSERT INTO remote_objects (uri, type, author, content, public, published, received_at, document)"
                " VALUES (?, 'Note', ?, ?, ?, ?, ?, '{}')",
                [(f"{a}/notes/{n}", a, f"<p>{sentence(rng)}</p>", int(rng.random() < 0.8),
                  stamp(start + step * n)[:19] + "Z", stamp(start + step * n + timedelta(seconds=3)))
                 for n in range(remote) for a in [rng.choice(authors)]])
    finally:
        db.close()
    return group_handle, handles


# --- the load ----------------------------------------------------------------------------------------------

async def sign_in(base: str, handle: str) -> str:
    """The session cookie's value for `handle`, signed in through the login form."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(base + "/login") as r:
            token = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)
        async with session.post(base + "/login", data={"csrf": token, "handle": handle, "password": PASSWORD},
                                allow_redirects=False) as r:
            assert r.status == 303, f"sign-in failed: {r.status}"
            return r.cookies["congregation_session"].value


async def load(base: str, paths: list[str], cookie: str | None, seconds: float, concurrency: int,
               pid: int) -> dict[str, Any]:
    """Drive GETs of `paths` (cycled) for `seconds` with `concurrency` in flight; latencies and statuses."""
    import aiohttp

    headers = {"Accept": "text/html"}
    if cookie:
        headers["Cookie"] = f"congregation_session={cookie}"
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    turn = iter(range(10**12))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers, cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def get(path: str) -> int:
            async with session.get(base + path, allow_redirects=False) as r:
                await r.read()
                return r.status

        for path in paths[:concurrency * 2]:  # warm caches and connections outside the window
            await get(path)

        async def worker(deadline: float) -> None:
            while time.perf_counter() < deadline:
                path = paths[next(turn) % len(paths)]
                started = time.perf_counter()
                status = await get(path)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1

        cpu, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    latencies.sort()
    return {"statuses": dict(statuses), "elapsed": elapsed, "rate": len(latencies) / elapsed,
            "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
            "cpu_per_request": cpu / max(len(latencies), 1)}


def measure(base: str, paths: list[str], cookie: str | None, seconds: float, concurrency: int,
            pid: int) -> dict[str, Any]:
    loop = event_loop()
    try:
        return loop.run_until_complete(load(base, paths, cookie, seconds, concurrency, pid))
    finally:
        loop.close()


def line(title: str, concurrency: int, result: dict[str, Any]) -> str:
    others = {k: v for k, v in result["statuses"].items() if k != 200}
    return (f"{title:<34}c={concurrency:<3}{result['rate']:7,.0f}/s   p50 {result['p50'] * 1000:6.1f} ms   "
            f"p99 {result['p99'] * 1000:6.1f} ms   server CPU {result['cpu_per_request'] * 1e6:6,.0f} µs/req"
            + (f"   non-200: {others}" if others else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each load window (default 4)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--remote", type=int, default=3_000, help="remote notes (80 %% public) (default 3000)")
    parser.add_argument("--role", choices=("main", "trivial"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "trivial":
        serve_trivial(args.port)
        return 0
    return orchestrate(args)


def orchestrate(args: argparse.Namespace) -> int:
    import aiohttp

    levels = sorted({1, args.concurrency})
    print(f"congregation pages bench: {os.cpu_count()} CPUs (shared by server and client), Python "
          f"{platform.python_version()}, aiohttp {aiohttp.__version__}, SQLite {sqlite3.sqlite_version}; "
          f"concurrency {' and '.join(map(str, levels))}, {args.seconds:g} s windows", flush=True)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    trivial_port = free_port()
    trivial = subprocess.Popen([sys.executable, str(SCRIPT), "--role", "trivial", "--port", str(trivial_port)])
    try:
        wait_for_port(trivial_port, trivial)
        for c in levels:
            results["trivial", c] = measure(f"http://127.0.0.1:{trivial_port}", ["/"], None, args.seconds, c,
                                            trivial.pid)
            print(line("trivial aiohttp handler", c, results["trivial", c]), flush=True)
    finally:
        stop_process(trivial)

    with tempfile.TemporaryDirectory(prefix="congregation-pages-") as tmp:
        data, port = Path(tmp) / "node", free_port()
        started = time.monotonic()
        group, handles = build(data, port, args.members, args.posts, args.remote)
        print(f"built {args.members} members, {args.posts:,} posts, {args.remote:,} remote notes in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        base = f"http://127.0.0.1:{port}"
        with open(data / "serve.log", "ab") as log:
            node = subprocess.Popen([sys.executable, "-m", "node", "serve", "--data", str(data)],
                                    stdout=log, stderr=subprocess.STDOUT, env=node_env())
            try:
                wait_for_port(port, node)
                cookie = asyncio.run(sign_in(base, handles[0]))
                for key, title, paths, who in (
                        ("home", "GET /home (signed in)", ["/home"], cookie),
                        ("profile", "GET /actors/{member} (signed in)", [f"/actors/{h}" for h in handles], cookie),
                        ("group", f"GET /actors/{group} (signed out)", [f"/actors/{group}"], None)):
                    for c in levels:
                        results[key, c] = measure(base, paths, who, args.seconds, c, node.pid)
                        print(line(title, c, results[key, c]), flush=True)
            finally:
                stop_process(node)
    return report(results, levels)


def report(results: dict[tuple[str, int], dict[str, Any]], levels: list[int]) -> int:
    print()
    print("ratios to the trivial handler at the same concurrency (same client, same run):")
    print(f"{'':<12}{'c':>4}{'req/s':>10}{'p50':>10}{'p99':>10}{'CPU/req':>10}")
    for key in ("home", "profile", "group"):
        for c in levels:
            r, t = results[key, c], results["trivial", c]
            print(f"{key:<12}{c:>4}{r['rate'] / t['rate']:>10.3f}{r['p50'] / t['p50']:>10.1f}"
                  f"{r['p99'] / t['p99']:>10.1f}{r['cpu_per_request'] / t['cpu_per_request']:>10.1f}")
    ok = True
    for c in levels:
        home = results["home", c]
        p99 = home["p99"] * 1000
        met = p99 < HOME_P99_TARGET_MS and set(home["statuses"]) == {200}
        ok = ok and met
        print(f"target: home timeline p99 < {HOME_P99_TARGET_MS:.0f} ms at concurrency {c}: "
              f"{'met' if met else 'MISSED'} ({p99:.1f} ms; {p99 / HOME_P99_TARGET_MS:.2f} of the limit)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
