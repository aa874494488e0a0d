"""What members say about themselves: display name, bio, avatar."""

from __future__ import annotations

import aiosqlite

from node.db import transaction
from node.governance.errors import Invalid
from node.governance.events import Event, ProfileChanged
from node.governance.membership import MembershipError, check_bio, check_display_name
from node.store import accounts, local_actors
from node.store.local_actors import LocalActor

MAX_AVATAR = 1024 * 1024
# The file's first bytes decide its type; a filename or a browser's Content-Type is only a claim.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


async def _changed(db: aiosqlite.Connection, what: str, member: LocalActor) -> list[Event]:
    return [ProfileChanged(await local_actors.by_id(db, member.id), what)]


class TooLarge(Invalid):
    """An upload is larger than an avatar may be."""


def image_type(data: bytes) -> str | None:
    """image/png, image/jpeg, image/gif or image/webp by magic bytes; None for anything else."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def update_profile(db: aiosqlite.Connection, member: LocalActor, display_name: str, bio: str) -> list[Event]:
    """Set a member's display name (empty: their handle) and bio, as their Person actor shows them."""
    name = check_display_name(display_name, member.username)
    bio = check_bio(bio)
    async with transaction(db):
        current = await local_actors.by_id(db, member.id)
        if current is not None and (current.display_name, current.summary) == (name, bio):
            return []
        await local_actors.set_profile(db, member.id, name, bio)
        return await _changed(db, "profile", member)


async def set_avatar(db: aiosqlite.Connection, member: LocalActor, data: bytes) -> list[Event]:
    """Store an avatar after checking its size and kind."""
    if not data:
        raise MembershipError("choose an image file")
    if len(data) > MAX_AVATAR:
        raise TooLarge(f"the picture is larger than {MAX_AVATAR // (1024 * 1024)} MiB")
    media_type = image_type(data)
    if media_type is None:
        raise MembershipError("an avatar must be a PNG, JPEG, GIF or WebP image")
    async with transaction(db):
        await accounts.set_avatar(db, member.id, media_type, data)
        return await _changed(db, "avatar", member)


async def delete_avatar(db: aiosqlite.Connection, member: LocalActor) -> list[Event]:
    """Remove a member's avatar; removing none is not an error, and changes nothing."""
    async with transaction(db):
        if await accounts.avatar_media_type(db, member.id) is None:
            return []
        await accounts.delete_avatar(db, member.id)
        return await _changed(db, "avatar-removed", member)
