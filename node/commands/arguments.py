"""Argument types shared by the subcommands: a bad value is one line from argparse, never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from node import uris

# The largest row id SQLite stores: a bigger number is no row, and binding it raised OverflowError.
MAX_ID = 2**63 - 1


def whole_number(what: str, high: int = MAX_ID) -> Callable[[str], int]:
    """An argparse type for a number from 1 to `high`, in ASCII digits (str.isdigit() also takes '²')."""
    def parse(text: str) -> int:
        value = uris.number(text, high)
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    parse.__name__ = what
    return parse
