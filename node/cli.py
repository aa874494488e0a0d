"""`congregation …`: parse, call services, print one clear line on error (never a traceback)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from node import __version__, logs
from node import config as configuration
from node import db as database
from node.activitypub import signatures
from node.activitypub.as2.documents import actor_id
from node.clock import ClockError, clock_from_env
from node.commands import assembly as assembly_command
from node.commands import backup as backup_command
from node.commands import demo as demo_command
from node.commands import doctor as doctor_command
from node.commands import export as export_command
from node.commands import members as members_command
from node.commands import moderation as moderation_command
from node.commands import post as post_command
from node.commands import propose as propose_command
from node.commands import reports as reports_command
from node.commands import verify_decisions as verify_decisions_command
from node.commands import vote as vote_command
from node.commands.arguments import whole_number
from node.commands.deliveries import add_parser as add_deliveries_parser
from node.commands.opening import OpenNode, open_node
from node.config import Config, ConfigError
from node.governance.errors import GovernanceError
from node.governance.membership import create_group
from node.governance.siblings import sibling_states
from node.processing import follows as follow_processing
from node.store import follows

log = logging.getLogger("congregation")


class CliError(Exception):
    """A command cannot do what was asked; the message is the one line the user sees."""


def default_data_dir() -> Path:
    return Path(os.environ.get("CONGREGATION_DATA", "data"))


def _keypair() -> tuple[str, str]:
    key = signatures.generate_private_key()
    return signatures.private_pem(key), signatures.public_pem(key)


async def _open(config: Config):
    db = await database.connect(config.db_path)
    await database.migrate(db)
    return db


# --- init -------------------------------------------------------------------------------------------------

async def cmd_init(args: argparse.Namespace) -> int:
    data = Path(args.data)
    base_url = configuration.validate_base_url(args.base_url)
    name = args.name.strip()
    if not name:
        raise ConfigError("setting name: must not be empty")
    if (data / configuration.CONFIG_FILE).exists() or (data / configuration.DB_FILE).exists():
        if args.exist_ok:
            print(f"{data} already holds a Congregation; leaving it as it is.")
            return 0
        raise CliError(f"{data} already holds a Congregation; refusing to overwrite it")
    values: dict[str, Any] = {"base_url": base_url, "name": name, "group_handle": args.handle,
                              "summary": args.summary, "public_follows": args.public_follows}
    if args.allow_private_addresses:
        values["allow_private_addresses"] = True
    configuration._validate(values)
    data.mkdir(parents=True, exist_ok=True)
    (data / configuration.CONFIG_FILE).write_text(configuration.render_toml(values), encoding="utf-8")
    config = configuration.load(data, env={})
    db = await _open(config)
    try:
        await create_group(db, config.group_handle, config.name, config.summary, *_keypair())
    finally:
        await db.close()
    print(f"Created {config.name} at {actor_id(config, config.group_handle)} "
          f"(@{config.group_handle}@{config.host}) in {data}")
    return 0


# --- serve ------------------------------------------------------------------------------------------------

def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it is a dependency on Linux and macOS): ~10 % less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _init_from_environment(data: Path) -> None:
    """`serve --init` (the container's command): on first start, when DATA is empty, create the Congregation from
    CONGREGATION_BASE_URL and CONGREGATION_NAME; afterwards do nothing, so a restart never makes a new key."""
    if (data / configuration.CONFIG_FILE).exists() or (data / configuration.DB_FILE).exists():
        return
    env = os.environ
    missing = [f"CONGREGATION_{name}" for name in ("BASE_URL", "NAME") if not env.get(f"CONGREGATION_{name}")]
    if missing:
        raise CliError(f"{data} holds no Congregation yet; set {' and '.join(missing)} to create one on first start")
    args = argparse.Namespace(
        data=str(data), base_url=env["CONGREGATION_BASE_URL"], name=env["CONGREGATION_NAME"],
        handle=env.get("CONGREGATION_GROUP_HANDLE", "group"), summary=env.get("CONGREGATION_SUMMARY", ""),
        public_follows=env.get("CONGREGATION_PUBLIC_FOLLOWS", "manual"), exist_ok=False,
        allow_private_addresses=configuration._coerce(
            "allow_private_addresses", env.get("CONGREGATION_ALLOW_PRIVATE_ADDRESSES", "false")))
    asyncio.run(cmd_init(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from node.app import NotInitialised, create_app

    if args.init:
        _init_from_environment(Path(args.data))
    config = configuration.load(args.data, listen_host=args.host, listen_port=args.port,
                                log_format=args.log_format)
    logs.configure(config.log_level, config.log_format)
    port = config.listen_port or urlsplit(config.base_url).port or 8080
    app = create_app(config)

    async def stopping(_app: web.Application) -> None:
        log.info("Stopping: no new connections; finishing requests in flight")

    app.on_shutdown.append(stopping)
    try:
        web.run_app(app, host=config.listen_host, port=port, access_log=None, loop=_event_loop(),
                    print=lambda _: log.info("Serving %s at %s (listening on %s:%d)", config.name, config.base_url,
                                             config.listen_host, port,
                                             extra={"base_url": config.base_url, "port": port}))
        log.info("Stopped")
    except NotInitialised as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot listen on {config.listen_host}:{port}: {exc.strerror or exc}") from None
    return 0


# --- follows ----------------------------------------------------------------------------------------------

async def _with_node(args: argparse.Namespace, work: Callable[..., Awaitable[int]]) -> int:
    async with open_node(args.data) as node:
        return await work(node)


async def cmd_follows_list(args: argparse.Namespace) -> int:
    async def work(node: OpenNode) -> int:
        config, db, group = node.config, node.db, node.group
        me = actor_id(config, group.username)
        rows = await follows.list_for(db, followee=me, state=args.state) if args.direction == "in" else \
            await follows.list_for(db, follower=me, state=args.state)
        if not rows:
            print("No follows." if args.state is None else f"No {args.state} follows.")
        for row in rows:
            other = row.follower if args.direction == "in" else row.followee
            print(f"{row.id}\t{row.state}\t{other}\t{row.created_at[:19]}")
        return 0
    return await _with_node(args, work)


async def _answer(args: argparse.Namespace, accept: bool) -> int:
    async def work(node: OpenNode) -> int:
        try:
            row = await follow_processing.answer_request(node.db, node.config, node.group, node.client(), args.id,
                                                         accept)
        except follow_processing.FollowError as exc:
            raise CliError(f"{exc} (see `congregation follows list`)") from None
        print(f"{'Approved' if accept else 'Rejected'} {row.follower}; "
              f"the {'Accept' if accept else 'Reject'} is queued for delivery.")
        return 0
    return await _with_node(args, work)


async def cmd_follows_approve(args: argparse.Namespace) -> int:
    return await _answer(args, True)


async def cmd_follows_reject(args: argparse.Namespace) -> int:
    return await _answer(args, False)


# --- follow -----------------------------------------------------------------------------------------------

async def cmd_follow(args: argparse.Namespace) -> int:
    async def work(node: OpenNode) -> int:
        try:
            result = await follow_processing.follow(node.db, node.config, node.group, node.client(), args.target)
        except follow_processing.FollowError as exc:
            raise CliError(str(exc)) from None
        if result.already:
            print(f"Already following {result.actor.uri}.")
        else:
            print(f"Follow request to {result.actor.uri} queued; it is pending until they accept.")
        return 0
    return await _with_node(args, work)


# --- siblings ---------------------------------------------------------------------------------------------

async def cmd_siblings(args: argparse.Namespace) -> int:
    async def work(node: OpenNode) -> int:
        states = await sibling_states(node.db, actor_id(node.config, node.group.username))
        if not states:
            print("No sibling Congregations yet. Meet one with `congregation follow @group@their.host`.")
        for entry in states:
            print(f"{entry.state.split(':')[0]}\t{entry.uri}\t{entry.name or ''}\t{entry.state}")
        return 0
    return await _with_node(args, work)


# --- parser -----------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other error here
        print(f"congregation: {message} (see `congregation --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="congregation", description="A federated home for one Congregation.")
    parser.add_argument("--version", action="version", version=f"congregation {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def data_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", default=str(default_data_dir()),
                       help="data directory (default: $CONGREGATION_DATA or ./data)")

    p = sub.add_parser("init", help="create a Congregation: data directory, database, Group key pair")
    p.add_argument("--base-url", required=True, help="public URL, e.g. https://congregation.example")
    p.add_argument("--name", required=True, help="the Congregation's name")
    p.add_argument("--handle", default="group", help="the Group's handle (default: group)")
    p.add_argument("--summary", default="", help="one paragraph about the Congregation")
    p.add_argument("--public-follows", choices=("manual", "auto"), default="manual")
    p.add_argument("--allow-private-addresses", action="store_true",
                   help="let this node reach loopback/private addresses (local demos and tests only)")
    p.add_argument("--exist-ok", action="store_true",
                   help="succeed without changing anything when DATA already holds a Congregation")
    data_arg(p)
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("serve", help="run the node")
    data_arg(p)
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=whole_number("a port number", 65535), default=None,
                   help="listen port (default: base URL's)")
    p.add_argument("--log-format", choices=logs.FORMATS, default=None,
                   help="text (default) or json: one JSON object per line on stderr")
    p.add_argument("--init", action="store_true",
                   help="if DATA is empty, first create the Congregation from $CONGREGATION_BASE_URL and"
                        " $CONGREGATION_NAME (what the container does)")
    p.set_defaults(run=cmd_serve, sync=True)

    p = sub.add_parser("follows", help="follow requests to the Congregation")
    fsub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    q = fsub.add_parser("list", help="list follows (incoming by default)")
    q.add_argument("--state", choices=("pending", "accepted", "rejected"), default=None)
    q.add_argument("--outgoing", dest="direction", action="store_const", const="out", default="in")
    data_arg(q)
    q.set_defaults(run=cmd_follows_list)
    for action, func in (("approve", cmd_follows_approve), ("reject", cmd_follows_reject)):
        q = fsub.add_parser(action, help=f"{action} a follow request by its number")
        q.add_argument("id", type=whole_number("a number"))
        data_arg(q)
        q.set_defaults(run=func)

    p = sub.add_parser("follow", help="the Group follows an actor (URL or @name@host)")
    p.add_argument("target")
    data_arg(p)
    p.set_defaults(run=cmd_follow)

    p = sub.add_parser("siblings", help="sibling Congregations and the state of each relationship")
    data_arg(p)
    p.set_defaults(run=cmd_siblings)

    members_command.add_parser(sub, data_arg, _Parser)
    moderation_command.add_parsers(sub, data_arg)
    post_command.add_parser(sub, data_arg)
    add_deliveries_parser(sub)
    demo_command.add_parser(sub)
    backup_command.add_parsers(sub, data_arg)
    propose_command.add_parsers(sub, data_arg)
    vote_command.add_parser(sub, data_arg)
    verify_decisions_command.add_parser(sub)
    doctor_command.add_parser(sub, data_arg)
    export_command.add_parser(sub, data_arg)
    reports_command.add_parser(sub, data_arg)
    assembly_command.add_parser(sub, data_arg)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        clock_from_env()  # a stray test clock stops every command here, before it can skew a deadline
        if getattr(args, "sync", False):
            return args.run(args)
        return asyncio.run(args.run(args))
    except (CliError, ClockError, ConfigError, GovernanceError, verify_decisions_command.VerifyError) as exc:
        print(f"congregation: {exc}", file=sys.stderr)
        return 1
    except database.StorageUnavailable as exc:
        print(f"congregation: the database is unavailable ({exc}); try again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        print(f"congregation: unexpected error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
