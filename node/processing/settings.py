"""The Congregation changes its own rules: a decided setting is stored, applies at once, and a change the Group's
document shows (public_follows: manuallyApprovesFollowers) reaches its followers as Update(Group)."""

from __future__ import annotations

import aiosqlite

from node import config as configuration
from node.config import Config, ConfigError, LiveConfig
from node.db import now_iso
from node.governance.errors import Conflict
from node.governance.events import Event, ProfileChanged
from node.store import local_actors
from node.store import settings as settings_store


async def change(db: aiosqlite.Connection, config: Config, name: str, value: str, decided_by: str) -> list[Event]:
    """Store a decided value and apply it live (call inside a transaction); checked again, as another decision
    may have passed since this one opened. If the transaction fails after this, call `revert`."""
    try:
        configuration.with_decided(config, {name: value})
    except ConfigError as exc:
        raise Conflict(str(exc)) from None
    await settings_store.put(db, name, value, decided_by, now_iso())
    if isinstance(config, LiveConfig):
        config.apply({name: value})
    return [ProfileChanged(await local_actors.group(db), "settings")]


def snapshot(config: Config) -> tuple | None:
    """The live settings as they are, to `restore` if the transaction around `change` does not commit."""
    return (config.current, dict(config.decided)) if isinstance(config, LiveConfig) else None


def restore(config: Config, saved: tuple | None) -> None:
    if isinstance(config, LiveConfig) and saved is not None:
        config.current, config.decided = saved
