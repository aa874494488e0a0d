"""Notes on the wire: our posts → AS2 documents and activities; inbound Note documents → RemoteObject."""

from __future__ import annotations

from typing import Any

from node import uris
from node.activitypub.as2.documents import AS_CONTEXT, actor_id
from node.activitypub.as2.parse import PUBLIC, BadDocument, is_http_url, origin, ref, types_of
from node.activitypub.as2.questions import check_poll_size
from node.activitypub.sanitize import clean_html
from node.config import Config
from node.db import now_iso
from node.store.posts import Post
from node.store.remote_objects import RemoteObject

# Questions are polls (ours are proposals): kept like notes, their options and counts read from the document.
NOTE_TYPES = ("Note", "Article", "Page", "Question")
PUBLIC_FORMS = {PUBLIC, "as:Public", "Public"}
ADDRESS_FIELDS = ("to", "cc", "bto", "bcc", "audience")


def post_uri(config: Config, post: Post) -> str:
    return uris.post(config, post.uuid)


def members_uri(group_uri: str) -> str:
    return group_uri + "/members"


def _stamp(iso: str) -> str:
    return iso[:19] + "Z"


def addressing(post: Post, author_uri: str, group_uri: str) -> tuple[list[str], list[str]]:
    """(to, cc): members-only never reaches Public; public goes to Public, cc the author's followers."""
    if post.visibility == "crew":
        raise ValueError("a crew post has no addressing: it never leaves the node")
    if post.visibility == "members":
        return [group_uri, members_uri(group_uri)], []
    cc = [author_uri + "/followers"]
    if post.to_group and author_uri != group_uri:
        cc.append(group_uri)
    return [PUBLIC], cc


def note_document(config: Config, post: Post, author_username: str, group_username: str) -> dict[str, Any]:
    author, group = actor_id(config, author_username), actor_id(config, group_username)
    to, cc = addressing(post, author, group)
    uri = post_uri(config, post)
    note: dict[str, Any] = {
        "@context": AS_CONTEXT, "id": uri, "type": "Note", "attributedTo": author, "content": post.content,
        "source": {"content": post.source, "mediaType": "text/plain"}, "published": _stamp(post.published),
        "url": uri, "to": to, "cc": cc,
    }
    if post.to_group:
        note["audience"] = group  # FEP-1b12: the Group this post belongs to
    if post.updated:
        note["updated"] = _stamp(post.updated)
    return note


def tombstone(config: Config, post: Post) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": post_uri(config, post), "type": "Tombstone", "formerType": "Note",
            "deleted": _stamp(post.deleted_at or now_iso())}


def _envelope(activity_id: str, kind: str, note: dict[str, Any], obj: Any, when: str) -> dict[str, Any]:
    activity = {"@context": AS_CONTEXT, "id": activity_id, "type": kind, "actor": note["attributedTo"],
                "published": when, "to": note["to"], "cc": note["cc"], "object": obj}
    if "audience" in note:
        activity["audience"] = note["audience"]
    return activity


def create_activity(note: dict[str, Any]) -> dict[str, Any]:
    """Create at a stable id next to its Note (as Mastodon does), so a replayed send is one effect."""
    return _envelope(note["id"] + "/activity", "Create", note, note, note["published"])


def update_activity(config: Config, note: dict[str, Any]) -> dict[str, Any]:
    return _envelope(uris.new_activity(config), "Update", note, note, note.get("updated", _stamp(now_iso())))


def delete_activity(config: Config, note: dict[str, Any]) -> dict[str, Any]:
    return _envelope(uris.new_activity(config), "Delete", note, {"id": note["id"], "type": "Tombstone"},
                     _stamp(now_iso()))


def announce(config: Config, group_uri: str, obj: Any, public: bool) -> dict[str, Any]:
    """The Group re-shares `obj` (an activity, FEP-1b12, or an object id, Mastodon's boost)."""
    to, cc = ([PUBLIC], [group_uri + "/followers"]) if public else ([members_uri(group_uri)], [])
    return {"@context": AS_CONTEXT, "id": uris.new_activity(config), "type": "Announce", "actor": group_uri,
            "published": _stamp(now_iso()), "to": to, "cc": cc, "audience": group_uri, "object": obj}


def _refs(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [r for item in items[:200] if (r := ref(item)) is not None]


def addressees(document: dict[str, Any]) -> set[str]:
    """Every actor or collection the document is addressed to, including Mentions in `tag`."""
    found = {r for name in ADDRESS_FIELDS for r in _refs(document.get(name))}
    tags = document.get("tag")
    for tag in (tags if isinstance(tags, list) else [tags])[:200]:
        if isinstance(tag, dict) and tag.get("type") == "Mention" and isinstance(tag.get("href"), str):
            found.add(tag["href"])
    return found


def is_public(document: dict[str, Any]) -> bool:
    return any(r in PUBLIC_FORMS for name in ("to", "cc") for r in _refs(document.get(name)))


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def parse_note(document: dict[str, Any]) -> RemoteObject:
    """An inbound Note/Article/Page → RemoteObject with sanitized HTML, or BadDocument."""
    uri = document.get("id")
    if not is_http_url(uri):
        raise BadDocument("the object has no http(s) id")
    kinds = [k for k in types_of(document) if k in NOTE_TYPES]
    if not kinds:
        raise BadDocument(f"{uri} is not a Note, Article or Page")
    authors = [a for a in _refs(document.get("attributedTo")) if is_http_url(a) and origin(a) == origin(uri)]
    if not authors:
        raise BadDocument(f"{uri} has no author on its own origin")
    if "Question" in kinds:
        check_poll_size(document)
    content = document.get("content")
    content_map = document.get("contentMap")
    if not isinstance(content, str) and isinstance(content_map, dict):
        content = next((v for v in content_map.values() if isinstance(v, str)), "")
    summary = _text(document.get("summary"), 5000)
    return RemoteObject(
        uri=uri, type=kinds[0], author=authors[0], content=clean_html(content if isinstance(content, str) else ""),
        name=_text(document.get("name"), 500), summary=clean_html(summary) if summary else None,
        in_reply_to=_text(ref(document.get("inReplyTo")), 2048), audience=_text(ref(document.get("audience")), 2048),
        public=is_public(document), published=_text(document.get("published"), 40),
        updated=_text(document.get("updated"), 40),
    )
