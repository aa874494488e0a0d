"""Typed keys for everything the aiohttp application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiosqlite
from aiohttp import web

from node.config import Config

if TYPE_CHECKING:
    pass

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", aiosqlite.Connection)
HTTP = web.AppKey("http", "HttpClient")
KEYS = web.AppKey("keys", "KeyResolver")
INBOX_WRITER = web.AppKey("inbox_writer", "InboxWriter")
INBOX_WORKER = web.AppKey("inbox_worker", "InboxWorker")
DELIVERY = web.AppKey("delivery", "DeliveryWorker")
RATE_LIMIT = web.AppKey("rate_limit", "HostRateLimiter")
