"""What every form of the members' UI shares: reading the form, its fields, the status and sentence of a
refusal, and the time by the node's clock."""

from __future__ import annotations

import aiosqlite
from aiohttp import web
from multidict import MultiDictProxy

from node.governance.errors import GovernanceError, http_status
from node.governance.membership import Unusable
from node.store import local_actors
from node.store.local_actors import LocalActor
from node.web.auth import now

__all__ = ["Names", "field", "form_status", "now", "read_form", "sentence"]

# Links a person was given: never heard of it, or it has been spent, withdrawn or has run out.
LINK_STATUS = {"unknown": 404, "used": 410, "revoked": 410, "expired": 410, "departed": 410,
               "awaiting_endorsement": 409, "inviter_gone": 410}


def form_status(exc: GovernanceError) -> int:
    """The HTTP status of a refused change: 403 not allowed, 404 not found, 409 conflict, else 400; a link
    that cannot be used by why."""
    if isinstance(exc, Unusable):
        return LINK_STATUS.get(exc.state, 400)
    return http_status(exc)


def sentence(exc: Exception) -> str:
    """A governance message as a sentence on a page."""
    text = str(exc)
    return text[:1].upper() + text[1:] + ("." if text[-1:].isalnum() else "")


async def read_form(request: web.Request) -> MultiDictProxy:
    """The posted form; anything but a form is refused, since the CSRF check only looks at forms."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise web.HTTPForbidden(text="this form was not sent from this site; go back, reload the page and try again")
    return await request.post()


def field(form: MultiDictProxy, name: str, limit: int = 10_000) -> str:
    """A text field, at most `limit` characters; a missing field or a file reads as empty."""
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


class Names:
    """@handles of local actors by id, each looked up once per page."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._found: dict[int, LocalActor | None] = {}

    async def actor(self, actor_id: int | None) -> LocalActor | None:
        """The actor with this id, or None (the operator, or someone long gone)."""
        if actor_id is None:
            return None
        if actor_id not in self._found:
            self._found[actor_id] = await local_actors.by_id(self._db, actor_id)
        return self._found[actor_id]
