"""Remote actors: from the cache, or fetched (signed) from their origin and cached."""

from __future__ import annotations

import json

import aiosqlite

from node.activitypub.as2.parse import BadDocument, parse_actor
from node.activitypub.fetch import FetchError, HttpClient
from node.db import transaction
from node.store import remote
from node.store.remote import RemoteActor


class ActorUnavailable(Exception):
    """The actor cannot be fetched or is not an actor."""


async def fetch_remote_actor(db: aiosqlite.Connection, client: HttpClient, uri: str) -> RemoteActor:
    try:
        document = await client.get_json(uri)
        actor = parse_actor(document)
        async with transaction(db):
            await remote.upsert_actor(db, actor, json.dumps(document))
    except (FetchError, BadDocument, remote.DocumentTooLarge) as exc:
        raise ActorUnavailable(str(exc)) from None
    return actor


async def get_remote_actor(db: aiosqlite.Connection, client: HttpClient, uri: str) -> RemoteActor:
    cached = await remote.actor(db, uri)
    if cached is not None and cached.deleted_at is None and cached.inbox:
        return cached
    return await fetch_remote_actor(db, client, uri)
