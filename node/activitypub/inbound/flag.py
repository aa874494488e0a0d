"""Flag: another server reports one of our accounts or posts (Mastodon sends it from its instance actor, `object`
the account then its posts, `content` the comment). It lands in the Partners' queue as a report from that server.

Only what is ours counts: our actors, and our public posts by the reported account (nothing else could have been
seen there). A Flag naming nothing of ours changes nothing; nothing is ever sent back to the reporter. A stranger's
open reports are bounded (governance/reports.py), so Flags cannot flood the queue."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from node import uris
from node.activitypub.as2.parse import host_of, ref
from node.activitypub.inbound.context import InboxContext
from node.domains import server_of
from node.governance.reports import MAX_COMMENT, MAX_POSTS
from node.processing import reports as reports_processing
from node.store import local_actors
from node.store import posts as posts_store

MAX_OBJECTS = 50  # objects of one Flag looked at; the rest are not


def _text(content: Any) -> str:
    """The comment as plain text (Mastodon sends text; some servers send HTML)."""
    if not isinstance(content, str):
        return ""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", content[: MAX_COMMENT * 4])).split())[:MAX_COMMENT]


async def on_flag(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """A report from `actor`'s server about our account and its posts."""
    objects = activity.get("object")
    named = [ref(o) for o in (objects if isinstance(objects, list) else [objects])[:MAX_OBJECTS]]
    accounts, posts = [], []
    for uri in filter(None, named):
        if (username := uris.local_username(ctx.config, uri)) is not None:
            if (local := await local_actors.by_username(ctx.db, username)) is not None:
                accounts.append(local)
        elif (post_uuid := uris.post_uuid(ctx.config, uri)) is not None:
            post = await posts_store.by_uuid(ctx.db, post_uuid)
            if post is not None and post.deleted_at is None and post.visibility == "public":
                posts.append((uri, post))
    if accounts:
        account = accounts[0]
    elif posts:
        account = await local_actors.by_id(ctx.db, posts[0][1].author_id)
    else:
        return "ignored: the Flag names nothing of ours"
    reported = [uri for uri, post in posts if post.author_id == account.id][:MAX_POSTS]
    return await reports_processing.flag_received(
        ctx.db, ctx.config, reporter_uri=actor, reporter_host=host_of(actor),
        reporter_domain=server_of(actor), activity_id=activity["id"],
        account=account, posts=reported, comment=_text(activity.get("content")))
