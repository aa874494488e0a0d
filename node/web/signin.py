"""Sign in and sign out."""

from __future__ import annotations

from aiohttp import web

from node.appkeys import CLOCK, DB, HASHER, LOGIN_THROTTLE
from node.governance import accounts
from node.web.auth import Refused, client_address, end_session, member, redirect, safe_next, start_session
from node.web.render import render

routes = web.RouteTableDef()


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    if member(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await render(request, "login.html", next=safe_next(request.query.get("next")), handle="", error=None)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    handle = str(form.get("handle", "")).strip().lstrip("@").lower()[:100]
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    throttle = request.app[LOGIN_THROTTLE]

    async def error(message: str, status: int, **headers: str) -> web.Response:
        response = await render(request, "login.html", status=status, next=target, handle=handle, error=message)
        response.headers.update(headers)
        return response

    if not handle or not password:
        return await error("Enter your handle and your password.", 400)
    admitted = await throttle.admit(request.app[DB], request.app[CLOCK].now(), handle, client_address(request))
    if isinstance(admitted, Refused):
        wait = {"Retry-After": str(admitted.wait)}
        if admitted.busy:
            return await error("Too many sign-ins at once. Try again in a few seconds.", 429, **wait)
        minutes = max(1, round(admitted.wait / 60))
        return await error(f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}.", 429,
                           **wait)
    try:
        actor = await accounts.authenticate(request.app[DB], handle, password, request.config_dict[HASHER])
    finally:
        throttle.finished(admitted)
    if actor is None:
        return await error("That handle and password do not match.", 401)
    await throttle.succeeded(request.app[DB], admitted)
    response = redirect(target)
    await start_session(request, response, actor)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    response = redirect("/")
    await end_session(request, response)
    return response
