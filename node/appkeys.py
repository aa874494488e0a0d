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
DECISIONS = web.AppKey("decisions", "DecisionClock")
TEMPLATES = web.AppKey("templates", "jinja2.Environment")
LOGIN_THROTTLE = web.AppKey("login_throttle", "LoginThrottle")
HASHER = web.AppKey("hasher", "argon2.PasswordHasher")

# Per request: who is signed in (set by the web UI's session middleware for every request).
MEMBER = web.RequestKey("member", "LocalActor | None")
SESSION = web.RequestKey("session", "Session | None")
SESSION_TOKEN = web.RequestKey("session_token", str)
NEW_CSRF = web.RequestKey("new_csrf", str)
METRICS = web.AppKey("metrics", "Metrics")
WORKER_TASKS = web.AppKey("worker_tasks", list)
