"""Members' passwords and password-reset links: argon2id hashes, single-use links issued by Partners."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from node.db import transaction
from node.governance.membership import MembershipError, NotAllowed, NotFound, Unusable, iso
from node.store import accounts, local_actors
from node.store.local_actors import LocalActor

MIN_PASSWORD = 8
MAX_PASSWORD = 256  # argon2 takes any length, but a megabyte "password" is a denial of service
RESET_HOURS = 48
# argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4). The app takes another one (create_app's `hasher`)
# only in tests, where a cheap argon2 saves a tenth of a second per hash.
DEFAULT_HASHER = PasswordHasher()
# Checked when the handle is unknown, so a wrong handle costs as long as a wrong password: one per cost,
# made on first use rather than at import (it would add a hash to the start of every command).
_dummy_hashes: dict[tuple[int, ...], str] = {}


def token_hash(token: str) -> str:
    """What is stored instead of a link's or a cookie's secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A URL-safe secret and the hash that is stored instead of it."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def check_password(password: str) -> str:
    """The password if it is long enough and not absurdly long; else MembershipError."""
    if len(password) < MIN_PASSWORD:
        raise MembershipError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise MembershipError(f"a password is at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise MembershipError("a password cannot be only spaces")
    return password


async def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """argon2id, off the event loop."""
    return await asyncio.to_thread((hasher or DEFAULT_HASHER).hash, check_password(password))


def _dummy_hash(hasher: PasswordHasher) -> str:
    cost = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len)
    if cost not in _dummy_hashes:
        _dummy_hashes[cost] = hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[cost]


async def _verify(hashed: str | None, password: str, hasher: PasswordHasher) -> bool:
    """Whether `password` matches `hashed` (None: check a dummy hash of the same cost, and answer False)."""
    def run() -> bool:
        try:
            return hasher.verify(hashed or _dummy_hash(hasher), password) and hashed is not None
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(run)


async def authenticate(db: aiosqlite.Connection, handle: str, password: str,
                       hasher: PasswordHasher | None = None) -> LocalActor | None:
    """The member with this handle and password, or None; the same work is done either way."""
    actor = await local_actors.by_username(db, handle.strip().lstrip("@").lower()) if handle.strip() else None
    hashed = await accounts.password_hash(db, actor.id) if actor is not None and actor.tier else None
    ok = await _verify(hashed, password[:MAX_PASSWORD], hasher or DEFAULT_HASHER)
    return actor if ok else None


async def set_password(db: aiosqlite.Connection, actor_id: int, password: str, keep_session: str | None = None,
                       hasher: PasswordHasher | None = None) -> None:
    """Change a password, end every other session of that member and void their open reset links."""
    hashed = await hash_password(password, hasher)
    async with transaction(db):
        await accounts.set_password_hash(db, actor_id, hashed)
        await accounts.delete_open_resets_of(db, actor_id)
        await accounts.delete_sessions_of(db, actor_id, keep=keep_session)


async def change_password(db: aiosqlite.Connection, actor: LocalActor, current: str, new: str,
                          keep_session: str | None = None, hasher: PasswordHasher | None = None) -> None:
    """A member changes their own password, proving they know the current one."""
    hashed = await accounts.password_hash(db, actor.id)
    if hashed is None or not await _verify(hashed, current[:MAX_PASSWORD], hasher or DEFAULT_HASHER):
        raise MembershipError("the current password is not right")
    if new == current:
        raise MembershipError("the new password is the same as the current one")
    await set_password(db, actor.id, new, keep_session, hasher)


async def issue_reset(db: aiosqlite.Connection, member: LocalActor, issuer: LocalActor | None,
                      now: datetime | None = None) -> str:
    """A single-use link token for `member` to set a new password; Partners (or the operator) issue them."""
    if issuer is not None and issuer.tier != "partner":
        raise NotAllowed("only Partners can issue password-reset links")
    if member.tier is None:
        raise NotFound(f"@{member.username} is not a member")
    token, hashed = new_token()
    expires = (now or datetime.now(UTC)) + timedelta(hours=RESET_HOURS)
    async with transaction(db):
        # One live link per member: a link handed out earlier (perhaps to the wrong person) stops working.
        await accounts.delete_open_resets_of(db, member.id)
        await accounts.insert_reset(db, hashed, member.id, issuer.id if issuer else None, iso(expires))
    return token


async def reset_target(db: aiosqlite.Connection, token: str, now: datetime | None = None) -> LocalActor:
    """The member a reset link is for, or MembershipError saying why the link does not work."""
    reset = await accounts.reset(db, token_hash(token)) if token else None
    if reset is None:
        raise Unusable("this password-reset link is not valid (a newer link, or a reset, voids the older ones)",
                       "unknown")
    if reset.used_at is not None:
        raise Unusable("this password-reset link was already used", "used")
    if reset.expires_at <= iso(now or datetime.now(UTC)):
        raise Unusable("this password-reset link has expired; ask a Partner for a new one", "expired")
    member = await local_actors.by_id(db, reset.actor_id)
    if member is None or member.tier is None:
        raise Unusable("this password-reset link is for someone who is no longer a member", "departed")
    return member


async def use_reset(db: aiosqlite.Connection, token: str, password: str, now: datetime | None = None,
                    hasher: PasswordHasher | None = None) -> LocalActor:
    """Set a new password through a reset link; the link is spent and every session of that member ends."""
    member = await reset_target(db, token, now)
    hashed = await hash_password(password, hasher)
    async with transaction(db):
        again = await accounts.reset(db, token_hash(token))
        if again is None or again.used_at is not None:
            raise Unusable("this password-reset link was already used", "used")
        await accounts.mark_reset_used(db, token_hash(token))
        await accounts.delete_open_resets_of(db, member.id)
        await accounts.set_password_hash(db, member.id, hashed)
        await accounts.delete_sessions_of(db, member.id)
    return member
