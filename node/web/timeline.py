"""What a timeline page shows for each entry: author, time, content, badges; authors fetched once per page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from urllib.parse import urlsplit

from aiohttp import web

from node import uris
from node.activitypub.as2.documents import actor_id
from node.appkeys import CONFIG, DB
from node.processing import polls
from node.store import timeline
from node.store.timeline import BadCursor, Cursor, Entry


@dataclass(frozen=True)
class PollView:
    """A poll from elsewhere under its post: a form while it is open and the member has not voted, else counts."""

    uri: str
    question: str           # the fieldset's legend
    options: tuple[polls.Option, ...]
    multiple: bool
    open: bool
    end_time: str | None
    closes_in: str          # "in 2 days"; empty once closed
    counted: bool
    voters: int | None
    mine: tuple[str, ...]


def _moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def closes_in(end_time: str | None, now: datetime | None = None) -> str:
    """How long until a poll closes, for people: "in 2 days", "in 5 hours"; empty without a (future) end."""
    end = _moment(end_time) if end_time else None
    if end is None:
        return ""
    left = (end - (now or datetime.now(UTC))).total_seconds()
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if left >= seconds:
            count = int(left // seconds)
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    return "in less than a minute" if left > 0 else ""


def poll_view(poll: polls.RemotePoll, question: str) -> PollView:
    return PollView(uri=poll.uri, question=question, options=poll.options, multiple=poll.multiple,
                    open=not poll.closed, end_time=poll.end_time,
                    closes_in="" if poll.closed else closes_in(poll.end_time), counted=poll.counted,
                    voters=poll.voters, mine=poll.mine)


@dataclass(frozen=True)
class Item:
    """One post as the `_post.html` partial shows it."""

    anchor: str
    url: str
    uuid: str | None        # local posts only: what Edit and Delete act on
    author_name: str
    author_handle: str
    author_url: str
    avatar: str | None
    published: str
    edited: bool
    content: str            # sanitised when it was stored
    name: str | None
    visibility: str
    origin: str | None      # remote posts: "sibling" or "followed"
    own: bool
    crew_name: str | None = None  # crew posts: the crew that alone can read it
    poll: PollView | None = None  # remote Questions: options, counts, the member's vote


def before(request: web.Request) -> Cursor | None:
    """The `?before=` cursor; a malformed one is a 400, never a 500."""
    try:
        return Cursor.parse(request.query.get("before"))
    except BadCursor:
        raise web.HTTPBadRequest(text="that page link is not one this site made") from None


def page(entries: list[Entry], size: int) -> tuple[list[Entry], str | None]:
    """The entries to show (fetch size + 1), and the cursor of the next, older page if there is one."""
    shown = entries[:size]
    return shown, shown[-1].cursor.encode() if len(entries) > size and shown else None


def _guess_handle(uri: str) -> tuple[str, str]:
    """(name, host) from an actor URL we have not fetched: its last path segment, its host."""
    parts = urlsplit(uri)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1].lstrip("@") or parts.netloc
    return name, parts.netloc


def _origin(uri: str | None) -> str:
    parts = urlsplit(uri or "")
    return f"{parts.scheme}://{parts.netloc}"


async def items(request: web.Request, entries: list[Entry], viewer_id: int | None = None) -> list[Item]:
    """View items for a page of entries: its authors, siblings and crews in one trip, its polls in another."""
    db, config = request.app[DB], request.app[CONFIG]
    facts = await timeline.page_facts(db, entries, actor_id(config, config.group_handle))
    local, remote, sibling_uris = facts.local, facts.remote, facts.siblings
    sibling_origins = {_origin(uri) for uri in sibling_uris}
    remote_polls = await polls.polls_for(db, config, viewer_id, {e.ref for e in entries if e.author_uri is not None})
    crew_names = {e.crew_id: facts.crew_names.get(e.crew_id, "a crew") for e in entries if e.crew_id is not None}
    result = []
    for entry in entries:
        if entry.author_id is not None:
            author = local[entry.author_id]
            url = uris.post(config, entry.ref)
            name = config.name if author.kind == "Group" else author.display_name
            result.append(Item(
                anchor=f"post-{entry.ref}", url=url, uuid=entry.ref, author_name=name,
                author_handle=f"@{author.username}@{config.host}", author_url=f"/actors/{author.username}",
                avatar=f"/actors/{author.username}/avatar" if author.has_avatar else None,
                published=entry.published or entry.at, edited=entry.updated is not None, content=entry.content,
                name=None, visibility=entry.visibility, origin=None, own=entry.author_id == viewer_id,
                crew_name=crew_names.get(entry.crew_id)))
            continue
        known = remote.get(entry.author_uri)
        guessed_name, guessed_host = _guess_handle(entry.author_uri)
        username = (known.username if known else None) or guessed_name
        host = (known.host if known else None) or guessed_host
        # A sibling's member posts to their own Group (FEP-1b12 audience) from the Group's origin.
        sibling = (entry.audience in sibling_uris or entry.author_uri in sibling_uris
                   or _origin(entry.author_uri) in sibling_origins)
        poll = remote_polls.get(entry.ref)
        result.append(Item(
            anchor=f"remote-{entry.rid}", url=entry.ref, uuid=None,
            author_name=(known.display_name if known else None) or username,
            author_handle=f"@{username}@{host}", author_url=entry.author_uri, avatar=None,
            published=entry.published or entry.at, edited=entry.updated is not None, content=entry.content,
            name=entry.name, visibility="public", origin="sibling" if sibling else "followed", own=False,
            poll=poll_view(poll, entry.name or excerpt(entry.content) or "Poll") if poll else None))
    return result


def excerpt(html: str, limit: int = 60) -> str:
    """Plain text of stored HTML, cut to `limit` characters: for titles."""
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
