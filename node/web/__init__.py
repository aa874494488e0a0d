"""The members' web UI: server-rendered pages, usable without JavaScript."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from node.appkeys import LOGIN_THROTTLE, TEMPLATES, UI_RESOURCES
from node.web import (
    assembly,
    crews,
    follows,
    home,
    invitations,
    members,
    moderation,
    negotiate,
    polls,
    proposals,
    public,
    reports,
    settings,
    signin,
)
from node.web.auth import LoginThrottle, is_ui, session_middleware
from node.web.render import SECURITY_HEADERS, environment, render

HEADINGS = {400: "That did not work", 401: "Sign in first", 403: "Not for you", 404: "Not found",
            405: "Not allowed", 410: "Gone", 413: "Too large", 429: "Slow down"}


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "activity+json" not in accept and "ld+json" not in accept


@web.middleware
async def html_errors(request: web.Request, handler) -> web.StreamResponse:
    """A browser that hits a 4xx gets a page in the site's frame, with the reason, not bare text."""
    if not is_ui(request):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not 400 <= exc.status < 500 or not _wants_html(request) or exc.content_type != "text/plain":
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        response = await render(request, "error.html", status=exc.status, code=exc.status,
                                heading=HEADINGS.get(exc.status, exc.reason), message=message)
        for name in ("Retry-After", "Allow"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")


def setup(app: web.Application) -> None:
    """Add the web UI's middlewares, routes and static files to the node's application."""
    app[TEMPLATES] = environment()
    app[LOGIN_THROTTLE] = LoginThrottle()
    app.middlewares.extend([html_errors, session_middleware])
    before = set(app.router.resources())
    for module in (signin, home, members, moderation, invitations, follows, settings, crews, proposals, polls,
                   reports, assembly, public,
                   negotiate):
        app.add_routes(module.routes)
    app.router.add_static("/static", str(resources.files("node.web") / "static"), append_version=False)
    # Only these get sessions, CSRF and HTML error pages; the wire's routes (inbox, AS2 collections,
    # discovery) are served as they are, whatever middleware the UI adds.
    app[UI_RESOURCES] = frozenset(set(app.router.resources()) - before)
    app.on_response_prepare.append(_static_headers)


__all__ = ["SECURITY_HEADERS", "render", "setup"]
