"""Three nodes as real processes: A and B are siblings, C follows A. What A's members post goes where it should."""

from __future__ import annotations

import sqlite3

import aiohttp
import pytest

from tests.factories import approve_pending
from tests.fediverse import NodeProcess, cli, eventually, free_port, init_node

pytestmark = pytest.mark.slow

AS = {"Accept": "application/activity+json"}


def _stored(node: NodeProcess, uri: str) -> tuple[str, str | None] | None:
    """(content, deleted_at) of a remote object in a node's database, read while the node runs."""
    with sqlite3.connect(node.config.db_path) as db:
        return db.execute("SELECT content, deleted_at FROM remote_objects WHERE uri = ?", (uri,)).fetchone()


@pytest.fixture
async def assembly(tmp_path):
    configs = [init_node(tmp_path / n, free_port(), n.title()) for n in ("alpha", "beta", "gamma")]
    nodes = [NodeProcess(c.data_dir).start() for c in configs]
    a, b, c = nodes
    group = {n: f"{n.config.base_url}/actors/group" for n in nodes}
    try:
        # A and B become siblings (each approves the other); C follows A, and A approves.
        assert cli("follow", group[b], "--data", str(a.data))[0] == 0
        assert cli("follow", group[a], "--data", str(b.data))[0] == 0
        assert cli("follow", f"@group@{a.config.host}", "--data", str(c.data))[0] == 0
        await approve_pending(b, group[a])
        await approve_pending(a, group[b])
        await approve_pending(a, group[c])

        async def related():
            return (f"sibling\t{group[b]}\t" in cli("siblings", "--data", str(a.data))[1]
                    and "accepted" in cli("follows", "list", "--outgoing", "--data", str(c.data))[1])

        try:
            await eventually(related, timeout=40)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: " + " | ".join(
                cli(*cmd, "--data", str(n.data))[1] for n in nodes
                for cmd in (("deliveries",), ("siblings",), ("follows", "list", "--outgoing")))) from None
        assert cli("member", "add", "ada", "--data", str(a.data))[0] == 0
        yield a, b, c
    finally:
        for n in nodes:
            n.stop()


def _post(node: NodeProcess, *args: str) -> str:
    code, out, err = cli("post", "--as", "ada", *args, "--data", str(node.data))
    assert code == 0, err
    return out.strip().rsplit(" ", 1)[-1]


async def test_three_nodes__public_reaches_b_and_c_members_only_reaches_nobody(assembly, remote):
    a, b, c = assembly
    public = _post(a, "--visibility", "public", "Soup at mine on Friday")
    secret = _post(a, "--visibility", "members", "The key is under the mat")

    async def public_everywhere():
        return all(_stored(n, public) for n in (b, c))

    await eventually(public_everywhere, timeout=40)
    assert _stored(b, public)[0] == "<p>Soup at mine on Friday</p>"

    # Members-only: no delivery row left A, nothing is stored elsewhere, a non-member's signed fetch is 404
    assert all(_stored(n, secret) is None for n in (b, c))
    with sqlite3.connect(a.config.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM deliveries WHERE body LIKE '%under the mat%'").fetchone()[0] == 0
    async with aiohttp.ClientSession() as session:
        for headers in ({}, remote.signed_headers("GET", secret, None)):
            async with session.get(secret, headers={**AS, **headers}) as r:
                assert r.status == 404

    # Edits and deletes propagate
    code, out, err = cli("post", "--as", "ada", "--edit", _number(a, public), "Soup at mine on Saturday",
                         "--data", str(a.data))
    assert code == 0, err

    async def edited_everywhere():
        return all((_stored(n, public) or ("",))[0] == "<p>Soup at mine on Saturday</p>" for n in (b, c))

    await eventually(edited_everywhere, timeout=40)
    assert cli("post", "--as", "ada", "--delete", _number(a, public), "--data", str(a.data))[0] == 0

    async def deleted_everywhere():
        return all((_stored(n, public) or (None, None))[1] for n in (b, c))

    await eventually(deleted_everywhere, timeout=40)


def _number(node: NodeProcess, uri: str) -> str:
    with sqlite3.connect(node.config.db_path) as db:
        return str(db.execute("SELECT id FROM posts WHERE uuid = ?", (uri.rsplit("/", 1)[-1],)).fetchone()[0])
