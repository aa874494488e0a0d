"""Follows and votes as activities: Follow, its Accept/Reject and Undo, and a member's vote in a poll elsewhere."""

from __future__ import annotations

from typing import Any

from node import uris
from node.activitypub.as2.context import AS_CONTEXT
from node.config import Config
from node.store.follows import Follow


def follow(config: Config, actor_uri: str, target_uri: str, activity_id: str) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": activity_id, "type": "Follow", "actor": actor_uri, "object": target_uri}


def answer(config: Config, kind: str, actor_uri: str, row: Follow) -> dict[str, Any]:
    """Accept or Reject of a Follow, with the Follow embedded (Mastodon and Fedify look at both forms)."""
    return {"@context": AS_CONTEXT, "id": uris.new_activity(config), "type": kind, "actor": actor_uri,
            "object": {"id": row.activity_id, "type": "Follow", "actor": row.follower, "object": actor_uri}}


def undo(config: Config, actor_uri: str, row: Follow) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": uris.new_activity(config), "type": "Undo", "actor": actor_uri,
            "object": {"id": row.activity_id, "type": "Follow", "actor": actor_uri, "object": row.followee}}


def vote(config: Config, voter_uri: str, question: str, author: str, choice: str) -> dict[str, Any]:
    """Create(Note{name, inReplyTo}) with no content: one choice in a poll, as Mastodon sends votes."""
    note_id = uris.new_vote(config)
    note = {"id": note_id, "type": "Note", "attributedTo": voter_uri, "name": choice, "inReplyTo": question,
            "to": [author]}
    return {"@context": AS_CONTEXT, "id": note_id + "/activity", "type": "Create", "actor": voter_uri,
            "to": [author], "object": note}
