from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.fediverse import FakeActor, InProcessNode, free_port, init_node
from tests.resolver import LoopbackDNS
from tests.webclient import Visitor

INTEROP = Path(__file__).parent / "interop"
# Tests with these marks start Node.js, Chromium or podman: slow by nature.
_PROCESS_MARKS = ("interop", "browser", "container")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark process tests `slow`, and run them first: under xdist a long test started last runs alone."""
    for item in items:
        if any(item.get_closest_marker(mark) for mark in _PROCESS_MARKS):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def make_node(tmp_path):
    """Build in-process nodes: `await make_node(name, **settings)`; closed when the test ends."""
    nodes: list[InProcessNode] = []

    async def make(name: str = "alpha", **settings) -> InProcessNode:
        config = init_node(tmp_path / name, free_port(), name.title(), **settings)
        node = await InProcessNode(config).start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.close()


@pytest.fixture
async def node(make_node):
    return await make_node()


@pytest.fixture
def make_posting_node(make_node):
    """Nodes whose Group accepts follows at once, so tests can start from followers."""

    async def make(name: str = "alpha", **settings) -> InProcessNode:
        return await make_node(name, **{"public_follows": "auto", **settings})

    return make


@pytest.fixture
async def make_remote():
    actors: list[FakeActor] = []

    async def make(name: str = "remote", **kwargs) -> FakeActor:
        actor = await FakeActor(name=name, **kwargs).start()
        actors.append(actor)
        return actor

    yield make
    for actor in actors:
        await actor.close()


@pytest.fixture
async def remote(make_remote):
    return await make_remote()


# The same world with the SSRF guard on: nodes and remote actors under made-up names (NAME.test.example), all in one
# test DNS that maps each to its loopback port and vouches for nothing else. A module makes its tests run in it by
# overriding make_node, make_remote and session with these.


@pytest.fixture
def test_dns() -> LoopbackDNS:
    return LoopbackDNS()


@pytest.fixture
async def make_guarded_node(tmp_path, test_dns):
    """`await make_guarded_node(name, **settings)`: a node at http://NAME.test.example:PORT, the guard on."""
    nodes: list[InProcessNode] = []

    async def make(name: str = "alpha", **settings) -> InProcessNode:
        port = free_port()
        config = init_node(tmp_path / name, port, name.title(), host=f"{name}.test.example", **settings)
        assert config.allow_private_addresses is False
        test_dns.add(f"{name}.test.example", port)
        nodes.append(await InProcessNode(config, resolver=test_dns).start())
        return nodes[-1]

    yield make
    for node in nodes:
        await node.close()


@pytest.fixture
async def make_guarded_remote(test_dns):
    """`await make_guarded_remote(name)`: a FakeActor at http://NAME.test.example:PORT."""
    actors: list[FakeActor] = []

    async def make(name: str = "remote", **kwargs) -> FakeActor:
        actor = await FakeActor(name=name, host=f"{name}.test.example", **kwargs).start()
        test_dns.add(actor.host, actor.port)
        actors.append(actor)
        return actor

    yield make
    for actor in actors:
        await actor.close()


@pytest.fixture
async def guarded_session(test_dns):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=test_dns)) as s:
        yield s


@pytest.fixture
async def browser():
    """A headless Chromium (Debian's) under Playwright; each test opens its own contexts (one per person)."""
    from playwright.async_api import async_playwright

    from tests.browser import CHROMIUM_ARGS, chromium_path

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()

@pytest.fixture
async def browsers():
    """`browsers(node)`: a new Visitor with a cookie jar of its own; all closed when the test ends."""
    made: list[Visitor] = []

    def make(node) -> Visitor:
        made.append(Visitor(node))
        return made[-1]

    yield make
    for visitor in made:
        await visitor.close()


@pytest.fixture
async def signed_in(node):
    """`await signed_in(handle, tier)`: a member of `node`, signed in, in a browser of their own."""
    from tests.webclient import make_member

    made: list[Visitor] = []

    async def make(handle: str, tier: str = "friend") -> Visitor:
        await make_member(node, handle, tier)
        visitor = Visitor(node)
        made.append(visitor)
        status, _ = await visitor.sign_in(handle)
        assert status == 200
        return visitor

    yield make
    for visitor in made:
        await visitor.close()


@pytest.fixture
async def fedify(tmp_path):
    """A Fedify peer process on a free loopback port; its base URL once it prints READY."""
    node_bin = shutil.which("node")
    assert node_bin, "Node.js is needed for the Fedify interop test"
    assert (INTEROP / "node_modules" / "@fedify" / "fedify").is_dir(), \
        "run `npm ci` in tests/interop first (the README's test command does)"
    log = open(tmp_path / "fedify.log", "wb")  # noqa: SIM115 - closed below
    proc = await asyncio.create_subprocess_exec(node_bin, str(INTEROP / "fedify_peer.mjs"), "0",
                                                stdout=asyncio.subprocess.PIPE, stderr=log)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"READY "), (line, (tmp_path / "fedify.log").read_text()[-2000:])
        yield line.split()[1].decode()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        log.close()
