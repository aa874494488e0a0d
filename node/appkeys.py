"""Typed keys for everything the aiohttp application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from node.clock import Clock
from node.config import Config

if TYPE_CHECKING:
    pass

CONFIG = web.AppKey("config", Config)
# The time every worker and time-deciding request reads (a test's ManualClock in-process).
CLOCK = web.AppKey("clock", Clock)
# What outbound connections resolve names through, behind the SSRF guard (None: the system's DNS).
RESOLVER = web.AppKey("resolver", "AbstractResolver | None")
DB = web.AppKey("db", "Database")  # node.db.Database: one writer, query_only readers
HTTP = web.AppKey("http", "HttpClient")
KEYS = web.AppKey("keys", "KeyResolver")
INBOX_WRITER = web.AppKey("inbox_writer", "InboxWriter")
INBOX_WORKER = web.AppKey("inbox_worker", "InboxWorker")
DELIVERY = web.AppKey("delivery", "DeliveryWorker")
RATE_LIMIT = web.AppKey("rate_limit", "Allowance")
# Who a host is to us (a known peer, a sibling Congregation), for the admission checks.
PEERS = web.AppKey("peers", "Peers")
DECISIONS = web.AppKey("decisions", "DecisionClock")
# Polls each sibling's decision log and keeps what it saw (node/witnessing.py).
WITNESS = web.AppKey("witness", "LogWitness")
TEMPLATES = web.AppKey("templates", "jinja2.Environment")
LOGIN_THROTTLE = web.AppKey("login_throttle", "LoginThrottle")
# The routes of the members' UI: only these get sessions, CSRF checks and HTML error pages.
UI_RESOURCES = web.AppKey("ui_resources", frozenset)
HASHER = web.AppKey("hasher", "argon2.PasswordHasher")

# Per request: who is signed in (set by the web UI's session middleware for every request).
MEMBER = web.RequestKey("member", "LocalActor | None")
SESSION = web.RequestKey("session", "Session | None")
SESSION_TOKEN = web.RequestKey("session_token", str)
NEW_CSRF = web.RequestKey("new_csrf", str)
METRICS = web.AppKey("metrics", "Metrics")
WORKER_TASKS = web.AppKey("worker_tasks", list)
