"""ActivityStreams documents ↔ plain values. The rest of the node never reads a wire dict."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from node.db import now_iso
from node.store.remote import RemoteActor

ACTOR_TYPES = {"Person", "Group", "Service", "Application", "Organization"}
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


class BadDocument(Exception):
    """A document lacks what we need from it; the message says what."""


# Every URL here comes from a stranger, and urlsplit() raises ValueError for some ("http://[::1", a netloc that
# NFKC changes): these helpers answer instead, so no caller can be made to raise by a document.


@lru_cache(maxsize=4096)
def origin(url: str) -> str:
    """scheme://netloc, lower-cased; for a URL that does not parse, a value equal to no real origin."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "\0" + url
    return f"{parts.scheme}://{parts.netloc}".lower()


def ref(value: Any) -> str | None:
    """The id of a reference that is either a URL string or an object with an id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    if isinstance(value, list) and len(value) == 1:
        return ref(value[0])
    return None


def host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def on_origin(value: Any, home: str) -> bool:
    """True when `value` is an http(s) URL on the origin `home` (as `origin()` spells it)."""
    if not isinstance(value, str) or len(value) > 2048:
        return False
    if value[: len(home) + 1].lower() == home + "/":  # the common case, without parsing
        return True
    return is_http_url(value) and origin(value) == home


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def types_of(document: dict[str, Any]) -> list[str]:
    kind = document.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return []


def parse_actor(document: dict[str, Any]) -> RemoteActor:
    """An actor document → RemoteActor, or BadDocument."""
    uri = document.get("id")
    if not is_http_url(uri):
        raise BadDocument("actor has no http(s) id")
    kinds = [k for k in types_of(document) if k in ACTOR_TYPES]
    if not kinds:
        raise BadDocument(f"{uri} is not an actor")
    inbox = document.get("inbox")
    if not is_http_url(inbox) or origin(inbox) != origin(uri):
        raise BadDocument(f"{uri} has no inbox on its own origin")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    shared = endpoints.get("sharedInbox")
    if not is_http_url(shared) or origin(shared) != origin(uri):
        shared = None
    username = document.get("preferredUsername")
    name = document.get("name")
    return RemoteActor(
        uri=uri, kind=kinds[0], username=username if isinstance(username, str) else None,
        host=host_of(uri), inbox=inbox, shared_inbox=shared,
        display_name=name[:200] if isinstance(name, str) else None, fetched_at=now_iso(), deleted_at=None,
    )


def keys_of(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """key id → (owner, PEM or 'multibase:…') for every key an actor document lists."""
    found: dict[str, tuple[str, str]] = {}
    actor_id = document.get("id")
    entries = document.get("publicKey")
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(
                entry.get("publicKeyPem"), str):
            found[entry["id"]] = (entry.get("owner", actor_id), entry["publicKeyPem"])
    methods = document.get("assertionMethod")
    for entry in methods if isinstance(methods, list) else [methods]:
        if (isinstance(entry, dict) and entry.get("type") == "Multikey" and isinstance(entry.get("id"), str)
                and isinstance(entry.get("publicKeyMultibase"), str)):
            found.setdefault(entry["id"], (entry.get("controller", actor_id),
                                           "multibase:" + entry["publicKeyMultibase"]))
    return found


# A 4096-bit RSA PEM is about 800 characters: anything far larger is not a key, and would be stored as one.
MAX_KEY_MATERIAL = 8192


def _under(key_id: str, actor_id: str) -> bool:
    """True when `key_id` is the actor's own URI with a fragment, or a path below it (GoToSocial's `/main-key`)."""
    try:
        segments = urlsplit(key_id).path.split("/")
    except ValueError:
        return False
    # `actor/../other#key` starts with the actor's URI and names another account once the client normalises it.
    if any(s in (".", "..") or s.lower().replace("%2e", ".") in (".", "..") for s in segments):
        return False
    return key_id.startswith((actor_id + "#", actor_id + "/"))


def own_keys_of(document: dict[str, Any], fetched_key: str | None = None) -> dict[str, tuple[str, str]]:
    """The keys an actor document vouches for: owned by the actor, on its origin, and named under its URI.

    `fetched_key` is the key id whose own URL answered this document (or a key document naming this owner): that
    one counts though it is not under the actor's URI. A key listed under another account's id never counts.
    """
    actor_id = document.get("id")
    if not isinstance(actor_id, str):
        return {}
    return {key_id: entry for key_id, entry in keys_of(document).items()
            if entry[0] == actor_id and origin(key_id) == origin(actor_id) and len(entry[1]) <= MAX_KEY_MATERIAL
            and (key_id == fetched_key or _under(key_id, actor_id))}
