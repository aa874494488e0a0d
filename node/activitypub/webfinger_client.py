"""Turn a handle (@name@host) into an actor URL with WebFinger."""

from __future__ import annotations

from urllib.parse import quote

from node.activitypub.fetch import FetchError, HttpClient

JRD = "application/jrd+json, application/json"
AS_LINK_TYPES = ("application/activity+json", 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                 "application/ld+json")


def split_handle(handle: str) -> tuple[str, str]:
    name, _, host = handle.strip().lstrip("@").partition("@")
    if not name or not host or "@" in host or "/" in host:
        raise FetchError(f"{handle!r} is not a handle like @name@host")
    return name, host


async def resolve_handle(client: HttpClient, handle: str, allow_http: bool = False) -> str:
    """The `self` link of type application/activity+json for the handle."""
    name, host = split_handle(handle)
    resource = quote(f"acct:{name}@{host}", safe=":@")
    schemes = ("https", "http") if allow_http else ("https",)
    last: FetchError | None = None
    for scheme in schemes:
        try:
            jrd = await client.get_json(f"{scheme}://{host}/.well-known/webfinger?resource={resource}",
                                        sign=False, accept=JRD, require_as=False, check_id=False)
            break
        except FetchError as exc:
            if exc.status is not None:
                raise FetchError(f"no account {handle} ({exc.reason})", exc.status) from None
            last = exc
    else:
        raise last or FetchError(f"cannot look up {handle}")
    for link in jrd.get("links", []) if isinstance(jrd.get("links"), list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("type") in AS_LINK_TYPES \
                and isinstance(link.get("href"), str):
            return link["href"]
    raise FetchError(f"{handle} has no ActivityPub actor")
