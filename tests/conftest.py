from __future__ import annotations

import aiohttp
import pytest

from tests.fediverse import FakeActor, InProcessNode, free_port, init_node


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
