"""How many signed activities per second does POST /inbox accept, and what bounds it?

    python bench/inbox.py [--seconds N] [--concurrency C] [--client aiohttp|raw] [--no-accept-only] [--profile FILE]

Measures, all on 127.0.0.1, in separate processes (orchestrator, server under test, load generator):
  1. RSA-2048 PKCS1v15/SHA-256 verify and sign rates on one core;
  2. a trivial aiohttp handler driven by the same load generator: the ceiling of the HTTP stack;
  3. `congregation serve` taking pre-signed draft-cavage `Create`s on its shared inbox, then checks that
     every 202 left a row in the `inbox` table (durable before 202); again with CONGREGATION_PROCESS_INBOX=0.
Signing happens before the timed window: it is the sender's cost, not the node's.
The script stops itself; with the defaults it runs for well under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import multiprocessing
import os
import pickle
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

AS_JSON = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
TARGET_PER_SECOND = 3000
SCRIPT = Path(__file__).resolve()
# Pre-sign enough for the whole window at a little over the target rate, but never spend longer than this.
SIGNING_BUDGET_SECONDS = 10.0
# Past this, the optional accept-only run is skipped so the whole script stays under a minute.
WALL_BUDGET_SECONDS = 57.0


# --- small helpers ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path | None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before listening:\n{tail}")
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


def machine_ticks() -> list[int]:
    """The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal …"""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return [0] * 8


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# --- 1. RSA rates ------------------------------------------------------------------------------------------

def rsa_rates(seconds: float = 1.0) -> tuple[float, float]:
    """(verifications/s, signatures/s) of RSA-2048 PKCS1v15 SHA-256 on one core."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from node.activitypub.signatures import generate_private_key

    key = generate_private_key()
    public = key.public_key()
    message = b"(request-target): post /inbox\nhost: 127.0.0.1:8080\ndate: Tue, 01 Jul 2025 00:00:00 GMT"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def rate(operation) -> float:
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(50):
                operation()
            count += 50
        return count / elapsed

    verify = rate(lambda: public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256()))
    sign = rate(lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    return verify, sign


# --- the sender: its activities, signed in advance ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Sender:
    origin: str
    port: int
    private_pem: str
    public_pem: str
    run: str

    @property
    def actor(self) -> str:
        return f"{self.origin}/users/bench"

    @property
    def key_id(self) -> str:
        return self.actor + "#main-key"

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.actor, "type": "Person", "preferredUsername": "bench", "name": "Bench",
            "inbox": self.actor + "/inbox", "outbox": self.actor + "/outbox",
            "followers": self.actor + "/followers", "endpoints": {"sharedInbox": self.origin + "/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.actor, "publicKeyPem": self.public_pem},
        }

    def create(self, n: int) -> dict[str, Any]:
        """A Mastodon-shaped public Create(Note); ids are distinct per run and per n."""
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        note = f"{self.origin}/users/bench/statuses/{self.run}-{n}"
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", {"sensitive": "as:sensitive"}],
            "id": note + "/activity", "type": "Create", "actor": self.actor, "published": published,
            "to": [PUBLIC], "cc": [self.actor + "/followers"],
            "object": {
                "id": note, "type": "Note", "attributedTo": self.actor, "published": published,
                "url": f"{self.origin}/@bench/{self.run}-{n}", "to": [PUBLIC], "cc": [self.actor + "/followers"],
                "sensitive": False, "summary": None, "inReplyTo": None,
                "content": f"<p>Benchmark note {n} of run {self.run}: the inbox verifies, commits, answers 202.</p>",
                "tag": [], "attachment": [],
            },
        }


def _sign_range(sender: Sender, inbox_url: str, start: int, stop: int) -> list[tuple[bytes, dict[str, str]]]:
    from node.activitypub import signatures

    key = signatures.load_private_key(sender.private_pem)
    signed = []
    for n in range(start, stop):
        body = json.dumps(sender.create(n)).encode()
        signed.append((body, signatures.sign("POST", inbox_url, sender.key_id, key, body, AS_JSON)))
    return signed


def presign(sender: Sender, inbox_url: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """`count` signed requests, signed on every core (fork: the workers need nothing but this module)."""
    workers = os.cpu_count() or 1
    step = -(-count // (workers * 4))
    ranges = [(start, min(count, start + step)) for start in range(0, count, step)]
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_sign_range, sender, inbox_url, a, b) for a, b in ranges]
        return [item for future in futures for item in future.result()]


# --- 2. the trivial server (its own process) ---------------------------------------------------------------

def serve_trivial(port: int) -> None:
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True}, status=202)

    app = web.Application()
    app.router.add_post("/inbox", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- the load generator (its own process) ------------------------------------------------------------------

async def _serve_actor(sender: Sender):
    from aiohttp import web

    async def actor(request: web.Request) -> web.Response:
        return web.json_response(sender.document(), content_type=AS_JSON)

    app = web.Application()
    app.router.add_get("/users/bench", actor)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sender.port).start()
    return runner


class RawConnection:
    """One keep-alive HTTP/1.1 connection with pre-serialised requests: a load generator cheaper than the server."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> str:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, length, close = head[9:12].decode(), 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await self.reader.readexactly(length)
            if close:
                self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            return f"error:{exc.__class__.__name__}"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def serialise(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    path = urlsplit(url).path
    lines = [f"POST {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _load(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    with open(args.requests, "rb") as f:
        requests: list[tuple[bytes, dict[str, str]]] = pickle.load(f)  # our own file, written by the parent
    sender = None
    if args.sender:
        with open(args.sender, "rb") as f:
            sender = pickle.load(f)
    runner = await _serve_actor(sender) if sender else None
    statuses: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def post(index: int) -> str:
                body, headers = requests[index]
                try:
                    async with session.post(args.url, data=body, headers=headers) as response:
                        await response.read()
                        return str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    return f"error:{exc.__class__.__name__}"

            # One request first: the node fetches and caches the key, outside the timed window.
            prime = await post(0)
            if args.client == "raw":
                raw = [serialise(args.url, body, headers) for body, headers in requests]
                target = urlsplit(args.url)
                connections = [RawConnection(target.hostname, target.port) for _ in range(args.concurrency)]
                senders = [lambda index, c=c: c.send(raw[index]) for c in connections]
            else:
                senders = [post] * args.concurrency
            # The trivial handler does not care about repeats; the node must see each activity once.
            queue = itertools.cycle(range(len(requests))) if args.cycle else iter(range(1, len(requests)))
            exhausted = False
            deadline = time.perf_counter() + args.seconds

            async def worker(send) -> None:
                nonlocal exhausted
                while time.perf_counter() < deadline:
                    index = next(queue, None)
                    if index is None:
                        exhausted = True
                        return
                    started = time.perf_counter()
                    status = await send(index)
                    latencies.append(time.perf_counter() - started)
                    statuses[status] += 1

            server_cpu, own_cpu, ticks = cpu_seconds(args.pid), time.process_time(), machine_ticks()
            started = time.perf_counter()
            await asyncio.gather(*(worker(send) for send in senders))
            elapsed = time.perf_counter() - started
            server_cpu, own_cpu = cpu_seconds(args.pid) - server_cpu, time.process_time() - own_cpu
            ticks = [after - before for before, after in zip(ticks, machine_ticks(), strict=True)]
            if args.client == "raw":
                for connection in connections:
                    connection.close()
    finally:
        if runner:
            await runner.cleanup()
    latencies.sort()
    return {
        "prime": prime, "statuses": dict(statuses), "elapsed": elapsed, "exhausted": exhausted,
        "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
        "server_cores": server_cpu / elapsed, "loadgen_cores": own_cpu / elapsed,
        # On a VM the hypervisor's steal is CPU none of our processes got: it explains run-to-run noise.
        "idle": (ticks[3] + ticks[4]) / (sum(ticks) or 1), "steal": ticks[7] / (sum(ticks) or 1),
    }


def run_load(url: str, requests_file: Path, args: argparse.Namespace, server_pid: int,
             sender_file: Path | None = None, cycle: bool = False) -> dict[str, Any]:
    command = [sys.executable, str(SCRIPT), "--role", "load", "--url", url, "--requests", str(requests_file),
               "--seconds", str(args.seconds), "--concurrency", str(args.concurrency), "--pid", str(server_pid),
               "--client", args.client]
    if sender_file:
        command += ["--sender", str(sender_file)]
    if cycle:
        command.append("--cycle")
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 40, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- 3. the node -------------------------------------------------------------------------------------------

def raise_inbox_limits(data: Path) -> list[str]:
    """Lift any per-host inbox rate limit the node may have grown, so the bench measures throughput."""
    from node import config as configuration

    fields = {f.name: f.type for f in dataclasses.fields(configuration.Config)}
    raised = {}
    for name, kind in fields.items():
        limit = "rate" in name or "burst" in name or "per_host" in name
        if "inbox" in name and limit and kind in ("int", "float"):
            raised[name] = 1_000_000
    if raised:
        path = data / configuration.CONFIG_FILE
        values = tomllib.loads(path.read_text())["congregation"]
        path.write_text(configuration.render_toml({**values, **raised}))
    return [f"{name} = {value}" for name, value in raised.items()]


def node_env(**extra: str) -> dict[str, str]:
    # The node refuses unknown CONGREGATION_* variables, so pass only the ones meant for it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONGREGATION_")}
    return {**env, "CONGREGATION_ALLOW_PRIVATE_ADDRESSES": "1", **extra}


def init_node(data: Path, port: int) -> list[str]:
    command = [sys.executable, "-m", "node", "init", "--base-url", f"http://127.0.0.1:{port}",
               "--name", "Bench Congregation", "--data", str(data), "--allow-private-addresses"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=node_env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"congregation init failed: {done.stderr.strip()}")
    return raise_inbox_limits(data)


def run_node(label: str, data: Path, port: int, requests_file: Path, sender_file: Path, args: argparse.Namespace,
             **env: str) -> dict[str, Any]:
    limits = init_node(data, port)
    log = data / "serve.log"
    with open(log, "ab") as log_file:
        node = subprocess.Popen([sys.executable, "-m", "node", "serve", "--data", str(data)],
                                stdout=log_file, stderr=subprocess.STDOUT, env=node_env(**env))
        spy = None
        try:
            wait_for_port(port, node, log)
            if args.profile and shutil.which("py-spy"):
                path = Path(args.profile)
                fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(path.suffix, "raw")
                profile = path.with_stem(f"{path.stem}-{data.name}")
                spy = subprocess.Popen(["py-spy", "record", "--pid", str(node.pid), "--output", str(profile),
                                        "--format", fmt, "--rate", "200", "--nonblocking", "--gil",
                                        "--duration", str(int(args.seconds) + 2)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)  # let py-spy attach before the window opens
            result = run_load(f"http://127.0.0.1:{port}/inbox", requests_file, args, node.pid, sender_file)
        finally:
            stop_process(node)
            if spy is not None:
                try:
                    spy.wait(15)
                except subprocess.TimeoutExpired:
                    spy.kill()
    with contextlib.closing(sqlite3.connect(data / "congregation.sqlite3")) as db:
        rows, processed = db.execute("SELECT COUNT(*), COUNT(processed_at) FROM inbox").fetchone()
    accepted = result["statuses"].get("202", 0) + (result["prime"] == "202")
    errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "Traceback" in line]
    return {**result, "label": label, "rows": rows, "processed": processed, "accepted_total": accepted,
            "limits": limits, "log_errors": errors[:5]}


# --- the report --------------------------------------------------------------------------------------------

def cpu_per_request(result: dict[str, Any]) -> float:
    handled = sum(result["statuses"].values())
    return result["server_cores"] * result["elapsed"] / handled * 1e6 if handled else float("nan")


def describe(result: dict[str, Any], ok_status: str = "202") -> tuple[float, str, str]:
    """(rate, the headline, the CPU line) of one load window."""
    ok = result["statuses"].get(ok_status, 0)
    rate = ok / result["elapsed"]
    others = {k: v for k, v in result["statuses"].items() if k != ok_status}
    headline = (f"{rate:8,.0f}/s   p50 {result['p50'] * 1000:5.1f} ms   p99 {result['p99'] * 1000:5.1f} ms   "
                f"({ok:,} × {ok_status} in {result['elapsed']:.1f} s; other statuses: {others or 'none'})")
    if result["exhausted"]:
        headline += " (ran out of pre-signed activities)"
    cpu = (f"CPU: server {result['server_cores']:.2f} cores = {cpu_per_request(result):,.0f} µs/request; "
           f"load generator {result['loadgen_cores']:.2f} cores; machine idle {result['idle']:.0%}, "
           f"hypervisor steal {result['steal']:.0%}")
    return rate, headline, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load window (default 10)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--client", choices=("aiohttp", "raw"), default="aiohttp",
                        help="load generator: aiohttp client (default), or raw keep-alive sockets with pre-serialised "
                             "requests, which costs far less CPU than the server it drives")
    parser.add_argument("--no-accept-only", action="store_true", help="skip the CONGREGATION_PROCESS_INBOX=0 run")
    parser.add_argument("--profile", default=None,
                        help="py-spy each node run into FILE-full / FILE-accept-only (.svg flamegraph, .json "
                             "speedscope, else raw collapsed stacks); sampling costs the node some throughput")
    parser.add_argument("--role", choices=("main", "trivial", "load"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--requests", help=argparse.SUPPRESS)
    parser.add_argument("--sender", help=argparse.SUPPRESS)
    parser.add_argument("--pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cycle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "trivial":
        serve_trivial(args.port)
        return 0
    if args.role == "load":
        print(json.dumps(asyncio.run(_load(args))))
        return 0
    return orchestrate(args)


def orchestrate(args: argparse.Namespace) -> int:
    import aiohttp

    from node.activitypub import signatures

    began = time.monotonic()
    print(f"congregation inbox bench: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"aiohttp {aiohttp.__version__}, {args.client} load generator, concurrency {args.concurrency}, "
          f"{args.seconds:g} s windows", flush=True)

    verify_rate, sign_rate = rsa_rates()
    print(f"[1] RSA-2048 one core: {verify_rate:,.0f} verify/s, {sign_rate:,.0f} sign/s", flush=True)

    node_port = free_port()
    inbox_url = f"http://127.0.0.1:{node_port}/inbox"
    key = signatures.generate_private_key()
    sender_port = free_port()
    sender = Sender(origin=f"http://127.0.0.1:{sender_port}", port=sender_port,
                    private_pem=signatures.private_pem(key), public_pem=signatures.public_pem(key),
                    run=os.urandom(4).hex())
    budget = SIGNING_BUDGET_SECONDS * sign_rate * (os.cpu_count() or 1)
    count = int(min(args.seconds * TARGET_PER_SECOND * 1.15, budget)) + 1
    started = time.monotonic()
    signed = presign(sender, inbox_url, count)
    print(f"    pre-signed {len(signed):,} Create activities in {time.monotonic() - started:.1f} s "
          f"(the sender's cost, outside every window)", flush=True)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="congregation-bench-") as tmp:
        tmp_path = Path(tmp)
        requests_file, sender_file = tmp_path / "requests.pickle", tmp_path / "sender.pickle"
        requests_file.write_bytes(pickle.dumps(signed))
        sender_file.write_bytes(pickle.dumps(sender))
        del signed

        trivial_port = free_port()
        trivial = subprocess.Popen([sys.executable, str(SCRIPT), "--role", "trivial", "--port", str(trivial_port)])
        try:
            wait_for_port(trivial_port, trivial, None)
            results["trivial"] = run_load(f"http://127.0.0.1:{trivial_port}/inbox", requests_file, args,
                                          trivial.pid, cycle=True)
        finally:
            stop_process(trivial)
        print(f"[2] trivial aiohttp JSON handler: {describe(results['trivial'])[1]}", flush=True)

        # Each node run gets a fresh data directory on the same port, so the same signed requests fit both.
        started = time.monotonic()
        results["full"] = run_node("node, inbox worker on", tmp_path / "full", node_port, requests_file,
                                   sender_file, args)
        print(f"[3] node, inbox worker on: {describe(results['full'])[1]}", flush=True)
        needed = time.monotonic() - started + 1
        if args.no_accept_only:
            pass
        elif time.monotonic() - began + needed > WALL_BUDGET_SECONDS:
            print("[3b] accept-only run skipped: it would take the bench past its time budget", flush=True)
        else:
            results["accept_only"] = run_node("node, accept-only", tmp_path / "accept-only", node_port,
                                              requests_file, sender_file, args,
                                              CONGREGATION_PROCESS_INBOX="0")
            print(f"[3b] node, accept-only: {describe(results['accept_only'])[1]}", flush=True)

    return report(args, verify_rate, sign_rate, results, time.monotonic() - began)


def report(args: argparse.Namespace, verify_rate: float, sign_rate: float, results: dict[str, Any],
           wall: float) -> int:
    trivial_rate, headline, cpu = describe(results["trivial"])
    width = 46
    print()
    print("=" * 100)
    print(f"RESULTS  ({os.cpu_count()} CPUs shared by server, load generator and sender; {args.client} load generator, "
          f"concurrency {args.concurrency}; {args.seconds:g} s windows; total {wall:.0f} s)")
    print("-" * 100)
    print(f"{'RSA-2048 verify, one core':<{width}}{verify_rate:10,.0f}/s")
    print(f"{'RSA-2048 sign, one core':<{width}}{sign_rate:10,.0f}/s")
    print(f"{'trivial aiohttp JSON handler':<{width}}{headline}")
    print(f"{'':<{width}}{cpu}")
    if results["trivial"]["loadgen_cores"] > 0.9:
        print(f"{'':<{width}}(the load generator used a whole core: the server could do more; --client raw "
              f"drives it harder)")
    durable = True
    for name, title in (("full", "node accepted (inbox worker on)"),
                        ("accept_only", "node accepted (accept-only, PROCESS_INBOX=0)")):
        if name not in results:
            continue
        result = results[name]
        rate, headline, cpu = describe(result)
        print(f"{title:<{width}}{headline}")
        print(f"{'':<{width}}{cpu}")
        match = result["rows"] == result["accepted_total"]
        durable = durable and match
        print(f"{'':<{width}}inbox rows {result['rows']:,} vs 202s {result['accepted_total']:,} (incl. the priming "
              f"request, which got {result['prime']}): {'OK, every 202 is durable' if match else 'MISMATCH'}")
        if name == "full":
            print(f"{'':<{width}}the inbox worker processed {result['processed']:,} of them; "
                  f"{result['rows'] - result['processed']:,} were still waiting when the node stopped")
        if result["limits"]:
            print(f"{'':<{width}}raised for the bench: {', '.join(result['limits'])}")
        for error in result["log_errors"]:
            print(f"{'':<{width}}node log: {error[:150]}")
    print("-" * 100)
    for name, title in (("full", "inbox worker on"), ("accept_only", "accept-only")):
        if name not in results:
            continue
        rate = describe(results[name])[0]
        print(f"ratios, {title}:")
        print(f"  node accepted/s ÷ RSA verify/s (one core)     {rate / verify_rate:7.3f}")
        print(f"  node accepted/s ÷ trivial handler req/s       {rate / trivial_rate:7.3f}")
        print(f"  node accepted/s ÷ target {TARGET_PER_SECOND:,}/s              {rate / TARGET_PER_SECOND:7.3f}")
        per_request, trivial = cpu_per_request(results[name]), cpu_per_request(results["trivial"])
        print(f"  node CPU per request ÷ trivial handler's       {per_request / trivial:7.2f}"
              f"   ({per_request:,.0f} µs vs {trivial:,.0f} µs; one core's worth is {1e6 / per_request:,.0f}/s)")
    print("=" * 100)
    return 0 if durable else 1


if __name__ == "__main__":
    raise SystemExit(main())
