"""Invitation-only joining: Partners invite, other Partners endorse, the invited person picks a handle.

An invitation names the tier it grants, expires, is used once, can be revoked, and works only once
`endorsements_needed` Partners (the inviter first) have endorsed it. The link's secret is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite
from argon2 import PasswordHasher

from node.config import Config
from node.db import transaction
from node.governance import accounts
from node.governance.membership import (
    TIERS,
    Conflict,
    MembershipError,
    NotAllowed,
    NotFound,
    Unusable,
    check_handle,
    insert_member,
    iso,
    refuse_if_full,
    size_status,
)
from node.store import accounts as accounts_store
from node.store import invitations as store
from node.store import local_actors
from node.store.invitations import Invitation
from node.store.local_actors import LocalActor

MAX_NOTE = 500
REASONS = {
    "unknown": "this invitation link is not valid",
    "used": "this invitation has already been used",
    "revoked": "this invitation was withdrawn",
    "expired": "this invitation has expired; ask for a new one",
    "awaiting_endorsement": "this invitation is waiting for another Partner to endorse it; try again later",
    "inviter_gone": "the member who made this invitation can no longer make it (they were removed or are no"
                    " longer a Partner); ask a Partner for a new one",
}


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation and the secret of its link."""

    invitation: Invitation
    token: str  # shown once, to the inviter; only its hash is kept


def state(invitation: Invitation, now: datetime | None = None) -> str:
    """used | revoked | expired | awaiting_endorsement | open"""
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= iso(now or datetime.now(UTC)):
        return "expired"
    if len(invitation.endorsers) < invitation.endorsements_needed:
        return "awaiting_endorsement"
    return "open"


def may_invite(config: Config, actor: LocalActor | None, tier: str = "friend") -> bool:
    """Partners invite; Friends too when `who_invites = "members"`, but only ever as Friends."""
    if actor is None or actor.tier is None:
        return False
    if actor.tier == "partner":
        return True
    return config.who_invites == "members" and tier == "friend"


async def create(db: aiosqlite.Connection, config: Config, inviter: LocalActor | None, tier: str, note: str = "",
                 now: datetime | None = None) -> IssuedInvitation:
    """A new invitation; `inviter` None is the operator at the command line, whose word needs no endorsement."""
    if tier not in TIERS:
        raise MembershipError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    if inviter is not None and not may_invite(config, inviter, tier):
        raise NotAllowed("only Partners can invite" if tier == "friend" or inviter.tier is None
                         else "only Partners can invite Partners")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise MembershipError(f"a note is at most {MAX_NOTE} characters")
    token, hashed = accounts.new_token()
    expires = iso((now or datetime.now(UTC)) + timedelta(days=config.invitation_days))
    needed = 0 if inviter is None else config.invitation_endorsements
    async with transaction(db):
        refuse_if_full(await size_status(db, config))
        invitation_id = await store.insert(db, hashed, tier, inviter.id if inviter else None, note, needed, expires)
        if inviter is not None and inviter.tier == "partner":
            await store.endorse(db, invitation_id, inviter.id)
        return IssuedInvitation(await store.by_id(db, invitation_id), token)


async def _get(db: aiosqlite.Connection, invitation_id: int) -> Invitation:
    invitation = await store.by_id(db, invitation_id)
    if invitation is None:
        raise NotFound(f"there is no invitation {invitation_id}")
    return invitation


async def endorse(db: aiosqlite.Connection, partner: LocalActor, invitation_id: int,
                  now: datetime | None = None) -> Invitation:
    """A Partner vouches for an invitation; it works once `endorsements_needed` Partners have."""
    if partner.tier != "partner":
        raise NotAllowed("only Partners can endorse invitations")
    async with transaction(db):
        invitation = await _get(db, invitation_id)
        current = state(invitation, now)
        if current not in ("awaiting_endorsement", "open"):
            raise Conflict(f"this invitation is {current}; it cannot be endorsed")
        if partner.id in invitation.endorsers:
            raise Conflict("you have already endorsed this invitation")
        await store.endorse(db, invitation.id, partner.id)
        return await store.by_id(db, invitation.id)


async def revoke(db: aiosqlite.Connection, actor: LocalActor | None, invitation_id: int,
                 now: datetime | None = None) -> Invitation:
    """Partners, and the member who made it, may revoke an invitation that has not been used."""
    async with transaction(db):
        invitation = await _get(db, invitation_id)
        if actor is not None and actor.tier != "partner" and actor.id != invitation.inviter_id:
            raise NotAllowed("only Partners and the inviter can revoke an invitation")
        current = state(invitation, now)
        if current in ("used", "revoked"):
            raise Conflict(f"this invitation is already {current}")
        await store.revoke(db, invitation.id, actor.id if actor else None)
        return await store.by_id(db, invitation.id)


async def standing(db: aiosqlite.Connection, invitation: Invitation, now: datetime | None = None) -> str:
    """The state, and inviter_gone for a live invitation whose inviter may no longer make it."""
    current = state(invitation, now)
    if current in ("open", "awaiting_endorsement") and not await _inviter_may_still(db, invitation):
        return "inviter_gone"
    return current


async def lookup(db: aiosqlite.Connection, token: str, now: datetime | None = None) -> Invitation:
    """The invitation behind a link, if it can be accepted now; else Unusable saying why not."""
    invitation = await store.by_token_hash(db, accounts.token_hash(token)) if token else None
    current = "unknown" if invitation is None else await standing(db, invitation, now)
    if current != "open":
        raise Unusable(REASONS[current], current)
    return invitation


async def _inviter_may_still(db: aiosqlite.Connection, invitation: Invitation) -> bool:
    """Decided at acceptance: the inviter is still a member, and still a Partner if the invitation makes one."""
    if invitation.inviter_id is None:
        return True  # the operator at the command line
    inviter = await local_actors.by_id(db, invitation.inviter_id)
    if inviter is None or inviter.tier is None:
        return False
    return invitation.tier != "partner" or inviter.tier == "partner"


async def accept(db: aiosqlite.Connection, config: Config, token: str, handle: str, display_name: str,
                 password: str, keypair: tuple[str, str], now: datetime | None = None,
                 hasher: PasswordHasher | None = None) -> int:
    """Use an invitation: choose a handle and a password, become a member of the invitation's tier."""
    await lookup(db, token, now)
    check_handle(handle)  # before argon2: a typo in the handle should not cost a hash
    hashed = await accounts.hash_password(password, hasher)
    async with transaction(db):
        invitation = await lookup(db, token, now)  # again, inside the write lock: single use
        refuse_if_full(await size_status(db, config))
        member_id = await insert_member(db, handle, display_name, invitation.tier, *keypair,
                                        by=invitation.inviter_id, reason=invitation.note)
        if not await store.mark_used(db, invitation.id, member_id):
            raise Unusable(REASONS["used"], "used")
        await accounts_store.set_password_hash(db, member_id, hashed)
    return member_id
