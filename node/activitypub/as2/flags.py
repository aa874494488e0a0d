"""A report as an activity: `Flag`, as Mastodon sends it from its instance actor (here the Group)."""

from __future__ import annotations

from typing import Any

from node import uris
from node.activitypub.as2.context import AS_CONTEXT
from node.config import Config


def flag(config: Config, group_uri: str, account: str, posts: tuple[str, ...], comment: str) -> dict[str, Any]:
    """`object` is the reported account, then its reported posts; `content` the comment, plain text. Who reported
    is not said: the Group sends it for the Congregation."""
    return {"@context": AS_CONTEXT, "id": uris.new_activity(config), "type": "Flag", "actor": group_uri,
            "object": [account, *posts], "content": comment}
