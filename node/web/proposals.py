"""Web UI: proposals (being built)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()


async def proposal_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound(text="no such proposal")
