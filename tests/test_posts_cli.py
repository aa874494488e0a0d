"""`congregation post`: publish, edit and delete from the command line (parser from node.commands.post)."""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor

from node.commands.post import add_parser
from tests.factories import add_member


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="congregation")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    with ThreadPoolExecutor(1) as pool:  # the command runs its own event loop
        return pool.submit(asyncio.run, args.run(args)).result()


async def test_cli_post__publish_edit_delete(make_posting_node, capsys):
    node = await make_posting_node()
    await add_member(node)
    data = str(node.config.data_dir)
    capsys.readouterr()

    assert await asyncio.to_thread(_run, "post", "--as", "ada", "--visibility", "members", "hello", "all",
                                   "--data", data) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("Posted 1 (members): " + node.base + "/posts/")
    assert await asyncio.to_thread(_run, "post", "--as", "ada", "--edit", "1", "changed", "--data", data) == 0
    assert await asyncio.to_thread(_run, "post", "--as", "ada", "--delete", "1", "--data", data) == 0
    assert await node.count("posts", "deleted_at IS NOT NULL") == 1
    assert await asyncio.to_thread(_run, "post", "--group", "from", "the", "group", "--data", data) == 0


async def test_cli_post__errors_are_one_line(make_posting_node, capsys):
    node = await make_posting_node()
    data = str(node.config.data_dir)
    assert await asyncio.to_thread(_run, "post", "--as", "nobody", "hi", "--data", data) == 1
    assert capsys.readouterr().err.strip() == "congregation: no member @nobody (see `congregation member list`)"
    await add_member(node)
    assert await asyncio.to_thread(_run, "post", "--group", "--edit", "7", "x", "--data", data) == 1
    assert "there is no post 7" in capsys.readouterr().err
