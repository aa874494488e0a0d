"""Every URI of this node, built (and parsed back) in one place: actors, keys, inboxes, posts, proposals, votes,
activities, decision records. Rules, wire and pages all ask here; nothing else writes a local URI by hand."""

from __future__ import annotations

import uuid

from node.config import Config

ACTORS, POSTS, PROPOSALS, VOTES, ACTIVITIES, DECISIONS = (
    "/actors/", "/posts/", "/proposals/", "/votes/", "/activities/", "/decisions/")


def actor(config: Config, username: str) -> str:
    return f"{config.base_url}{ACTORS}{username}"


def key(config: Config, username: str) -> str:
    return actor(config, username) + "#main-key"


def record_key(config: Config, username: str) -> str:
    """The Ed25519 key the Group signs its records with (a FEP-521a Multikey in `assertionMethod`)."""
    return actor(config, username) + "#records-key"


def shared_inbox(config: Config) -> str:
    return f"{config.base_url}/inbox"


def post(config: Config, post_uuid: str) -> str:
    return f"{config.base_url}{POSTS}{post_uuid}"


def proposal(config: Config, proposal_uuid: str) -> str:
    return f"{config.base_url}{PROPOSALS}{proposal_uuid}"


def decision(config: Config, seq: int) -> str:
    """One entry of the Group's decision log."""
    return f"{actor(config, config.group_handle)}/decisions/{seq}"


def new_activity(config: Config) -> str:
    return f"{config.base_url}{ACTIVITIES}{uuid.uuid4()}"


def activity(config: Config, activity_uuid: str) -> str:
    return f"{config.base_url}{ACTIVITIES}{activity_uuid}"


def new_vote(config: Config) -> str:
    """A member's vote in a poll elsewhere: a Note of its own."""
    return f"{config.base_url}{VOTES}{uuid.uuid4()}"


def votes_prefix(config: Config) -> str:
    return config.base_url + VOTES


def assembly_proposal(config: Config, token: str) -> str:
    """An Assembly proposal this Congregation tabled (its signed Question)."""
    return f"{config.base_url}/assembly/{token}"


def assembly_stance(config: Config, token: str) -> str:
    """One of this Congregation's signed stances in the Assembly."""
    return f"{config.base_url}/assembly/stances/{token}"


def page(config: Config, path: str) -> str:
    """A page of the members' UI (a sign-in, invitation or reset link)."""
    return config.base_url + path


def _last_segment(config: Config, uri: object, prefix: str) -> str | None:
    start = config.base_url + prefix
    if not isinstance(uri, str) or not uri.startswith(start):
        return None
    rest = uri[len(start):]
    return rest if rest and "/" not in rest and "#" not in rest and "?" not in rest else None


def local_username(config: Config, uri: object) -> str | None:
    """The username when `uri` is one of this node's actor ids."""
    return _last_segment(config, uri, ACTORS)


def post_uuid(config: Config, uri: object) -> str | None:
    """The uuid of one of our posts named by `uri`, or None."""
    return _last_segment(config, uri, POSTS)


def proposal_uuid(config: Config, uri: object) -> str | None:
    """The uuid of one of our proposals named by `uri`, or None."""
    return _last_segment(config, uri, PROPOSALS)


def is_local(config: Config, uri: str) -> bool:
    return uri.startswith(config.base_url + "/")


def number(text: str | None, high: int) -> int | None:
    """A count or sequence number from a URL (1..high), or None. Only ASCII digits and never more than `high`'s
    length: str.isdigit() also takes '²' and '٣', which int() refuses or reads, and int() of a long enough string
    raises (or yields a number SQLite cannot bind)."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if 1 <= value <= high else None
