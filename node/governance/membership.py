"""Who belongs: the Congregation's Group actor and its members."""

from __future__ import annotations

import aiosqlite

from node.config import HANDLE_RE
from node.db import transaction
from node.store import local_actors

TIERS = ("friend", "partner")
RESERVED = {"admin", "root", "inbox", "actors", "activities", "well-known", "nodeinfo", "api", "static"}


class MembershipError(Exception):
    """A membership change cannot be made; the message says why, for a person to read."""


def check_handle(handle: str) -> str:
    handle = handle.strip().lower()
    if not HANDLE_RE.match(handle):
        raise MembershipError(f"handle {handle!r}: use 1-30 lowercase letters, digits, _ . -")
    if handle in RESERVED:
        raise MembershipError(f"handle {handle!r} is reserved")
    return handle


async def create_group(db: aiosqlite.Connection, handle: str, name: str, summary: str,
                       private_key_pem: str, public_key_pem: str) -> int:
    async with transaction(db):
        if await local_actors.group(db) is not None:
            raise MembershipError("this node already has its Congregation")
        return await local_actors.insert(db, check_handle(handle), "Group", name, summary,
                                         private_key_pem, public_key_pem)


async def add_member(db: aiosqlite.Connection, handle: str, display_name: str, tier: str,
                     private_key_pem: str, public_key_pem: str) -> int:
    handle = check_handle(handle)
    if tier not in TIERS:
        raise MembershipError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    async with transaction(db):
        if await local_actors.by_username(db, handle) is not None:
            raise MembershipError(f"the handle {handle!r} is taken")
        actor_id = await local_actors.insert(db, handle, "Person", display_name.strip() or handle, "",
                                             private_key_pem, public_key_pem)
        await local_actors.add_member(db, actor_id, tier)
    return actor_id
