"""A signed-in (or signed-out) visitor to a node's web UI, over real HTTP: cookies kept, forms sent with CSRF."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import aiohttp

from node.activitypub import signatures
from node.governance import accounts
from node.governance.membership import add_member
from tests.fediverse import CHEAP_HASHER, InProcessNode, pooled_key

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "correct horse battery"
# What members read on Home once the Congregation reaches its soft size.
NOTICE = "Time to think about splitting"
# The smallest file the avatar form takes as a PNG (its signature, then padding).
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Visitor:
    """One browser: its own cookie jar; `form()` fetches the page first so the CSRF token is the page's."""

    def __init__(self, node: InProcessNode):
        self.node = node
        # A node under a made-up name (the SSRF guard on) is reached through its test DNS.
        connector = aiohttp.TCPConnector(resolver=node.resolver) if getattr(node, "resolver", None) else None
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector,
                                             headers={"Accept": "text/html"})

    async def close(self) -> None:
        await self.session.close()

    def url(self, path: str) -> str:
        return self.node.base + path

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.session.get(self.url(path), **kwargs) as r:
            return r.status, await r.text()

    async def csrf(self, path: str = "/login") -> str:
        status, page = await self.get(path)
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token on {path} ({status})"
        return unescape(match.group(1))

    async def post(self, path: str, data: dict[str, Any] | aiohttp.FormData, *, csrf: str | None = None,
                   page: str | None = None, follow: bool = True) -> tuple[int, str]:
        """POST a form as the page at `page` (default: `path`) would, with that page's CSRF token."""
        if isinstance(data, dict):
            data = {"csrf": csrf if csrf is not None else await self.csrf(page or path), **data}
        async with self.session.post(self.url(path), data=data, allow_redirects=follow) as r:
            return r.status, await r.text()

    async def sign_in(self, handle: str, password: str = PASSWORD) -> tuple[int, str]:
        return await self.post("/login", {"handle": handle, "password": password})


async def upload(visitor: Visitor, data: bytes, filename: str = "me.png", content_type: str = "image/png",
                 csrf: str | None = None) -> tuple[int, str]:
    """Send the avatar form as a browser does: multipart, the CSRF field first."""
    form = aiohttp.FormData()
    form.add_field("csrf", csrf if csrf is not None else await visitor.csrf("/settings"))
    form.add_field("avatar", data, filename=filename, content_type=content_type)
    return await visitor.post("/settings/avatar", form)


async def make_member(node: InProcessNode, handle: str, tier: str = "friend", password: str = PASSWORD,
                      display_name: str | None = None) -> int:
    """A member who can sign in, added as the operator would (`congregation member add`)."""
    key = pooled_key()
    return await add_member(node.db, handle, display_name or handle.capitalize(), tier,
                            signatures.private_pem(key), signatures.public_pem(key),
                            password_hash=await accounts.hash_password(password, CHEAP_HASHER))


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed: what a person reads."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
