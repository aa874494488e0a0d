"""Web UI: the home timeline (being built)."""

from __future__ import annotations

from aiohttp import web

from node.web.auth import require_member
from node.web.render import render

routes = web.RouteTableDef()


@routes.get("/home")
@require_member
async def home(request: web.Request) -> web.Response:
    return await render(request, "home.html")
