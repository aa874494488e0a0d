"""How fast does one activity reach N follower inboxes, and how does that compare with RSA signing?

    python bench/fanout.py [--sizes 10,100,200] [--concurrency 32]

Receivers run in a separate process: one aiohttp site per inbox, each on its own loopback port (so each inbox
is a distinct host to the worker). The node side is the real DeliveryWorker on a fresh database, signing every
request (the signature covers Host and (request-target), so it differs per inbox and cannot be shared).
Prints, per N: wall time from publish to the last 2xx recorded, deliveries/s, p50/p99 latency (publish to
arrival), and deliveries/s as a fraction of the single-core RSA-2048 signing rate measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS_FOR_200 = 1.0


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def receivers(ports: list[int], conn) -> None:
    """Child process: a 202 inbox on every port; reports arrival times when asked."""
    from aiohttp import web

    arrivals: list[float] = []

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        arrivals.append(time.time())
        return web.Response(status=202)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/inbox", inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port, backlog=512).start()
        conn.send("ready")
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            conn.send(list(arrivals))
            arrivals.clear()
        await runner.cleanup()

    asyncio.run(main())


def signing_rate(seconds: float = 1.0) -> float:
    from node.activitypub.signatures import generate_private_key, sign

    key, body, n = generate_private_key(), b"{}" * 200, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign("POST", f"http://127.0.0.1:{10000 + n % 500}/inbox", "http://x/actors/group#main-key", key, body,
             "application/activity+json")
        n += 1
    return n / (time.perf_counter() - start)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def fan_out(data: Path, ports: list[int], conn, sizes: list[int], concurrency: int) -> list[tuple]:
    from node import config as configuration
    from node import db as database
    from node.activitypub.delivery import DeliveryWorker
    from node.activitypub.fetch import HttpClient
    from node.activitypub.outbox import new_activity_id, publish
    from node.clock import SystemClock
    from node.store import deliveries, local_actors

    config = configuration.load(data, env={})
    db = await database.connect(config.db_path)
    await database.migrate(db)
    client = HttpClient(allow_private=True, max_bytes=config.fetch_max_bytes, connect_timeout=5,
                        total_timeout=30, max_redirects=0)
    worker = DeliveryWorker(db, config, client, clock=SystemClock(), concurrency=concurrency)
    group = await local_actors.group(db)
    task = asyncio.create_task(worker.run_forever())
    results = []
    try:
        for n in sizes:
            before = (await deliveries.counts(db)).get("done", 0)
            activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": new_activity_id(config),
                        "type": "Create", "actor": f"{config.base_url}/actors/{group.username}",
                        "object": {"type": "Note", "content": "x" * 500}}
            inboxes = [f"http://127.0.0.1:{port}/inbox" for port in ports[:n]]
            t0 = time.time()
            async with database.transaction(db):
                await publish(db, group, activity, inboxes, now=t0)
            worker.wake.set()
            while (await deliveries.counts(db)).get("done", 0) - before < n:
                await asyncio.sleep(0.002)
            elapsed = time.time() - t0
            conn.send("arrivals")
            latencies = [t - t0 for t in conn.recv()]
            results.append((n, elapsed, n / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        await db.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,200")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from node.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "node"
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            assert cli_main(["init", "--base-url", "http://127.0.0.1:9", "--name", "Bench", "--data", str(data),
                             "--allow-private-addresses"]) == 0
        ports = free_ports(max(sizes))
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.get_context("spawn").Process(target=receivers, args=(ports, child), daemon=True)
        proc.start()
        assert parent.recv() == "ready"
        try:
            rsa = signing_rate()
            results = asyncio.run(fan_out(data, ports, parent, sizes, args.concurrency))
        finally:
            parent.send("stop")
            proc.join(5)
    print(f"cores: {os.cpu_count()}  RSA-2048 sign rate (one core): {rsa:,.0f}/s  concurrency: {args.concurrency}")
    print(f"{'N':>5} {'wall s':>8} {'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'÷ sign rate':>12}")
    for n, elapsed, rate, p50, p99 in results:
        print(f"{n:>5} {elapsed:>8.3f} {rate:>9,.0f} {p50 * 1000:>8.1f} {p99 * 1000:>8.1f} {rate / rsa:>12.2f}")
    for n, elapsed, *_ in results:
        if n == 200:
            verdict = "met" if elapsed < TARGET_SECONDS_FOR_200 else "MISSED"
            print(f"target: 200 inboxes in < {TARGET_SECONDS_FOR_200:.0f} s: {verdict} ({elapsed:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
