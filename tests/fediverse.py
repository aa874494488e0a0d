"""Test doubles that are real: a remote fediverse server on loopback, and nodes as in-process apps or processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node import config as configuration
from node.activitypub import signatures
from node.app import create_app
from node.appkeys import DB, DECISIONS, DELIVERY, INBOX_WORKER
from node.cli import main as cli_main
from node.clock import TEST_MODE_ENV, ManualClock, OffsetClock
from tests.resolver import LoopbackDNS

AS_JSON = "application/activity+json"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Still argon2id, at the lowest cost: a test's passwords guard nothing, and the real cost is 0.15 s a hash.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
# RSA-2048 keys cost ~35 ms each to make; tests draw them from here, each new one distinct from the last
# _KEY_POOL_SIZE (a test that forges with "another actor's key" still gets another key).
_KEY_POOL_SIZE = 24
_key_pool: list[rsa.RSAPrivateKey] = []
_keys_drawn = 0


def pooled_key() -> rsa.RSAPrivateKey:
    """An RSA key from this process's pool, made on first use and reused after _KEY_POOL_SIZE draws."""
    global _keys_drawn
    if len(_key_pool) < _KEY_POOL_SIZE:
        _key_pool.append(signatures.generate_private_key())
    key = _key_pool[_keys_drawn % _KEY_POOL_SIZE]
    _keys_drawn += 1
    return key


TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"


def snapshot_file(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table of the SQLite file at `path` (the node may be another process, or none)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {table: db.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
                for (table,) in db.execute(TABLES_SQL).fetchall()}


# Ports for test servers come from below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel
# hands out for `bind(0)` can be taken by any outgoing connection before the server binds it (EADDRINUSE, seen
# under load). Each xdist worker has a slice of its own, walked from a random start, each port checked free.
_PORT_SLICE = 2500
_walk: list[int] = []  # [first port of this worker's slice, offset of the next port to try]


def free_port() -> int:
    if not _walk:
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 8
        _walk.extend([12000 + worker * _PORT_SLICE, random.randrange(_PORT_SLICE)])
    for _ in range(_PORT_SLICE):
        port = _walk[0] + _walk[1]
        _walk[1] = (_walk[1] + 1) % _PORT_SLICE
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in this worker's slice")


def multikey(public_key: ed25519.Ed25519PublicKey) -> str:
    """FEP-521a publicKeyMultibase: base58btc ('z') of the ed25519-pub multicodec prefix and the raw key."""
    raw = b"\xed\x01" + public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return "z" + "1" * (len(raw) - len(raw.lstrip(b"\0"))) + text


def init_node(data: Path, port: int, name: str = "Test Congregation", *, host: str = "127.0.0.1",
              **settings: Any) -> configuration.Config:
    """`congregation init` into DATA for http://HOST:PORT, then extra settings in the TOML file.

    On 127.0.0.1 private addresses are allowed (peers are loopback servers); under a made-up host name, served
    through a LoopbackDNS, the SSRF guard stays on."""
    args = ["init", "--base-url", f"http://{host}:{port}", "--name", name, "--data", str(data)]
    if host == "127.0.0.1":
        args.append("--allow-private-addresses")
    # On a thread of its own: the CLI runs its own event loop, and callers may be inside one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(cli_main, args).result() == 0
    if settings:
        update_settings(data, **settings)
    return configuration.load(data, env={})


def update_settings(data: Path, **settings: Any) -> None:
    path = data / configuration.CONFIG_FILE
    values = tomllib.loads(path.read_text())["congregation"]
    path.write_text(configuration.render_toml({**values, **settings}))


class InProcessNode:
    """A node's app on a real loopback port, with workers stepped by the test (`run_once`, `drain`).

    Its clock is the wall's plus an offset that moves only when the test says (`advance`): signatures and peers
    still compare against the wall, and no test sleeps for a deadline. Pass a ManualClock to stop time as well.
    A `resolver` (a LoopbackDNS) lets it reach peers by made-up host names with the SSRF guard on.
    """

    def __init__(self, config: configuration.Config, *, clock: ManualClock | OffsetClock | None = None,
                 resolver: LoopbackDNS | None = None):
        self.config = config
        self.clock = clock if clock is not None else OffsetClock()
        # Clients of a node under a made-up name (a Visitor, a test's session) resolve it through the same DNS.
        self.resolver = resolver
        self.app = create_app(config, run_workers=False, clock=self.clock, resolver=resolver, hasher=CHEAP_HASHER)
        self.server = TestServer(self.app, host="127.0.0.1", port=int(config.base_url.rsplit(":", 1)[1]))
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> InProcessNode:
        await self.server.start_server()
        self.session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        if self.session:
            await self.session.close()
        await self.server.close()

    @property
    def db(self):
        return self.app[DB]

    @property
    def base(self) -> str:
        return self.config.base_url

    @property
    def group_id(self) -> str:
        return f"{self.base}/actors/{self.config.group_handle}"

    async def drain_inbox(self) -> int:
        return await self.app[INBOX_WORKER].drain()

    async def run_deliveries(self) -> int:
        return await self.app[DELIVERY].run_once()

    def advance(self, seconds: float) -> None:
        """Move this node's clock forward: the only way a test moves its time."""
        self.clock.advance(seconds)

    async def pass_closing_time(self, *uuids: str) -> None:
        """Move the clock a second past the closing time of these open proposals (every open one when none given)."""
        where, args = "state = 'open'", list(uuids)
        if uuids:
            where += f" AND uuid IN ({', '.join('?' * len(uuids))})"
        async with self.db.execute(f"SELECT MAX(closes_at) FROM proposals WHERE {where}", args) as cur:
            (latest,) = await cur.fetchone()
        assert latest is not None, "no open proposal to close"
        closes = datetime.fromisoformat(latest.replace("Z", "+00:00")).timestamp()
        self.advance(max(0.0, closes - self.clock.now() + 1))

    async def close_proposals(self) -> list:
        """Step the decision clock once: close what is due, enact what passed."""
        return await self.app[DECISIONS].run_once()

    async def count(self, table: str, where: str = "1", *args: Any) -> int:
        async with self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", args) as cur:
            return (await cur.fetchone())[0]

    async def snapshot(self) -> dict[str, list]:
        """Every row of every table, for "nothing changed" checks: a table added later is covered too."""
        async with self.db.execute(TABLES_SQL) as cur:
            tables = [name for (name,) in await cur.fetchall()]
        result = {}
        for table in tables:
            async with self.db.execute(f'SELECT * FROM "{table}" ORDER BY 1') as cur:
                result[table] = [tuple(r) for r in await cur.fetchall()]
        return result


@dataclass
class FakeActor:
    """One actor on a small loopback server of its own: serves its document and key, records its inbox."""

    name: str = "remote"
    kind: str = "Person"
    key: rsa.RSAPrivateKey = field(default_factory=pooled_key)
    received: list[dict[str, Any]] = field(default_factory=list)
    documents: dict[str, tuple[int, Any]] = field(default_factory=dict)
    inbox_status: int = 202
    port: int = field(default_factory=free_port)
    # The name its URLs carry: a made-up public one (mapped to loopback by a LoopbackDNS) keeps the guard on.
    host: str = "127.0.0.1"
    # Set to publish an Ed25519 key as a FEP-521a Multikey in assertionMethod, besides the RSA publicKey.
    ed25519_key: ed25519.Ed25519PrivateKey | None = None
    # The path of every GET this server answered, in order (key and actor fetches).
    fetched: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def id(self) -> str:
        return f"{self.origin}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return self.id + "#main-key"

    @property
    def ed25519_key_id(self) -> str:
        return self.id + "#ed25519-key"

    @property
    def inbox(self) -> str:
        return self.id + "/inbox"

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.id, "type": self.kind, "preferredUsername": self.name, "name": self.name.title(),
            "inbox": self.inbox, "outbox": self.id + "/outbox", "followers": self.id + "/followers",
            "endpoints": {"sharedInbox": self.origin + "/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.id, "publicKeyPem": signatures.public_pem(self.key)},
        } | self._assertion_method()

    def _assertion_method(self) -> dict[str, Any]:
        if self.ed25519_key is None:
            return {}
        return {"assertionMethod": [{"id": self.ed25519_key_id, "type": "Multikey", "controller": self.id,
                                     "publicKeyMultibase": multikey(self.ed25519_key.public_key())}]}

    async def start(self) -> FakeActor:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def close(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _get(self, request: web.Request) -> web.Response:
        self.fetched.append(request.path)
        url = f"{self.origin}{request.path}"
        if url in self.documents:
            status, body = self.documents[url]
            return web.json_response(body, status=status, content_type=AS_JSON)
        if url == self.id:
            return web.json_response(self.document(), content_type=AS_JSON)
        return web.json_response({"error": "not found"}, status=404)

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append({"path": request.path, "headers": dict(request.headers),
                              "activity": json.loads(body)})
        return web.Response(status=self.inbox_status)

    def activity(self, kind: str, obj: Any, suffix: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{self.origin}/activities/{suffix or os.urandom(6).hex()}",
                "type": kind, "actor": self.id, "object": obj, **extra}

    def signed_headers(self, method: str, url: str, body: bytes | None, **kwargs: Any) -> dict[str, str]:
        headers = signatures.sign(method, url, self.key_id, self.key, body, AS_JSON if body is not None else None,
                                  **kwargs)
        headers.setdefault("Content-Type", AS_JSON)
        return headers

    async def post(self, session: aiohttp.ClientSession, url: str, activity: Any | bytes,
                   headers: dict[str, str] | None = None, **sign_kwargs: Any) -> tuple[int, str]:
        """POST an activity (or raw bytes) signed by this actor unless `headers` are given."""
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        if headers is None:
            headers = self.signed_headers("POST", url, body, **sign_kwargs)
        async with session.post(url, data=body, headers=headers) as response:
            return response.status, await response.text()


class NodeProcess:
    """`congregation serve` as a real process: started, stopped, killed."""

    def __init__(self, data: Path, env: dict[str, str] | None = None):
        self.data = data
        # Test mode: the one process-safe test clock (CONG_TEST_CLOCK_FILE) is honoured only with it.
        self.env = {**os.environ, TEST_MODE_ENV: "1", **(env or {})}
        self.config = configuration.load(data, env={})
        self.proc: subprocess.Popen | None = None
        self.log = data / "serve.log"

    def start(self, timeout: float = 20.0) -> NodeProcess:
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node", "serve", "--data", str(self.data)],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", int(self.config.base_url.rsplit(":", 1)[1])), timeout=0.2):
                return self
            time.sleep(0.05)  # waiting for a port to open, not for work
        raise RuntimeError(f"node did not start listening: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log_file", None):
            self._log_file.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._log_file.close()


async def eventually(probe, timeout: float = 15.0, interval: float = 0.05):
    """Poll an async probe until it returns something truthy: for work in *another process*."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


async def run_cli(*args: str) -> int:
    """`congregation ARGS` in this process (on a thread: the CLI runs its own event loop)."""
    return await asyncio.to_thread(cli_main, list(args))


def cli(*args: str) -> tuple[int, str, str]:
    """Run `congregation ARGS` as a real process: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


@contextlib.asynccontextmanager
async def listening(handler):
    """A catch-all server on a free loopback port that answers every path with `handler`; yields the port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()
