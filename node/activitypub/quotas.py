"""How much one remote actor, and one remote server, may make this node keep (issue 12, point 8).

Each limit sits far above what a real peer needs and far below what fills a disk:

* Activities waiting for the worker: 500 rows or 16 MiB per actor, 2,000 rows or 64 MiB per server (its
  registrable domain, node/domains.py: a wildcard domain's many names are one server). Past either the inbox
  answers 429 with Retry-After; nothing is lost, the sender tries again once the worker has caught up.
* Stored objects (`remote_objects`): one document over 256 KiB is refused. An author keeps at most 2,000 objects
  or 16 MiB when one of ours follows them, 200 or 4 MiB otherwise (posts to the Group by its followers, Notes a
  followed actor boosted); a new one past that prunes the author's oldest. Pruned per author rather than under
  one total cap: a total cap would let one stranger's flood evict the posts of everyone members follow, while this
  way an author only ever displaces their own old posts, and a timeline shows recent ones.
* Authors nobody here follows share 2,000 objects or 32 MiB per server: past it a new object from that server is
  refused with the reason as the row's outcome, so a server minting accounts cannot grow us either.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.activitypub.inbound.context import InboxContext, followed_by_us
from node.store import inbox as inbox_store
from node.store import remote_objects

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    rows: int
    bytes: int


PENDING_PER_ACTOR = Limit(500, 16 * MIB)
PENDING_PER_SERVER = Limit(2_000, 64 * MIB)
RETRY_AFTER_SECONDS = 60

MAX_OBJECT_BYTES = 256 * 1024
FOLLOWED_AUTHOR = Limit(2_000, 16 * MIB)
OTHER_AUTHOR = Limit(200, 4 * MIB)
UNFOLLOWED_PER_SERVER = Limit(2_000, 32 * MIB)


def _over(used_rows: int, used_bytes: int, limit: Limit, adding: int) -> bool:
    return used_rows + 1 > limit.rows or used_bytes + adding > limit.bytes


async def inbox_refusal(db: aiosqlite.Connection, actor: str, body_bytes: int) -> str | None:
    """Why one more activity of `actor` may not wait for the worker now (for a 429), or None."""
    own, server = await inbox_store.pending_usage(db, actor, inbox_store.host_key(actor))
    if _over(own.rows, own.bytes, PENDING_PER_ACTOR, body_bytes):
        return (f"you have {own.rows} activities ({own.bytes // 1024} KiB) waiting to be processed here;"
                " try again later")
    if _over(server.rows, server.bytes, PENDING_PER_SERVER, body_bytes):
        return (f"your server has {server.rows} activities ({server.bytes // 1024} KiB) waiting to be processed"
                " here; try again later")
    return None


def too_large(document: str) -> str | None:
    """Why this object document is too large to keep (its new version too), or None."""
    if len(document.encode()) > MAX_OBJECT_BYTES:
        return f"refused: the object's document is over {MAX_OBJECT_BYTES // 1024} KiB"
    return None


async def object_refusal(ctx: InboxContext, author: str, document: str, followed: bool | None = None) -> str | None:
    """Why a new object of `author` may not be stored, as the row's outcome, or None (`followed`: whether one
    of ours follows `author`, when the caller knows)."""
    if (refused := too_large(document)) is not None:
        return refused
    size = len(document.encode())
    if followed if followed is not None else await followed_by_us(ctx, author):
        return None
    host = inbox_store.host_key(author)
    used = await remote_objects.unfollowed_usage(ctx.db, host, ctx.config.base_url + "/")
    if _over(used.rows, used.bytes, UNFOLLOWED_PER_SERVER, size):
        return (f"refused: {host} has {used.rows} objects ({used.bytes // MIB} MiB) stored here by accounts"
                " nobody here follows, its quota")
    return None


async def prune_author(ctx: InboxContext, author: str, followed: bool | None = None) -> list[str]:
    """Keep `author` within their cap (inside the transaction that stored their new object); the uris pruned."""
    if followed is None:
        followed = await followed_by_us(ctx, author)
    limit = FOLLOWED_AUTHOR if followed else OTHER_AUTHOR
    return await remote_objects.prune_author(ctx.db, author, limit.rows, limit.bytes)
