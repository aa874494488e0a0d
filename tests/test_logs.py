"""Structured logs and request ids: a real `congregation serve`, real HTTP, its stderr read line by line."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from node import logs
from tests.fediverse import cli, free_port, init_node

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GENERATED_RE = re.compile(r"^[0-9a-f]{32}$")
AS_JSON = "application/activity+json"


class Serve:
    """`congregation serve` with its stderr collected line by line; started once it logs its Serving line."""

    def __init__(self, data: Path, *args: str, env: dict[str, str] | None = None):
        self.data = data
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []
        self._serving = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if "Serving" in line:
                self._serving.set()

    async def __aenter__(self) -> Serve:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "node", "serve", "--data", str(self.data), *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env)
        self._reader = asyncio.create_task(self._read())
        serving = asyncio.create_task(self._serving.wait())
        exited = asyncio.create_task(self.proc.wait())
        done, _ = await asyncio.wait({serving, exited}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        serving.cancel()
        exited.cancel()
        assert serving in done, f"no Serving line; stderr so far: {self.lines[-20:]}"
        return self

    async def stop(self) -> tuple[int, str]:
        """SIGTERM, then wait for the exit: (exit code, stdout)."""
        assert self.proc is not None and self._reader is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stdout is not None
        stdout = await asyncio.wait_for(self.proc.stdout.read(), 20)
        await asyncio.wait_for(self.proc.wait(), 20)
        await self._reader
        return self.proc.returncode, stdout.decode()

    async def __aexit__(self, *exc) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


@pytest.fixture
def config(tmp_path):
    return init_node(tmp_path / "a", free_port(), "Alpha")


async def _get(session: aiohttp.ClientSession, url: str, request_id: str | None = None) -> tuple[int, str]:
    headers = {"X-Request-Id": request_id} if request_id is not None else {}
    async with session.get(url, headers=headers, allow_redirects=False) as response:
        await response.read()
        return response.status, response.headers["X-Request-Id"]


@pytest.mark.slow
async def test_logs__json_lines_carry_the_request_id(config, session):
    # Given a node serving with JSON logs and the access log on
    async with Serve(config.data_dir, "--log-format", "json", env={"CONGREGATION_LOG_REQUESTS": "1"}) as node:
        base = config.base_url
        # When a request names its id, two do not, one POSTs unsigned to the inbox, one asks for nothing there
        echoed = await _get(session, f"{base}/healthz", "test-abc")
        first = await _get(session, f"{base}/healthz")
        second = await _get(session, f"{base}/healthz")
        async with session.post(f"{base}/inbox", data=b'{"type": "Create"}',
                                headers={"Content-Type": AS_JSON}) as response:
            refused = response.status, response.headers["X-Request-Id"]
        missing = await _get(session, f"{base}/no-such-page", "test-404")
        # and two send ids that must not be echoed
        markup = await _get(session, f"{base}/healthz", "<script>")
        too_long = await _get(session, f"{base}/healthz", "a" * 200)
        code, stdout = await node.stop()

    # Then each answer carries an id: the sane one echoed, otherwise a new one per request
    assert echoed == (200, "test-abc")
    assert first[0] == second[0] == 200
    assert GENERATED_RE.match(first[1]) and GENERATED_RE.match(second[1]) and first[1] != second[1]
    assert refused[0] == 401 and GENERATED_RE.match(refused[1])
    assert missing == (404, "test-404")
    for status, request_id in (markup, too_long):
        assert status == 200 and GENERATED_RE.match(request_id)

    # and every stderr line is one JSON object with time, level, logger and message
    assert code == 0 and stdout == ""
    entries = [json.loads(line) for line in node.lines]
    for entry in entries:
        assert isinstance(entry, dict)
        assert TIME_RE.match(entry["time"]), entry
        assert entry["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert entry["logger"] and isinstance(entry["message"], str)
    messages = [entry["message"] for entry in entries]
    assert any(m.startswith("Serving Alpha at ") for m in messages)
    assert any(m.startswith("Stopping") for m in messages) and messages[-1] == "Stopped"
    assert "request_id" not in next(e for e in entries if e["message"].startswith("Serving"))

    # and the access line for test-abc says what happened
    access = [e for e in entries if e["logger"] == "node.access"]
    abc = [e for e in access if e.get("request_id") == "test-abc"]
    assert len(abc) == 1
    assert abc[0]["level"] == "INFO" and abc[0]["method"] == "GET" and abc[0]["path"] == "/healthz"
    assert abc[0]["status"] == 200 and isinstance(abc[0]["duration_ms"], int | float)
    assert [e["status"] for e in access if e.get("request_id") == "test-404"] == [404]
    assert {e["request_id"] for e in access} >= {first[1], second[1], refused[1], markup[1], too_long[1]}
    assert not any(e.get("request_id") in ("<script>", "a" * 200) for e in entries)

    # and the inbox's reason for refusing is logged under the refused request's id
    refusal = [e for e in entries if e["logger"] == "node.activitypub.inbox"]
    assert [(e["request_id"], e["status"]) for e in refusal] == [(refused[1], 401)]


@pytest.mark.slow
async def test_logs__text_is_the_default(config, session):
    # Given a node started without --log-format (and no access log)
    async with Serve(config.data_dir) as node:
        # When an unsigned POST reaches the inbox under a known id
        async with session.post(f"{config.base_url}/inbox", data=b"{}", headers={
                "Content-Type": AS_JSON, "X-Request-Id": "test-txt"}) as response:
            assert response.status == 401
            assert response.headers["X-Request-Id"] == "test-txt"
        code, _ = await node.stop()

    # Then the lines are text, the Serving line among them, and the refusal names its request
    assert code == 0
    for line in node.lines:
        with contextlib.suppress(json.JSONDecodeError):
            assert not isinstance(json.loads(line), dict), line
    assert any(" INFO congregation: Serving Alpha at " in line for line in node.lines)
    refusals = [line for line in node.lines if "inbox refused (401)" in line]
    assert len(refusals) == 1 and refusals[0].endswith(" [req=test-txt]")
    assert not any("node.access" in line for line in node.lines)


def _one_line_error(code: int, err: str, expected_code: int, needle: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code and len(lines) == 1, (code, err)
    assert needle in lines[0] and "Traceback" not in err


@pytest.mark.slow
def test_logs__unknown_format_flag(config):
    code, _, err = cli("serve", "--log-format", "xml", "--data", str(config.data_dir))
    _one_line_error(code, err, 2, "invalid choice")


@pytest.mark.slow
def test_logs__unknown_format_setting(config):
    proc = subprocess.run([sys.executable, "-m", "node", "serve", "--data", str(config.data_dir)],
                          capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, "CONGREGATION_LOG_FORMAT": "xml"})
    _one_line_error(proc.returncode, proc.stderr, 1, "log_format")


async def test_logs__a_handler_that_fails_still_answers_with_its_id(session):
    # Given the middleware before handlers that raise, and a JSON handler on the root logger
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    async def forbidden(request: web.Request) -> web.Response:
        raise web.HTTPForbidden(text="no")

    app = web.Application(middlewares=[logs.request_ids()])
    app.router.add_get("/broken", broken)
    app.router.add_get("/forbidden", forbidden)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logging.getLogger().addHandler(handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        # When each is asked for
        broke = await _get(session, str(server.make_url("/broken")), "test-500")
        refused = await _get(session, str(server.make_url("/forbidden")))
    finally:
        await server.close()
        logging.getLogger().removeHandler(handler)

    # Then both answers carry the id, and the traceback is logged under it
    assert broke == (500, "test-500")
    assert refused[0] == 403 and GENERATED_RE.match(refused[1])
    errors = [json.loads(line) for line in out.getvalue().splitlines() if '"level": "ERROR"' in line]
    assert [(e["request_id"], e["message"]) for e in errors] == [("test-500", "error handling GET /broken")]
    assert "RuntimeError: boom" in errors[0]["exc"]


async def test_logs__secret_tokens_in_paths_are_not_logged(make_node, session):
    # Given a node that logs every request, and a handler that keeps every line
    node = await make_node(log_requests=True)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    try:
        # When invitation and reset links are opened (their token is all it takes to join or take an account)
        for path in ("/invite/SEKRIT-invite-token", "/reset/SEKRIT-reset-token"):
            async with session.get(node.base + path) as response:
                await response.read()
    finally:
        root.removeHandler(handler)
        root.level = level
    # Then the requests are logged, and their tokens are not (aiohttp's own access log, which the test server
    # keeps, is off in `congregation serve`)
    lines = [entry for line in out.getvalue().splitlines()
             if not (entry := json.loads(line))["logger"].startswith("aiohttp.")]
    assert {e.get("path") for e in lines} >= {"/invite/[redacted]", "/reset/[redacted]"}
    assert "SEKRIT" not in json.dumps(lines)
