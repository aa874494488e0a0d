"""`congregation post --as HANDLE|--group --visibility public|members [--edit ID|--delete ID] TEXT`."""

from __future__ import annotations

import argparse
import os
import sys

from node.activitypub.as2.notes import post_uri
from node.commands.arguments import whole_number
from node.commands.opening import open_node
from node.processing.posts import PostError, delete_post, edit_post, publish_post
from node.store import local_actors

# The number `congregation post` printed when the post was made.
_post_number = whole_number("a post number")


async def cmd_post(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        try:
            author = node.group if args.group else await local_actors.by_username(node.db, args.handle)
            if author is None:
                raise PostError(f"no member @{args.handle} (see `congregation member list`)")
            return await _run(node.db, node.config, author, args, " ".join(args.text))
        except PostError as exc:
            print(f"congregation: {exc}", file=sys.stderr)
            return 1


async def _run(db, config, author, args: argparse.Namespace, text: str) -> int:
    if args.delete is not None:
        post = await delete_post(db, config, author, args.delete)
        print(f"Deleted post {post.id}; the Delete is queued for delivery.")
    elif args.edit is not None:
        post = await edit_post(db, config, author, args.edit, text)
        print(f"Edited post {post.id}: {post_uri(config, post)}")
    else:
        post = await publish_post(db, config, author, text, args.visibility)
        print(f"Posted {post.id} ({post.visibility}): {post_uri(config, post)}")
    return 0


def add_parser(sub, data_arg=None) -> None:
    """Register `post` on the subparsers `sub`; `data_arg(p)`, when given, adds --data as cli.py does."""
    p = sub.add_parser("post", help="publish, edit or delete a post by a member or the Group")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--as", dest="handle", help="the member who posts")
    who.add_argument("--group", action="store_true", help="post as the Congregation's Group")
    p.add_argument("--visibility", choices=("public", "members"), default="public")
    change = p.add_mutually_exclusive_group()
    change.add_argument("--edit", type=_post_number, metavar="ID", help="replace the text of post ID")
    change.add_argument("--delete", type=_post_number, metavar="ID", help="delete post ID")
    p.add_argument("text", nargs="*", help="the text (plain; blank lines separate paragraphs)")
    if data_arg is not None:
        data_arg(p)
    else:
        p.add_argument("--data", default=os.environ.get("CONGREGATION_DATA", "data"), help="data directory")
    p.set_defaults(run=cmd_post)
