"""`congregation demo`: three sibling Congregations on 127.0.0.1 in one process, with members and posts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from aiohttp import web

from node import config as configuration
from node import db as database
from node.activitypub.as2.documents import actor_id
from node.activitypub.as2.notes import post_uri
from node.activitypub.fetch import FetchError
from node.activitypub.remote_actors import ActorUnavailable, fetch_remote_actor, get_remote_actor
from node.appkeys import DELIVERY, HTTP
from node.commands.members import keypair
from node.config import Config, ConfigError
from node.governance import accounts
from node.governance.errors import GovernanceError
from node.governance.membership import add_member, create_group
from node.processing import follows as follow_processing
from node.processing.posts import publish_post
from node.store import follows, local_actors, remote_objects

PASSWORD = "demo-password"  # noqa: S105 - printed for anyone to use: demo accounts on loopback only
SIBLINGS_TIMEOUT = 30.0
POSTS_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class DemoError(Exception):
    """The demo cannot start; the message is the one line the user sees."""


@dataclass(frozen=True)
class Spec:
    """One demo Congregation: who is in it and what they post (public, public, members-only)."""

    key: str
    name: str
    summary: str
    members: tuple[tuple[str, str, str], ...]  # (handle, display name, tier)
    posts: tuple[tuple[str, str, str], ...]    # (handle, visibility, text)


SPECS = (
    Spec("a", "Riverside Commons", "Neighbours along the river: a tool library, shared meals and a Friday soup.",
         (("rosa", "Rosa Marquez", "partner"), ("malik", "Malik Osei", "partner"),
          ("june", "June Park", "friend"), ("theo", "Theo Lindqvist", "friend")),
         (("rosa", "public", "Soup night is on again this Friday at the boathouse. Bring a bowl; siblings welcome."),
          ("june", "public", "The tool library has a pressure washer now. It lives in the shed by the river path."),
          ("malik", "members", "For members: the shed key has moved to the blue box by the back door."))),
    Spec("b", "Hilltop Collective", "Gardeners and growers on the hill, sharing land, seeds and a community kitchen.",
         (("amara", "Amara Nwosu", "partner"), ("felix", "Felix Brandt", "partner"),
          ("priya", "Priya Raman", "friend"), ("sam", "Sam Okafor", "friend")),
         (("amara", "public", "Seed swap on Saturday morning. We would love beans from Riverside and Harbour."),
          ("priya", "public", "The community kitchen needs volunteers for the apple pressing next week."),
          ("felix", "members", "Partners: the proposal to buy a shared trailer goes to a vote on Tuesday."))),
    Spec("c", "Harbour Circle", "A seaside Congregation: beach clean-ups, a boat fund and Sunday sea swims.",
         (("ines", "Inês Costa", "partner"), ("kofi", "Kofi Mensah", "partner"),
          ("lena", "Lena Vogel", "friend"), ("noah", "Noah Tanaka", "friend")),
         (("ines", "public", "The harbour clean-up filled forty bags. Thank you to everyone who came."),
          ("lena", "public", "Sea swimming meets at seven every Sunday by the slipway. All paces welcome."),
          ("kofi", "members", "Members only: the boat fund is at 60 %; details at Thursday's circle."))),
)


@dataclass
class DemoNode:
    """A demo Congregation: its settings, its running app, and a database connection of the demo's own."""

    spec: Spec
    config: Config
    fresh: bool
    # Not the app's connection: a SELECT of ours left open between awaits would pin a stale snapshot under the
    # workers' BEGIN IMMEDIATE ("database is locked" at once). Like `congregation` beside `serve`, we use our own.
    db: aiosqlite.Connection
    runner: web.AppRunner | None = None

    @property
    def app(self) -> web.Application:
        assert self.runner is not None
        return self.runner.app

    @property
    def group_uri(self) -> str:
        return actor_id(self.config, self.config.group_handle)


def check_ports_free(ports: list[int]) -> None:
    """Refuse early, before any data is written, when one of the ports is taken."""
    for port in ports:
        with socket.socket() as sock:
            # As aiohttp binds: a port in TIME_WAIT is free, one with a listener is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise DemoError(f"port {port} on 127.0.0.1 is in use ({exc.strerror or exc}); "
                                "choose other ports with --port-base N") from None


async def prepare(root: Path, spec: Spec, port: int, password_hash: str) -> DemoNode:
    """Create the node's settings, database, Group and members, or reuse them if DIR already holds them."""
    data = root / spec.key
    base_url = f"http://127.0.0.1:{port}"
    if not (data / configuration.CONFIG_FILE).exists():
        values: dict[str, Any] = {"base_url": base_url, "name": spec.name, "summary": spec.summary,
                                  "group_handle": "group", "public_follows": "manual",
                                  "allow_private_addresses": True}
        try:
            data.mkdir(parents=True, exist_ok=True)
            (data / configuration.CONFIG_FILE).write_text(configuration.render_toml(values), encoding="utf-8")
        except OSError as exc:
            raise DemoError(f"cannot use {exc.filename or data}: {exc.strerror or exc}") from None
    # The demo's nodes are self-contained: CONGREGATION_* variables meant for a real node do not apply.
    config = configuration.load(data, env={})
    if config.base_url != base_url:
        raise DemoError(f"{data} holds a node made for {config.base_url}, not {base_url}; "
                        f"run with --port-base {config.base_url.rsplit(':', 1)[1]} or another --data directory")
    db = await database.connect(config.db_path)
    try:
        await database.migrate(db)
        fresh = await local_actors.group(db) is None
        if fresh:
            await create_group(db, config.group_handle, config.name, config.summary, *keypair())
            for handle, display_name, tier in spec.members:
                await add_member(db, handle, display_name, tier, *keypair(), config=config,
                                 password_hash=password_hash)
    except BaseException:
        await db.close()
        raise
    return DemoNode(spec, config, fresh, db)


async def start(node: DemoNode) -> None:
    """Run the node's app (database, HTTP client, inbox and delivery workers) and listen on its port."""
    from node.app import create_app  # here, not at the top: every `congregation` command imports this module

    node.runner = web.AppRunner(create_app(node.config), access_log=None, shutdown_timeout=5.0)
    await node.runner.setup()
    port = int(node.config.base_url.rsplit(":", 1)[1])
    try:
        await web.TCPSite(node.runner, "127.0.0.1", port).start()
    except OSError as exc:
        raise DemoError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None


async def _within(deadline: float, what: str, state: Callable[[], Awaitable[str]]) -> None:
    if asyncio.get_running_loop().time() > deadline:
        raise DemoError(f"{what} did not happen in time ({await state()})")


async def become_siblings(nodes: list[DemoNode]) -> None:
    """Each Group follows the other two over HTTP and each approves; returns once every follow is accepted."""
    pairs = [(x, y) for x in nodes for y in nodes if x is not y]
    for x, y in pairs:
        ours = await follows.get(x.db, x.group_uri, y.group_uri)
        if ours is not None and ours.state == "accepted":
            continue
        # Re-sending is harmless (a repeated Follow replaces the pending one) and heals a run cut short.
        try:
            target = await fetch_remote_actor(x.db, x.app[HTTP], y.group_uri)
        except (ActorUnavailable, FetchError) as exc:
            raise DemoError(f"{x.spec.name} cannot reach {y.group_uri}: {exc}") from None
        group = await local_actors.group(x.db)
        await follow_processing.send_follow(x.db, x.config, group, y.group_uri, target.inbox)
        x.app[DELIVERY].wake.set()

    async def describe() -> str:
        states = [(x, y, await follows.get(x.db, x.group_uri, y.group_uri)) for x, y in pairs]
        return ", ".join(f"{x.spec.key}→{y.spec.key} {row.state if row else 'missing'}" for x, y, row in states)

    deadline = asyncio.get_running_loop().time() + SIBLINGS_TIMEOUT
    while True:
        done = True
        for x, y in pairs:
            theirs = await follows.get(y.db, x.group_uri, y.group_uri)
            if theirs is not None and theirs.state == "pending":
                # What `congregation follows approve` does: a person decides, here on the demo's behalf.
                follower = await get_remote_actor(y.db, y.app[HTTP], x.group_uri)
                await follow_processing.answer(y.db, y.config, await local_actors.group(y.db), theirs, follower.inbox,
                                               True)
                y.app[DELIVERY].wake.set()
            ours = await follows.get(x.db, x.group_uri, y.group_uri)
            done = done and ours is not None and ours.state == "accepted"
        if done:
            return
        await _within(deadline, "the three Congregations becoming siblings", describe)
        await asyncio.sleep(0.05)  # polling the databases while the workers, in this loop, do the work


async def publish(nodes: list[DemoNode]) -> None:
    """Each fresh node's members post; waits until the public posts are stored by both siblings."""
    public: list[tuple[DemoNode, str]] = []
    for node in nodes:
        if not node.fresh:
            continue
        for handle, visibility, text in node.spec.posts:
            author = await local_actors.by_username(node.db, handle)
            post = await publish_post(node.db, node.config, author, text, visibility)
            if visibility == "public":
                public.append((node, post_uri(node.config, post)))
        node.app[DELIVERY].wake.set()

    async def missing() -> list[str]:
        return [uri for origin, uri in public for other in nodes
                if other is not origin and await remote_objects.get(other.db, uri) is None]

    async def describe() -> str:
        return f"{len(await missing())} public posts not yet at a sibling"

    deadline = asyncio.get_running_loop().time() + POSTS_TIMEOUT
    while await missing():
        await _within(deadline, "the public posts reaching the siblings", describe)
        await asyncio.sleep(0.05)  # polling the databases while the workers, in this loop, do the work


def summary(nodes: list[DemoNode], root: Path, temporary: bool) -> str:
    """What the demo prints once it is ready: where each node is and who can sign in."""
    lines = ["", "Three sibling Congregations are running on this machine:", ""]
    for node in nodes:
        lines.append(f"  {node.config.name}")
        lines.append(f"    {node.config.base_url}/    (Group @{node.config.group_handle}@{node.config.host})")
        for handle, display_name, tier in node.spec.members:
            lines.append(f"    sign in as {handle:<6} {tier:<8} {display_name}")
        lines.append("")
    lines.append(f"Every demo member's password is: {PASSWORD}")
    lines.append("Sign in at any node's /login, e.g. "
                 f"{nodes[0].config.base_url}/login as {nodes[0].spec.members[0][0]}.")
    lines.append(f"Data: {root}" + (" (a temporary directory, removed on exit)" if temporary else ""))
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def _until(stop: asyncio.Event, work: Awaitable[Any]) -> bool:
    """Run `work` unless `stop` is set first; True if it finished."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.done() and not task.cancelled():
        task.result()  # re-raises what the work raised
        return True
    return False


async def run(root: Path, temporary: bool, port_base: int, seconds: float | None, stop: asyncio.Event) -> int:
    """Prepare, start, connect and seed the three nodes, print the summary and serve until stopped."""
    ports = [port_base + i for i in range(len(SPECS))]
    if ports[-1] > 65535:
        raise DemoError(f"--port-base {port_base} leaves no room for {len(SPECS)} ports below 65536")
    check_ports_free(ports)
    print(f"Starting three Congregations on 127.0.0.1:{ports[0]}-{ports[-1]} …", flush=True)
    # One hash for every demo login: argon2 is slow on purpose, and these accounts share a published password.
    password_hash = await accounts.hash_password(PASSWORD)
    nodes: list[DemoNode] = []
    try:
        for spec, port in zip(SPECS, ports, strict=True):
            nodes.append(await prepare(root, spec, port, password_hash))
        for node in nodes:
            await start(node)

        async def connect_and_seed() -> None:
            await become_siblings(nodes)
            await publish(nodes)

        if not await _until(stop, connect_and_seed()):
            return 0
        print(summary(nodes, root, temporary), flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        print("Stopping …", flush=True)
        return 0
    finally:
        for node in nodes:
            await node.db.close()
        await stop_all([n.runner for n in nodes if n.runner is not None])


async def stop_all(runners: list[web.AppRunner]) -> None:
    """Stop the nodes together; bounded, because a worker that misses its cancellation must not hang the exit."""
    if not runners:
        return
    _, pending = await asyncio.wait([asyncio.ensure_future(r.cleanup()) for r in runners], timeout=STOP_TIMEOUT)
    if pending:
        print(f"congregation: a node had not stopped after {STOP_TIMEOUT:.0f} s; exiting anyway", file=sys.stderr)


def _on_signals(stop: asyncio.Event) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows' event loops have no signal handlers; there Ctrl-C arrives as KeyboardInterrupt, which the
        # CLI turns into a clean stop, so skipping the handler loses nothing.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    return installed


async def cmd_demo(args: argparse.Namespace) -> int:
    """`congregation demo`: run three seeded sibling Congregations until Ctrl-C, SIGTERM or --seconds."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = asyncio.Event()
    installed = _on_signals(stop)
    temporary = args.data is None
    root = Path(tempfile.mkdtemp(prefix="congregation-demo-")) if temporary else Path(args.data)
    try:
        return await run(root, temporary, args.port_base, args.seconds, stop)
    except (DemoError, ConfigError, GovernanceError) as exc:
        print(f"congregation: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in installed:
            asyncio.get_running_loop().remove_signal_handler(sig)
        if temporary:
            shutil.rmtree(root, ignore_errors=True)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(text)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `congregation demo [--data DIR] [--port-base N] [--seconds S]`."""
    p = sub.add_parser("demo", help="run three seeded sibling Congregations on 127.0.0.1 (try it out)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="keep the nodes in DIR/a, DIR/b, DIR/c (default: a temporary directory removed on exit)")
    p.add_argument("--port-base", type=_port, default=8080, metavar="N",
                   help="the nodes listen on this port and the next two (default: 8080, 8081, 8082)")
    p.add_argument("--seconds", type=_seconds, default=None, metavar="S",
                   help="stop this many seconds after it is ready (default: at Ctrl-C)")
    p.set_defaults(run=cmd_demo)
