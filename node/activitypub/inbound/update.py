"""Update: an actor refreshes its own document, or its author edits a Note we hold."""

from __future__ import annotations

import json
from typing import Any

from node.activitypub import fanout, quotas
from node.activitypub.as2.notes import parse_note
from node.activitypub.as2.parse import BadDocument, own_keys_of, parse_actor, ref
from node.activitypub.inbound.context import InboxContext, is_note, reshared_by_group
from node.db import transaction
from node.store import remote, remote_objects


async def on_update_actor(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Refresh our copy of `actor` (name, summary, icon, keys) from the document it sends about itself."""
    document = activity["object"]
    # The inbox only checked the object's origin: on a shared host, one account could rewrite another.
    if ref(document) != actor:
        return "ignored: an actor may update only itself"
    try:
        parsed = parse_actor(document)
    except BadDocument as exc:
        return f"ignored: {exc}"
    held = await remote.actor(ctx.db, actor)
    if held is None or held.deleted_at is not None:
        return "ignored: Update of an actor we do not hold"
    if len(json.dumps(document).encode()) > remote.MAX_DOCUMENT_BYTES:
        return f"ignored: the actor's document is over {remote.MAX_DOCUMENT_BYTES // 1024} KiB"
    # As when a key is fetched: the actor vouches only for its own keys, on its origin and under its URI.
    keys = own_keys_of(document)
    async with transaction(ctx.db):
        await remote.upsert_actor(ctx.db, parsed, json.dumps(document))
        if keys:
            # A key the actor no longer lists must stop verifying its signatures (key rotation).
            await remote.delete_keys_of(ctx.db, actor)
            for key_id, (owner, material) in keys.items():
                await remote.upsert_key(ctx.db, key_id, owner, material)
    ctx.keys.forget(actor)
    return "actor updated"


async def on_update_note(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Apply its author's edit to a Note we hold; the Group passes it on if it re-shared the Note."""
    obj = activity.get("object")
    if not is_note(obj):
        return "stored: Update of an object we do not keep"
    try:
        note = parse_note(obj)
    except BadDocument as exc:
        return f"ignored: {exc}"
    held = await remote_objects.get(ctx.db, note.uri)
    if held is None or held.deleted_at is not None:
        return "ignored: Update of an object we do not hold"
    if held.author != actor or note.author != actor:
        return "ignored: only its author may update an object"
    # A poll's counts change without its `updated` changing (Mastodon's Update(Question)).
    if held.type != "Question" and (held.content, held.name, held.updated) == (note.content, note.name, note.updated):
        return "unchanged"
    document = json.dumps(obj)
    if (refused := quotas.too_large(document)) is not None:
        return refused
    group, reshared = await reshared_by_group(ctx, held)
    # Passed on only while it stays public: an edit that narrows its audience is not the Group's to announce.
    reshare = reshared and note.public
    async with transaction(ctx.db):
        await remote_objects.update(ctx.db, note, document)
        if reshare:
            await fanout.reshare(ctx.db, ctx.config, group, activity, None, actor)
    return "updated"


async def on_update(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """An Update of a bare id or of a type we do not keep: nothing to refresh."""
    return "stored: Update of an object we do not keep"
