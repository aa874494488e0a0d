"""A public proposal on the wire is a `Question` from the Group (Mastodon's poll shape, FEP-9967); a vote is
`Create(Note{name, inReplyTo})` with no content. Built from a proposal and its tally, and read back."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from node import uris
from node.activitypub.as2.context import QUESTION_CONTEXT
from node.activitypub.as2.documents import actor_id
from node.activitypub.as2.parse import PUBLIC, BadDocument, ref, types_of
from node.config import Config
from node.governance.proposals import MAX_OPTION, MAX_OPTIONS
from node.governance.tally import Tally
from node.store.proposals import Proposal


def question_uri(config: Config, proposal: Proposal) -> str:
    return uris.proposal(config, proposal.uuid)


proposal_uuid = uris.proposal_uuid


def _stamp(iso: str) -> str:
    return iso[:19] + "Z"


def question_document(config: Config, proposal: Proposal, result: Tally | None, author_name: str) -> dict[str, Any]:
    """The Question; `result` None keeps counts at zero (results hidden until close)."""
    group_uri = actor_id(config, config.group_handle)
    counts = result.counts if result is not None else {}
    options = [{"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": counts.get(name, 0)}}
               for name in proposal.options]
    details = "".join(f"<p>{escape(part)}</p>" for part in proposal.details.split("\n\n") if part.strip())
    document: dict[str, Any] = {
        "@context": QUESTION_CONTEXT, "id": question_uri(config, proposal), "type": "Question",
        "attributedTo": group_uri, "name": proposal.title,
        "content": f"<p><strong>{escape(proposal.title)}</strong></p>{details}"
                   f"<p>Proposed by {escape(author_name)}.</p>",
        "published": _stamp(proposal.created_at), "endTime": _stamp(proposal.closes_at),
        "anyOf" if proposal.multiple else "oneOf": options,
        "votersCount": result.voters if result is not None else 0,
        "to": [PUBLIC], "cc": [group_uri + "/followers"], "audience": group_uri,
        "url": question_uri(config, proposal),
    }
    if not proposal.is_open:
        document["closed"] = _stamp(proposal.closed_at or proposal.closes_at)
    return document


@dataclass(frozen=True)
class VoteIn:
    proposal_uuid: str
    choice: str
    voter: str


def parse_vote(config: Config, obj: Any) -> VoteIn | None:
    """A vote on one of our proposals: a Note with a `name`, `inReplyTo` the Question, and no content."""
    if not isinstance(obj, dict) or "Note" not in types_of(obj):
        return None
    uuid = proposal_uuid(config, ref(obj.get("inReplyTo")) or "")
    name, voter = obj.get("name"), ref(obj.get("attributedTo"))
    if uuid is None or not isinstance(name, str) or not name or voter is None:
        return None
    if obj.get("content"):
        return None  # a reply to the poll, not a vote
    return VoteIn(uuid, name, voter)


def poll_options(document: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """(option names, multiple choice?) of a Question document."""
    for field, multiple in (("oneOf", False), ("anyOf", True)):
        options = document.get(field)
        if isinstance(options, list):
            return tuple(o["name"] for o in options if isinstance(o, dict) and isinstance(o.get("name"), str)), multiple
    return (), False


def check_poll_size(document: dict[str, Any]) -> None:
    """Refuse a remote poll over our own limits (BadDocument): a poll of thousands of options would be stored,
    then drawn on every member's home page."""
    for field in ("oneOf", "anyOf"):
        options = document.get(field)
        if options is None:
            continue
        if not isinstance(options, list) or len(options) > MAX_OPTIONS:
            raise BadDocument(f"a poll here has at most {MAX_OPTIONS} options")
        for option in options:
            name = option.get("name") if isinstance(option, dict) else None
            if isinstance(name, str) and len(name) > MAX_OPTION:
                raise BadDocument(f"a poll's option here is at most {MAX_OPTION} characters")


def poll_closed(document: dict[str, Any], now_iso: str) -> bool:
    end = document.get("endTime")
    return bool(document.get("closed")) or (isinstance(end, str) and end[:19] <= now_iso[:19])
