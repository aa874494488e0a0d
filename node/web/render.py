"""Templates: one Jinja2 environment, autoescaped, with what every page needs in its context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from node.appkeys import CONFIG, DB, TEMPLATES
from node.governance.membership import size_status
from node.store import local_actors
from node.web.auth import CSRF_FIELD, csrf_token, member
from node.web.forms import now
from node.web.notices import for_member

SECURITY_HEADERS = {
    # No script runs on these pages and nothing loads from another site.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
                               " frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _when(value: str | None) -> str:
    """2026-11-26T09:30:50.123Z → 2026-11-26 09:30 (UTC), for people."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("node.web", "templates"),
        autoescape=jinja2.select_autoescape(("html", "xml", "atom")),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False,
    )
    env.filters["when"] = _when
    return env


async def context(request: web.Request) -> dict[str, Any]:
    config, db = request.app[CONFIG], request.app[DB]
    me = member(request)
    return {
        "config": config, "me": me, "csrf_field": CSRF_FIELD, "csrf": csrf_token(request),
        "group": await local_actors.group(db), "path": request.path,
        "size": await size_status(db, config) if me is not None else None,
        "notices": await for_member(db, config, me, now(request)) if me is not None else [],
    }


async def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    """Render a page; `values` override the common context (a form's errors, what was typed)."""
    ctx = await context(request)
    ctx.update(values)
    html = request.app[TEMPLATES].get_template(template).render(ctx)
    return web.Response(text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS)
