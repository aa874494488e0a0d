"""Polls from elsewhere — a sibling's public proposal, a Mastodon poll — as members see them and vote in them,
for the CLI (`congregation vote URL CHOICE…`) and the web alike. A member votes once in a poll, as on Mastodon:
the votes they sent are the outbox's Create(Note{name, inReplyTo}) rows, so that record is the rule's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from node import uris
from node.activitypub.as2.questions import poll_closed, poll_options
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.remote_actors import ActorUnavailable, get_remote_actor
from node.config import Config
from node.db import now_iso
from node.governance.errors import Conflict, GovernanceError, Invalid, NotFound, Unreachable
from node.governance.events import Event, PollVoted
from node.processing.common import apply
from node.store import remote_objects
from node.store.local_actors import LocalActor


class VoteError(GovernanceError):
    """A vote on a poll from elsewhere cannot be sent; the message says why, for a person to read."""


class UnknownPoll(VoteError, NotFound):
    """No live Question by that URI is held here."""


class PollClosed(VoteError, Conflict):
    """The poll has closed (or its end time has passed)."""


class AlreadyVoted(VoteError, Conflict):
    """This member has already voted in this poll."""


class BadChoice(VoteError, Invalid):
    """No option chosen, one that is not the poll's, or several in a one-choice poll."""


class AuthorUnreachable(VoteError, Unreachable):
    """The poll's author cannot be fetched, so there is no inbox to send the vote to."""


@dataclass(frozen=True)
class Option:
    name: str
    count: int | None  # `replies.totalItems`, when the Question carries it


@dataclass(frozen=True)
class RemotePoll:
    """A Question held here, as a member sees it: options and counts, its end, and what they chose."""

    uri: str
    options: tuple[Option, ...]
    multiple: bool
    end_time: str | None
    closed: bool
    voters: int | None
    mine: tuple[str, ...]

    @property
    def counted(self) -> bool:
        return any(option.count is not None for option in self.options)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def read_poll(uri: str, document: dict[str, Any], mine: tuple[str, ...], now: str) -> RemotePoll | None:
    """The poll in a stored Question document; None when it offers no options."""
    names, multiple = poll_options(document)
    if not names:
        return None
    counts: dict[str, int | None] = {}
    for raw in document.get("anyOf" if multiple else "oneOf") or ():
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            replies = raw.get("replies")
            counts.setdefault(raw["name"], _count(replies.get("totalItems")) if isinstance(replies, dict) else None)
    end = document.get("endTime")
    return RemotePoll(uri=uri, options=tuple(Option(name, counts.get(name)) for name in dict.fromkeys(names)),
                      multiple=multiple, end_time=end if isinstance(end, str) else None,
                      closed=poll_closed(document, now), voters=_count(document.get("votersCount")), mine=mine)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


async def _questions(db: aiosqlite.Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await db.execute_fetchall(
        f"SELECT uri, document FROM remote_objects WHERE type = 'Question' AND deleted_at IS NULL"
        f" AND uri IN ({_marks(len(ids))})", ids)
    documents = {}
    for uri, text in rows:
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict):
            documents[uri] = document
    return documents


async def _choices(db: aiosqlite.Connection, config: Config, member_id: int,
                   ids: list[str]) -> dict[str, tuple[str, ...]]:
    """What the member voted in each of these polls: the names of the vote Notes they sent (ours: /votes/…)."""
    prefix = uris.votes_prefix(config)
    rows = await db.execute_fetchall(
        "SELECT json_extract(body, '$.object.inReplyTo'), json_extract(body, '$.object.name') FROM outbox"
        " WHERE actor_id = ? AND type = 'Create' AND substr(activity_id, 1, ?) = ?"
        f" AND json_extract(body, '$.object.inReplyTo') IN ({_marks(len(ids))}) ORDER BY id",
        (member_id, len(prefix), prefix, *ids))
    chosen: dict[str, list[str]] = {}
    for question, name in rows:
        if isinstance(name, str) and name not in chosen.setdefault(question, []):
            chosen[question].append(name)
    return {question: tuple(names) for question, names in chosen.items()}


async def polls_for(db: aiosqlite.Connection, config: Config, member_id: int | None,
                    ids: set[str]) -> dict[str, RemotePoll]:
    """The polls among these remote objects, with the member's choices (none for a signed-out visitor)."""
    if not ids:
        return {}
    documents = await _questions(db, sorted(ids))
    if not documents:
        return {}
    mine = await _choices(db, config, member_id, list(documents)) if member_id is not None else {}
    now = now_iso()
    found = {uri: read_poll(uri, document, mine.get(uri, ()), now) for uri, document in documents.items()}
    return {uri: poll for uri, poll in found.items() if poll is not None}


def _picked(poll: RemotePoll, choices: list[str]) -> list[str]:
    names = [option.name for option in poll.options]
    picked = list(dict.fromkeys(c for c in choices if c))
    if not picked:
        raise BadChoice(f"choose {'at least one' if poll.multiple else 'one'} of: {', '.join(names)}")
    unknown = next((c for c in picked if c not in names), None)
    if unknown is not None:
        raise BadChoice(f"“{unknown[:100]}” is not an option of this poll; choose from: {', '.join(names)}")
    if len(picked) > 1 and not poll.multiple:
        raise BadChoice("this poll takes one choice")
    return picked


async def vote(db: aiosqlite.Connection, config: Config, client: HttpClient, member: LocalActor, question: str,
               choices: list[str]) -> list[str]:
    """A member votes in a poll from elsewhere, once: one Create(Note{name, inReplyTo}) per choice, to the poll's
    author, as Mastodon sends votes; stored and queued for delivery in one transaction. Returns the choices."""
    held = await remote_objects.get(db, question)
    if held is None or held.type != "Question" or held.deleted_at is not None:
        raise UnknownPoll("that poll is not known here")
    poll = (await polls_for(db, config, member.id, {question})).get(question)
    if poll is None:
        raise UnknownPoll("that poll offers nothing to choose")
    if poll.closed:
        raise PollClosed("this poll is closed")
    if poll.mine:
        raise AlreadyVoted(f"you have already voted in this poll: {', '.join(poll.mine)}")
    picked = _picked(poll, choices)
    try:
        author = await get_remote_actor(db, client, held.author)
    except (ActorUnavailable, FetchError) as exc:
        raise AuthorUnreachable(f"the poll's author cannot be reached: {exc}") from None

    async def change() -> list[Event]:
        # Asked again under the write lock: two submits of the same form must not both go out.
        if await _choices(db, config, member.id, [question]):
            raise AlreadyVoted("you have already voted in this poll")
        return [PollVoted(member, question, held.author, author.inbox, tuple(picked))]

    await apply(db, config, change)
    return picked
