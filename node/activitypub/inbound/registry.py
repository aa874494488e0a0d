"""Which handler an inbound activity gets, by (activity type, object type): one line per pair.

The object type is the embedded object's `type` (the first one with a handler, when it is a list). A bare id,
or a type with no handler of its own, gets the activity type's fallback (object type ANY). An activity with no
handler at all is only stored. A new pair is a module in this package and one line in PAIRS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from node.activitypub.as2.notes import NOTE_TYPES
from node.activitypub.as2.parse import ACTOR_TYPES, types_of
from node.activitypub.inbound import (
    accept,
    add,
    announce,
    create,
    delete,
    flag,
    follow,
    like,
    reject,
    undo,
    update,
    witness,
)
from node.activitypub.inbound.context import Handler, InboxContext

ANY = None  # the object type of a fallback: a bare id, or a type with no handler of its own
NOT_ACTED_ON = "stored"

PAIRS: dict[tuple[str, str | None], Handler] = {
    ("Follow", ANY): follow.on_follow,
    ("Accept", ANY): accept.on_accept_follow,
    ("Reject", ANY): reject.on_reject_follow,
    ("Undo", "Follow"): undo.on_undo_follow,
    ("Undo", "Like"): undo.on_undo_reaction,
    ("Undo", "Announce"): undo.on_undo_reaction,
    ("Undo", ANY): undo.on_undo,
    **{("Create", kind): create.on_create_note for kind in NOTE_TYPES},
    ("Create", ANY): create.on_create,
    **{("Update", kind): update.on_update_actor for kind in sorted(ACTOR_TYPES)},
    **{("Update", kind): update.on_update_note for kind in NOTE_TYPES},
    ("Update", ANY): update.on_update,
    ("Delete", ANY): delete.on_delete,
    **{("Announce", kind): announce.on_announce_activity for kind in announce.INNER},
    ("Announce", "Create"): announce.on_announce_create,
    ("Announce", ANY): announce.on_announce,
    ("Like", ANY): like.on_like,
    ("Flag", ANY): flag.on_flag,
    ("Add", ANY): add.on_add,  # a sibling relays signed Assembly objects
    ("Add", "LogEquivocation"): witness.on_equivocation,  # a sibling gossips a rewritten log's proof
}


class Registry:
    """Handlers by (activity type, object type); `register` adds one and hands back how to remove it."""

    def __init__(self, pairs: dict[tuple[str, str | None], Handler]):
        self._handlers = dict(pairs)

    def register(self, activity: str, object_type: str | None, handler: Handler) -> Callable[[], None]:
        """Add the handler for a pair no other handler holds; return the function that removes it."""
        key = (activity, object_type)
        if key in self._handlers:
            raise ValueError(f"({activity}, {object_type or 'ANY'}) has a handler already")
        self._handlers[key] = handler

        def unregister() -> None:
            if self._handlers.get(key) is handler:
                del self._handlers[key]
        return unregister

    @contextlib.contextmanager
    def registered(self, activity: str, object_type: str | None, handler: Handler) -> Iterator[None]:
        """The handler is registered inside the block only."""
        unregister = self.register(activity, object_type, handler)
        try:
            yield
        finally:
            unregister()

    def lookup(self, activity: dict[str, Any]) -> Handler | None:
        """The handler for this activity, or None when we do not act on it."""
        kind = activity.get("type")
        if not isinstance(kind, str):
            return None
        obj = activity.get("object")
        for object_type in types_of(obj) if isinstance(obj, dict) else ():
            if (handler := self._handlers.get((kind, object_type))) is not None:
                return handler
        return self._handlers.get((kind, ANY))

    async def dispatch(self, ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
        """Run the activity's handler; its outcome, or NOT_ACTED_ON when there is none."""
        handler = self.lookup(activity)
        return NOT_ACTED_ON if handler is None else await handler(ctx, activity, actor)


REGISTRY = Registry(PAIRS)


async def dispatch(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """Dispatch through the node's registry."""
    return await REGISTRY.dispatch(ctx, activity, actor)
