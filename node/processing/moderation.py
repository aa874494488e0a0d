"""Moderation as the web and the CLI ask for it: the Congregation blocks and unblocks servers, lists servers for
allowlist mode; a member mutes and blocks accounts and servers for themselves. Names are read as the connector
would (blocks.server_of), the change and what it sends commit together (common.apply)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosqlite

from node import uris
from node.activitypub.blocks import server_of, sibling_hosts
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.webfinger_client import resolve_handle
from node.config import Config
from node.governance import moderation
from node.governance.events import Event
from node.governance.moderation import ModerationError, Place
from node.governance.proposals import ProposalError
from node.processing.common import apply
from node.store import moderation as store
from node.store.local_actors import LocalActor
from node.store.proposals import Proposal

__all__ = ["ModerationError", "allow_server", "block_server", "disallow_server", "filter_target", "place",
           "server", "unblock_server", "unfilter_target"]
MAX_TARGET = 2048


async def place(db: aiosqlite.Connection, config: Config) -> Place:
    """This node's own host, its actors' URI prefix and its siblings' hosts, read now."""
    prefix = uris.actor(config, "x")[:-1]
    return Place(server_of(config.base_url) or "", prefix, await sibling_hosts(db, config))


def server(text: str) -> str:
    """A server's host from what a person typed (a host, a URL, or @name@host), as the connector would see it."""
    text = (text or "").strip()
    if text.count("@") in (1, 2) and "//" not in text:
        text = text.rsplit("@", 1)[1]
    host = server_of(text) if len(text) <= MAX_TARGET else None
    if host is None:
        raise ModerationError(f"{text[:100]!r} is not a server's name, like social.example")
    return host


async def block_server(db: aiosqlite.Connection, config: Config, by: LocalActor | None, text: str,
                       reason: str) -> str:
    """One Partner (or the operator, `by` None) blocks a server that is not a sibling's; returns its host."""
    host = server(text)
    where = await place(db, config)
    await apply(db, config, lambda: moderation.block_server(db, by, host, reason, where))
    return host


async def unblock_server(db: aiosqlite.Connection, config: Config, by: LocalActor | None, text: str,
                         reason: str = "") -> str:
    host = server(text)
    await apply(db, config, lambda: moderation.unblock_server(db, by, host, reason))
    return host


async def allow_server(db: aiosqlite.Connection, config: Config, by: LocalActor | None, text: str,
                       reason: str = "") -> str:
    host = server(text)
    where = await place(db, config)
    await apply(db, config, lambda: moderation.allow_server(db, by, host, where, reason))
    return host


async def disallow_server(db: aiosqlite.Connection, config: Config, by: LocalActor | None, text: str,
                          reason: str = "") -> str:
    host = server(text)
    where = await place(db, config)
    await apply(db, config, lambda: moderation.disallow_server(db, by, host, where, reason))
    return host


@dataclass(frozen=True)
class Target:
    kind: str  # account | server
    value: str  # an actor URI, or a host


async def target(config: Config, client: HttpClient | None, text: str) -> Target:
    """What a member names to mute or block: an account (its URL, or @name@host found by WebFinger) or a server."""
    text = (text or "").strip()
    if not text or len(text) > MAX_TARGET or any(c.isspace() for c in text):
        raise ModerationError("name an account (its address, like @name@social.example) or a server")
    if text.startswith(("http://", "https://")):
        try:
            parts = urlsplit(text)
        except ValueError:
            parts = None
        if parts is None or not parts.hostname:
            raise ModerationError(f"{text[:100]!r} is not an address this node can read")
        if parts.path in ("", "/"):
            return Target("server", server(text))
        return Target("account", text)
    if text.lstrip("@").count("@") == 1:
        if client is None:
            raise ModerationError("this node cannot look up accounts from here; give the account's URL")
        try:
            return Target("account", await resolve_handle(client, text, allow_http=config.allow_private_addresses))
        except FetchError as exc:
            raise ModerationError(f"cannot find {text[:100]}: {exc.reason}") from None
    return Target("server", server(text))


async def filter_target(db: aiosqlite.Connection, config: Config, member: LocalActor, found: Target,
                        kind: str) -> list[Event]:
    """The member mutes or blocks an account or server, for themselves alone (a block ends follows both ways)."""
    me = uris.actor(config, member.username)
    where = await place(db, config)
    return await apply(db, config, lambda: moderation.filter_target(db, member, me, found.kind, found.value, kind,
                                                                    where))


async def unfilter_target(db: aiosqlite.Connection, config: Config, member: LocalActor, target_kind: str,
                          value: str) -> list[Event]:
    return await apply(db, config, lambda: moderation.unfilter_target(db, member, target_kind, value))


async def refuses_follow(db: aiosqlite.Connection, member: LocalActor, follower: str) -> bool:
    """Whether a member blocks this follower (the account or its server): their Follow is rejected."""
    return member.kind == "Person" and await store.blocks_actor(db, member.id, follower)


# Enactors of passed proposals (see processing/proposals.py ENACTORS)


def proposal_args(action: str | None, args: dict | None) -> dict | None:
    """A moderation proposal's arguments as stored: its server read as the connector would."""
    if action == "block_server" and args is not None:
        text = str(args.get("server") or "")
        try:
            return {**args, "server": server(text)}
        except ModerationError as exc:
            raise ProposalError(str(exc)) from None
    return args


async def enact_block(db: aiosqlite.Connection, config: Config, proposal: Proposal, _: object) -> list[Event]:
    """A passed proposal blocks a server, a sibling's too; idempotent."""
    host = proposal.action_args["server"]
    if await store.server_block(db, host) is not None:
        return []
    reason = f"decided by proposal “{proposal.title}”"
    return await moderation.block_server(db, None, host, reason, await place(db, config), proposal_id=proposal.id)


async def enact_mode(db: aiosqlite.Connection, config: Config, proposal: Proposal, _: object) -> list[Event]:
    """A passed proposal enters or leaves allowlist mode; idempotent."""
    return await moderation.set_mode(db, proposal.action_args["mode"], await place(db, config), proposal.id,
                                     f"decided by proposal “{proposal.title}”")
