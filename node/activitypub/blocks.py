"""Whom the Congregation federates with, enforced on the wire: the inbox refuses a blocked (or, in allowlist mode, an
unlisted) server before any signature work, and no delivery row is made for one.

Hosts are compared as the connector sees them (IDNA/UTS 46, lowercase, no trailing dot, no port), the form
`fetch.connect_host` gives: a block of `bücher.example` is a block of `xn--bcher-kva.example`, and of its subdomains.
"""

from __future__ import annotations

import aiosqlite

from node import uris
from node.activitypub.fetch import connect_host
from node.activitypub.jsonsafe import BadJSON, loads_object
from node.config import Config
from node.store import local_actors, timeline
from node.store import moderation as store
from node.store.moderation import Policy, covers

BLOCKED = "this Congregation blocks your server"
NOT_LISTED = "this Congregation federates only with its sibling Congregations and the servers it lists"
MAX_HOST = 253


def server_of(text: str) -> str | None:
    """The host of a URL (or of a bare host name), as the connector would connect to it; None if it has none."""
    text = text.strip()
    if not text or any(c.isspace() for c in text) or len(text) > 2048:
        return None
    url = text if "//" in text else "http://" + text
    if not url.lower().startswith(("http://", "https://")):
        return None
    host = connect_host(url)
    if not host:
        return None
    host = host.lower().rstrip(".")
    if not host or len(host) > MAX_HOST or host.startswith(".") or ".." in host:
        return None
    return host


async def sibling_hosts(db: aiosqlite.Connection, config: Config) -> frozenset[str]:
    """The hosts of sibling Congregations (their Groups follow ours and ours theirs, both accepted)."""
    group = await local_actors.group(db)
    found = await timeline.sibling_uris(db, uris.actor(config, group.username))
    return frozenset(h for h in (server_of(u) for u in found) if h)


def refusal(policy: Policy, host: str | None, own_host: str, siblings: frozenset[str]) -> str | None:
    """Why nothing is taken from or sent to `host` under `policy`, or None (`siblings` matter in allowlist mode)."""
    if host is None or policy.open_to_all:
        return None
    if policy.blocks(host):
        return BLOCKED
    if policy.mode != store.ALLOWLIST or policy.lists(host) or covers(own_host, host):
        return None
    return None if any(covers(s, host) for s in siblings) else NOT_LISTED


async def _judge(db: aiosqlite.Connection, config: Config | None):
    """The policy, and a function from host to refusal (or None) under it (without `config`, siblings are unknown)."""
    policy = await store.policy(db)
    known = config is not None and policy.mode == store.ALLOWLIST
    siblings = await sibling_hosts(db, config) if known else frozenset()
    own = server_of(config.base_url) or "" if config is not None else ""
    return policy, lambda host: refusal(policy, host, own, siblings)


def _actor_of(body: bytes, max_depth: int) -> str | None:
    try:
        actor = loads_object(body, max_depth).get("actor")
    except BadJSON:
        return None  # the inbox refuses it with its own reason further on
    if isinstance(actor, dict):
        actor = actor.get("id")
    return actor if isinstance(actor, str) else None


async def inbox_refusal(db: aiosqlite.Connection, config: Config, key_id: str, body: bytes) -> str | None:
    """Why the inbox refuses this POST (403) before fetching anything: its keyId's or its actor's server is blocked,
    or not listed in allowlist mode. None when it may go on to the signature check."""
    policy, judge = await _judge(db, config)
    if policy.open_to_all:
        return None
    if (reason := judge(server_of(key_id))) is not None:
        return reason
    actor = _actor_of(body, config.max_json_depth)
    return judge(server_of(actor)) if actor else None


async def fetch_refusal(db: aiosqlite.Connection, config: Config, url: str) -> str | None:
    """Why nothing is fetched from `url` while handling an activity (an object a followed actor boosts, a parent
    post, an author): its server is blocked, or not listed in allowlist mode. A blocked server's posts stay out
    of the node whoever shares them."""
    policy, judge = await _judge(db, config)
    return None if policy.open_to_all else judge(server_of(url))


async def deliverable(db: aiosqlite.Connection, config: Config | None, inboxes: list[str]) -> list[str]:
    """The inboxes a new activity may be delivered to: none on a blocked server, or, in allowlist mode, on a server
    that is neither a sibling's nor listed."""
    if not inboxes:
        return inboxes
    policy, judge = await _judge(db, config)
    if policy.open_to_all:
        return inboxes
    return [inbox for inbox in inboxes if judge(server_of(inbox) or "") is None]
