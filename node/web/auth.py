"""Who is asking: cookie sessions, CSRF tokens, sign-in and sign-out, and the tier checks pages use."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from node.appkeys import CLOCK, CONFIG, DB, MEMBER, NEW_CSRF, SESSION, SESSION_TOKEN, UI_RESOURCES
from node.config import proxy_networks
from node.db import Database, transaction
from node.governance import accounts
from node.governance.membership import iso
from node.store import accounts as accounts_store
from node.store import throttle as throttle_store
from node.store.local_actors import LocalActor

SESSION_COOKIE = "congregation_session"
CSRF_COOKIE = "congregation_csrf"
CSRF_FIELD = "csrf"
TOUCH_EVERY = timedelta(hours=1)
# Sign-in failures allowed per handle, and per client address, in LOGIN_WINDOW seconds.
LOGIN_FAILURES_PER_HANDLE = 5
LOGIN_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW = 15 * 60
# Password checks at once per handle and per client address; one more is refused (429) with this Retry-After.
VERIFYING_PER_HANDLE = 2
VERIFYING_PER_ADDRESS = 2
# Password hashes running at once for everyone together: many addresses (a botnet, or an IPv4 pool) each within
# their own two must not take every core. Past it a sign-in is refused at once, unhashed and NOT counted against
# its handle: the crowd that filled it must not lock a member out.
VERIFYING_IN_ALL = 4  # under the default executor's threads (cores + 4), where the hashes run
BUSY_RETRY_AFTER = 5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _secure(request: web.Request) -> bool:
    return request.app[CONFIG].base_url.startswith("https://")


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                        secure=_secure(request))


def member(request: web.Request) -> LocalActor | None:
    """The signed-in member, or None."""
    return request.get(MEMBER)


def csrf_token(request: web.Request) -> str:
    """The token forms on this page must carry: the session's, or a signed-out visitor's cookie."""
    session = request.get(SESSION)
    if session is not None:
        return session.csrf
    token = request.cookies.get(CSRF_COOKIE) or request.get(NEW_CSRF)
    if not token:
        token = request[NEW_CSRF] = secrets.token_urlsafe(24)
    return token


# A members' form route may take a larger body than client_max_size (the inbox's limit), so that an upload a
# little too big reaches its handler and is refused beside the form, not with a bare 413: see allow_body().
BODY_ALLOWANCE = "body_allowance"


def allow_body(limit: int) -> Callable[[Handler], Handler]:
    """Let signed-in members send this route a body of up to `limit` bytes."""
    def mark(handler: Handler) -> Handler:
        setattr(handler, BODY_ALLOWANCE, limit)
        return handler
    return mark


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session from its cookie; check CSRF on every form POST before the handler runs."""
    request[MEMBER] = None
    request[SESSION] = None
    if not is_ui(request):
        return await handler(request)  # server to server: signed, never cookie-authenticated
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await _load_session(request, token)
    # A request that matches no route has no handler to protect: it gets its 404/405, not a CSRF refusal.
    if request.method == "POST" and getattr(request.match_info.route, "resource", None) is not None:
        allowance = getattr(request.match_info.handler, BODY_ALLOWANCE, 0)
        if allowance > request.client_max_size and request[MEMBER] is not None:
            request = request.clone(client_max_size=allowance)
        await _check_csrf(request)
    response = await handler(request)
    if request.get(NEW_CSRF) and not response.prepared:
        set_cookie(request, response, CSRF_COOKIE, request[NEW_CSRF])
    return response


def _is_form(request: web.Request) -> bool:
    return request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")


def is_ui(request: web.Request) -> bool:
    """A route of the members' UI (or no route at all: a browser's 404 is a page too), not one of the wire's."""
    route = request.match_info.route
    resource = getattr(route, "resource", None)
    return resource is None or resource in request.app.get(UI_RESOURCES, ())


def now(request: web.Request) -> datetime:
    """The node's clock: deadlines (sessions, closing times, link expiry) are judged by it, as workers judge them."""
    return datetime.fromtimestamp(request.app[CLOCK].now(), UTC)


async def _load_session(request: web.Request, token: str) -> None:
    db, config = request.app[DB], request.app[CONFIG]
    found = await accounts_store.session_with_actor(db, accounts.token_hash(token))
    moment = now(request)
    if found is None or found[0].expires_at <= iso(moment):
        return
    session, actor = found
    if actor is None or actor.tier is None:
        return
    request[MEMBER], request[SESSION], request[SESSION_TOKEN] = actor, session, token
    if session.seen_at <= iso(moment - TOUCH_EVERY):
        async with transaction(db):
            await accounts_store.touch_session(db, session.token_hash,
                                               iso(moment + timedelta(days=config.session_days)), iso(moment))


async def _check_csrf(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    base = urlsplit(request.app[CONFIG].base_url)
    if origin and origin != "null" and _scheme_and_host(origin) != base[:2]:
        raise web.HTTPForbidden(text="this form was sent from another site")
    if not _is_form(request):
        raise web.HTTPForbidden(text="forms on this site are sent as forms")
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    session = request.get(SESSION)
    expected = session.csrf if session is not None else request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="this form has expired or was not sent from this site; go back, reload the"
                                     " page and try again")


def _scheme_and_host(url: str) -> tuple[str, str] | None:
    try:
        return urlsplit(url)[:2]
    except ValueError:  # "http://[::1": from no site at all, so not from this one
        return None


def sign_in_first(request: web.Request) -> str:
    """/login, bringing the visitor back to this page afterwards: the page escaped as one parameter (its own `&`
    must not become the login form's), and dropped when longer than MAX_NEXT, so that a crafted link cannot make
    a redirect too large for a reverse proxy's header buffer."""
    target = request.rel_url.path_qs
    if len(target) > MAX_NEXT:
        target = request.rel_url.path if len(request.rel_url.path) <= MAX_NEXT else "/"
    return "/login?" + urlencode({"next": target})


def require_member(handler: Handler) -> Handler:
    """Signed-out visitors are sent to sign in, and brought back afterwards."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if member(request) is None:
            if request.method == "GET":
                raise web.HTTPSeeOther(sign_in_first(request))
            raise web.HTTPForbidden(text="sign in first")
        return await handler(request)
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def require_partner(handler: Handler) -> Handler:
    """Pages for Partners, who hold the whole: Friends get 403."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        me = member(request)
        if me is None:
            if request.method == "GET":
                raise web.HTTPSeeOther(sign_in_first(request))
            raise web.HTTPForbidden(text="sign in first")
        if me.tier != "partner":
            raise web.HTTPForbidden(text="this page is for Partners")
        return await handler(request)
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def client_address(request: web.Request) -> str:
    """Who is asking: the peer's address, or, when the peer is a trusted proxy (trusted_proxies), the nearest
    address in X-Forwarded-For that is not one of them. Hops left of that were written by the client itself
    and are not believed."""
    remote = request.remote or "?"
    networks = proxy_networks(request.app[CONFIG].trusted_proxies)
    if not networks or not _within(remote, networks):
        return remote
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ()) for hop in value.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, networks):
            return hop[:64]
    return remote


def _within(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@dataclass
class Attempt:
    """A sign-in the throttle let through to have its password checked; hand it back to finished()."""

    handle: str
    block: str
    address_row: int


@dataclass
class Refused:
    """A sign-in held back: over its window's limit, or (busy) while enough others are being checked."""

    wait: int
    busy: bool = False


ALL = "*"  # the in-flight count of every sign-in together (VERIFYING_IN_ALL)


class LoginThrottle:
    """Sign-ins per handle and per client address: counted in the database over a window of the node's clock,
    and bounded in flight in memory.

    An attempt counts before its password is hashed (an argon2 hash is what a stranger makes us spend), inside
    one transaction with the check, so a burst sent at once is held to the limit too; a success takes its count
    back. The counts are rows (login_attempts), so a restart hands nobody a fresh allowance. At most
    VERIFYING_PER_HANDLE and VERIFYING_PER_ADDRESS hashes run at once: one more is refused at once, and counted,
    rather than queued behind them, and VERIFYING_IN_ALL for everyone together. IPv6 clients count by /64: one
    host holds a whole /64.
    """

    def __init__(self) -> None:
        self._verifying: dict[str, int] = {}

    async def admit(self, db: Database, now: float, handle: str, address: str) -> Attempt | Refused:
        """Let a sign-in through (an Attempt, counted), or hold it back."""
        block = _client_block(address)
        keys = [(f"h:{handle}", LOGIN_FAILURES_PER_HANDLE, VERIFYING_PER_HANDLE),
                (f"a:{block}", LOGIN_FAILURES_PER_ADDRESS, VERIFYING_PER_ADDRESS)]
        since = now - LOGIN_WINDOW
        claimed: list[str] = []
        try:
            async with transaction(db):
                await throttle_store.prune(db, since)
                waits = []
                for key, limit, _ in keys:
                    count = await throttle_store.count_since(db, key, since)
                    if count >= limit:  # free again once all but limit - 1 of them have left the window
                        oldest = await throttle_store.nth_since(db, key, since, count - limit)
                        waits.append(int((oldest or now) + LOGIN_WINDOW - now) + 1)
                if waits:
                    return Refused(max(waits))
                if self._verifying.get(ALL, 0) >= VERIFYING_IN_ALL:
                    return Refused(BUSY_RETRY_AFTER, busy=True)
                rows = await throttle_store.record(db, [key for key, _, _ in keys], now)
                if any(self._verifying.get(key, 0) >= most for key, _, most in keys):
                    return Refused(BUSY_RETRY_AFTER, busy=True)
                for key in [*(key for key, _, _ in keys), ALL]:  # claimed under the transaction's lock
                    self._verifying[key] = self._verifying.get(key, 0) + 1
                    claimed.append(key)
        except BaseException:
            self._release(claimed)
            raise
        return Attempt(handle, block, rows[1])

    def finished(self, attempt: Attempt) -> None:
        """Its password has been checked: another may be."""
        self._release([f"h:{attempt.handle}", f"a:{attempt.block}", ALL])

    async def succeeded(self, db: Database, attempt: Attempt) -> None:
        """It signed in: it is not held against its address, and the handle starts over."""
        async with transaction(db):
            await throttle_store.forget(db, f"h:{attempt.handle}")
            await throttle_store.forget(db, f"a:{attempt.block}", attempt.address_row)

    def _release(self, keys: list[str]) -> None:
        for key in keys:
            left = self._verifying.get(key, 0) - 1
            if left > 0:
                self._verifying[key] = left
            else:
                self._verifying.pop(key, None)


def _client_block(address: str) -> str:
    """What one client holds: its IPv4 address, or its IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


async def start_session(request: web.Request, response: web.StreamResponse, actor: LocalActor) -> None:
    db, config = request.app[DB], request.app[CONFIG]
    token, hashed = accounts.new_token()
    moment = now(request)
    expires = moment + timedelta(days=config.session_days)
    async with transaction(db):
        await accounts_store.insert_session(db, hashed, actor.id, secrets.token_urlsafe(24), iso(expires),
                                            iso(moment))
        await accounts_store.delete_expired_sessions(db, iso(moment))
    set_cookie(request, response, SESSION_COOKIE, token, max_age=config.session_days * 86400)


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    token = request.get(SESSION_TOKEN)
    if token:
        async with transaction(request.app[DB]):
            await accounts_store.delete_session(request.app[DB], accounts.token_hash(token))
    response.del_cookie(SESSION_COOKIE, path="/")


def redirect(location: str) -> web.Response:
    """303 See Other: after a form POST the browser GETs the next page (Post/Redirect/Get)."""
    return web.Response(status=303, headers={"Location": location})


# A longer next is no page of ours, and as a Location it would outgrow a reverse proxy's header buffer (nginx's is
# 4 KiB by default): the proxy answers 502 and the session just made is lost with the answer.
MAX_NEXT = 1000


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=//evil.example` must not become an open redirect.

    Browsers drop tabs and newlines from a URL (and yarl does, building the Location), so `/<tab>/evil.example`
    is `//evil.example`: a target with any control character, space or backslash is refused, not cleaned."""
    if (not target or not target.startswith("/") or target.startswith("//") or len(target) > MAX_NEXT
            or any(c <= " " or c in "\\\x7f" for c in target)):
        return "/home"
    return target
