"""This node's own ActivityStreams documents: actor ids and URLs, actors, collections."""

from __future__ import annotations

import re
import uuid
from typing import Any

from node import uris
from node.activitypub.as2.context import ACTOR_CONTEXT, AS_CONTEXT
from node.activitypub.as2.parse import PUBLIC
from node.config import Config
from node.db import now_iso
from node.store.local_actors import LocalActor

AS_JSON = "application/activity+json"


# The wire's names for node/uris.py's builders, which are the only place a local URI is written.
actor_id = uris.actor
key_id = uris.key
shared_inbox = uris.shared_inbox
local_username = uris.local_username


def actor_document(config: Config, actor: LocalActor, manually_approves: bool,
                   avatar: tuple[str, str] | None = None, record_key: str | None = None) -> dict[str, Any]:
    """The Group or Person document, served at exactly its id; a Person with an avatar (media type, when it
    changed) has an icon; an actor with a record key (the Group's multibase Ed25519 key) lists it."""
    uri = actor_id(config, actor.username)
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": uri,
        "type": actor.kind,
        "preferredUsername": actor.username,
        # The Group's name and summary are the operator's settings, so an edit shows without a migration.
        "name": config.name if actor.kind == "Group" else actor.display_name,
        "summary": (config.summary if actor.kind == "Group" else actor.summary),
        "url": uri,
        "inbox": f"{uri}/inbox",
        "outbox": f"{uri}/outbox",
        "followers": f"{uri}/followers",
        "following": f"{uri}/following",
        "endpoints": {"sharedInbox": shared_inbox(config)},
        "manuallyApprovesFollowers": manually_approves,
        "discoverable": actor.kind == "Group",
        "published": actor.created_at[:19] + "Z",
        "publicKey": {"id": key_id(config, actor.username), "owner": uri, "publicKeyPem": actor.public_key_pem},
    }
    if actor.kind == "Person" and avatar:
        # A new URL for each picture: Mastodon fetches an icon again only when its URL changes.
        version = re.sub(r"[^0-9]", "", avatar[1])
        document["icon"] = {"type": "Image", "mediaType": avatar[0], "url": f"{uri}/avatar?v={version}"}
    if actor.kind == "Group":
        # Lemmy reads attributedTo as the moderators collection; members may post (FEP-1b12).
        document["postingRestrictedToMods"] = False
        # The Congregation's signed, hash-chained decision log (FEDERATION.md, "Decision log").
        document["decisions"] = f"{uri}/decisions"
    if record_key:
        # FEP-521a: the key the signed records' eddsa-jcs-2022 proofs name (FEDERATION.md, "Signed records").
        document["assertionMethod"] = [{"id": uris.record_key(config, actor.username), "type": "Multikey",
                                        "controller": uri, "publicKeyMultibase": record_key}]
    return document


def collection(uri: str, total: int, first: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": AS_CONTEXT, "id": uri, "type": "OrderedCollection", "totalItems": total}
    if first is not None:
        document["first"] = first
    return document


def collection_page(uri: str, part_of: str, items: list[Any], next_page: str | None,
                    prev_page: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": AS_CONTEXT, "id": uri, "type": "OrderedCollectionPage",
                                "partOf": part_of, "orderedItems": items}
    if next_page:
        document["next"] = next_page
    if prev_page:
        document["prev"] = prev_page
    return document


def actor_update(document: dict[str, Any]) -> dict[str, Any]:
    """Update(actor) with the full document; a new id each time, so receivers never drop one as a duplicate."""
    uri = document["id"]
    # The embedded document keeps its own @context, for the extension terms only it uses.
    return {"@context": AS_CONTEXT, "id": f"{uri}#updates/{uuid.uuid4()}", "type": "Update", "actor": uri,
            "published": now_iso()[:19] + "Z", "to": [PUBLIC], "cc": [document["followers"]], "object": document}
