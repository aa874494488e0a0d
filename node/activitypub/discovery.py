"""WebFinger (RFC 7033), NodeInfo 2.1 and host-meta: how the fediverse finds this node."""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

from aiohttp import web

from node import SOFTWARE_NAME, __version__
from node.activitypub.as2.context import CONTEXT_PATH, context_document
from node.activitypub.as2.documents import AS_JSON, actor_id, local_username
from node.appkeys import CONFIG, DB
from node.config import Config
from node.store import local_actors, outbox

CORS = {"Access-Control-Allow-Origin": "*"}
NODEINFO_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"

routes = web.RouteTableDef()


def _bad(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=CORS)


def is_our_domain(domain: str, config: Config) -> bool:
    """True for our host[:port], or our bare host name when we are served on another port."""
    # Epicyon and others build acct:name@host from the host name alone, dropping a non-default port; the host
    # name is ours whatever the port, while host:another-port names another server and stays refused.
    domain = domain.lower()
    return domain in (config.host.lower(), (urlsplit(config.base_url).hostname or "").lower())


def parse_resource(resource: str, config: Config) -> tuple[str | None, str | None]:
    """(username, error) for an `acct:` URI or one of our actor URLs."""
    if resource.startswith("acct:"):
        account = unquote(resource[5:]).lstrip("@")
        name, at, domain = account.rpartition("@")
        if not at or not name or not domain:
            return None, "resource must look like acct:name@host"
        if not is_our_domain(domain, config):
            return None, None
        return name.lower(), None
    if resource.startswith(("http://", "https://")):
        return local_username(config, resource), None
    return None, "resource must be an acct: URI or an http(s) URL"


@routes.get("/.well-known/webfinger")
async def webfinger(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    resource = request.query.get("resource", "").strip()
    if not resource:
        return _bad(400, "the resource parameter is required")
    username, error = parse_resource(resource, config)
    if error:
        return _bad(400, error)
    actor = await local_actors.by_username(request.app[DB], username) if username else None
    if actor is None:
        return _bad(404, "no such account here")
    uri = actor_id(config, actor.username)
    document = {
        "subject": f"acct:{actor.username}@{config.host}",
        "aliases": [uri],
        "links": [
            {"rel": "self", "type": AS_JSON, "href": uri},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": uri},
        ],
    }
    return web.json_response(document, content_type="application/jrd+json", headers=CORS)


@routes.get("/.well-known/nodeinfo")
async def nodeinfo_links(request: web.Request) -> web.Response:
    base = request.app[CONFIG].base_url
    return web.json_response({"links": [{"rel": NODEINFO_21, "href": f"{base}/nodeinfo/2.1"}]}, headers=CORS)


@routes.get("/nodeinfo/2.1")
async def nodeinfo(request: web.Request) -> web.Response:
    config, db = request.app[CONFIG], request.app[DB]
    members = await local_actors.count_members(db)
    group = await local_actors.group(db)
    posts = await outbox.count_public(db, group.id) if group else 0
    document = {
        "version": "2.1",
        "software": {"name": SOFTWARE_NAME, "version": __version__,
                     "repository": "https://codeberg.org/congregation/congregation"},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": members, "activeMonth": members, "activeHalfyear": members},
                  "localPosts": posts},
        "metadata": {"nodeName": config.name, "nodeDescription": config.summary,
                     "congregation": {"members": members, "group": actor_id(config, config.group_handle),
                                      "softSize": config.soft_size, "hardSize": config.hard_size,
                                      "timeToSplit": members >= config.soft_size}},
    }
    profile = f'application/json; profile="{NODEINFO_21}#"'
    return web.Response(body=json.dumps(document).encode(), headers={**CORS, "Content-Type": profile})


@routes.get("/.well-known/host-meta")
async def host_meta(request: web.Request) -> web.Response:
    base = request.app[CONFIG].base_url
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>\n'
        "</XRD>\n"
    )
    return web.Response(text=xml, content_type="application/xrd+xml", headers=CORS)


@routes.get(CONTEXT_PATH)
async def get_context(request: web.Request) -> web.Response:
    """The node's JSON-LD context document; never behind authorized fetch: processors load contexts unsigned."""
    return web.Response(body=json.dumps(context_document()).encode(), content_type="application/ld+json",
                        headers={"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"})
