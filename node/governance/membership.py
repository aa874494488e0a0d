"""Who belongs: the Congregation's Group actor, its members and their tiers, and the size it is designed for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from node.config import HANDLE_RE, Config
from node.db import transaction
from node.governance import decision_log
from node.governance.errors import Conflict, GovernanceError, Invalid, NotAllowed, NotFound
from node.governance.events import Event, MembershipEnded
from node.store import accounts, invitations, local_actors
from node.store.local_actors import LocalActor

__all__ = ["Conflict", "GovernanceError", "MembershipError", "NotAllowed", "NotFound", "Unusable"]

TIERS = ("friend", "partner")
RESERVED = {"admin", "root", "inbox", "actors", "activities", "well-known", "nodeinfo", "api", "static", "login",
            "logout", "home", "members", "invite", "invitations", "settings", "posts", "follows", "feed", "reset"}
MAX_DISPLAY_NAME = 100
MAX_BIO = 2_000
MAX_REASON = 1_000


class MembershipError(Invalid):
    """A membership change cannot be made; the message says why, for a person to read."""


class Unusable(Conflict):
    """A link (invitation, password reset) cannot be used; `state` names why, for callers that answer by it."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state  # unknown | used | revoked | expired | awaiting_endorsement | departed


def iso(moment: datetime) -> str:
    """The database's timestamp format, so stored times compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_handle(handle: str) -> str:
    """The handle as stored (no @, lower case) if it is well formed and not reserved; else MembershipError."""
    handle = handle.strip().lstrip("@").lower()
    if not handle:
        raise MembershipError("choose a handle")
    if not HANDLE_RE.match(handle):
        raise MembershipError(f"handle {handle!r}: use 1-30 lowercase letters, digits, _ . -")
    if handle in RESERVED:
        raise MembershipError(f"handle {handle!r} is reserved")
    return handle


def check_display_name(name: str, fallback: str) -> str:
    """The name with its whitespace collapsed, or `fallback` when empty; else MembershipError when too long."""
    name = " ".join(name.split())
    if len(name) > MAX_DISPLAY_NAME:
        raise MembershipError(f"a display name is at most {MAX_DISPLAY_NAME} characters")
    return name or fallback


def check_bio(bio: str) -> str:
    """The bio trimmed; else MembershipError when too long."""
    bio = bio.strip()
    if len(bio) > MAX_BIO:
        raise MembershipError(f"a bio is at most {MAX_BIO} characters")
    return bio


def check_reason(reason: str) -> str:
    """The reason trimmed; else MembershipError when too long."""
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise MembershipError(f"a reason is at most {MAX_REASON} characters")
    return reason


@dataclass(frozen=True)
class SizeStatus:
    """How big the Congregation is against the size it is designed for."""

    members: int
    soft_size: int
    hard_size: int

    @property
    def time_to_split(self) -> bool:
        return self.members >= self.soft_size

    @property
    def full(self) -> bool:
        return self.members >= self.hard_size


async def size_status(db: aiosqlite.Connection, config: Config) -> SizeStatus:
    """Members now against the sizes the settings name."""
    return SizeStatus(await local_actors.count_members(db), config.soft_size, config.hard_size)


def refuse_if_full(status: SizeStatus) -> None:
    """Conflict when no one new may join."""
    if status.full:
        raise Conflict(
            f"the Congregation has {status.members} members, its hard size is {status.hard_size}: no one new can"
            " join until it splits or someone leaves")


async def create_group(db: aiosqlite.Connection, handle: str, name: str, summary: str,
                       private_key_pem: str, public_key_pem: str) -> int:
    """The node's one Group actor (`congregation init`)."""
    async with transaction(db):
        if await local_actors.group(db) is not None:
            raise Conflict("this node already has its Congregation")
        group_id = await local_actors.insert(db, check_handle(handle), "Group", name, summary,
                                             private_key_pem, public_key_pem)
        await decision_log.ensure_key(db)
        return group_id


async def insert_member(db: aiosqlite.Connection, handle: str, display_name: str, tier: str,
                        private_key_pem: str, public_key_pem: str, by: int | None, reason: str = "") -> int:
    """Create a member's actor and record the join; call inside a transaction."""
    handle = check_handle(handle)
    if tier not in TIERS:
        raise MembershipError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    display_name = check_display_name(display_name, handle)
    if await local_actors.by_username(db, handle) is not None:
        raise Conflict(f"the handle {handle!r} is taken")
    actor_id = await local_actors.insert(db, handle, "Person", display_name, "", private_key_pem, public_key_pem)
    await local_actors.add_member(db, actor_id, tier)
    await invitations.record_event(db, "joined", actor_id, by, tier, reason)
    return actor_id


async def add_member(db: aiosqlite.Connection, handle: str, display_name: str, tier: str,
                     private_key_pem: str, public_key_pem: str, config: Config | None = None,
                     password_hash: str | None = None) -> int:
    """The operator adds a member directly (CLI, demo); the join is recorded as by nobody in particular."""
    async with transaction(db):
        if config is not None:
            refuse_if_full(await size_status(db, config))
        actor_id = await insert_member(db, handle, display_name, tier, private_key_pem, public_key_pem, None,
                                       "added by the operator")
        if password_hash is not None:
            await accounts.set_password_hash(db, actor_id, password_hash)
    return actor_id


async def _member(db: aiosqlite.Connection, handle_or_id: str | int) -> LocalActor:
    actor = (await local_actors.by_id(db, handle_or_id) if isinstance(handle_or_id, int)
             else await local_actors.by_username(db, handle_or_id.strip().lstrip("@").lower()))
    if actor is None or actor.tier is None:
        raise NotFound(f"there is no member {handle_or_id}")
    return actor


async def promote(db: aiosqlite.Connection, member: str | int, by: LocalActor | None, reason: str = "") -> LocalActor:
    """Friend → Partner. Issue 5's decisions call this when a `promote` proposal passes."""
    async with transaction(db):
        actor = await _member(db, member)
        if actor.tier == "partner":
            raise Conflict(f"@{actor.username} is already a Partner")
        await local_actors.set_tier(db, actor.id, "partner")
        await invitations.record_event(db, "promoted", actor.id, by.id if by else None, "partner",
                                       check_reason(reason))
    return actor


async def demote(db: aiosqlite.Connection, member: str | int, by: LocalActor | None, reason: str = "") -> LocalActor:
    """Partner → Friend; the Congregation always keeps at least one Partner."""
    async with transaction(db):
        actor = await _member(db, member)
        if actor.tier == "friend":
            raise Conflict(f"@{actor.username} is already a Friend")
        if await local_actors.count_partners(db) <= 1:
            raise Conflict("the Congregation needs at least one Partner")
        await local_actors.set_tier(db, actor.id, "friend")
        await invitations.record_event(db, "demoted", actor.id, by.id if by else None, "friend",
                                       check_reason(reason))
    return actor


async def leave(db: aiosqlite.Connection, member: LocalActor, reason: str = "") -> list[Event]:
    """A member leaves of their own accord; their sessions end, their posts stay."""
    return await _end_membership(db, member.id, "departed", member.id, reason)


async def remove(db: aiosqlite.Connection, member: str | int, by: LocalActor | None, reason: str) -> list[Event]:
    """Remove a member (by a Partner, the operator, or a passed `remove_member` decision)."""
    if not reason.strip():
        raise MembershipError("say why the member is being removed; the reason is recorded for everyone")
    actor = await _member(db, member)
    return await _end_membership(db, actor.id, "removed", by.id if by else None, reason)


async def _end_membership(db: aiosqlite.Connection, actor_id: int, kind: str, by: int | None, reason: str
                          ) -> list[Event]:
    reason = check_reason(reason)
    async with transaction(db):
        actor = await _member(db, actor_id)
        if actor.tier == "partner" and await local_actors.count_partners(db) <= 1:
            raise Conflict("the last Partner cannot leave or be removed: promote someone first")
        await local_actors.remove_member(db, actor.id)
        await accounts.delete_sessions_of(db, actor.id)
        await invitations.record_event(db, kind, actor.id, by, actor.tier, reason)
        return [MembershipEnded(actor, kind)]
