"""Time as the delivery worker sees it: the system clock, or one a test moves forward across processes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

# Not CONGREGATION_*: config.load refuses unknown variables with that prefix.
CLOCK_FILE_ENV = "CONG_TEST_CLOCK_FILE"


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Unix time."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to (in-process tests)."""

    def __init__(self, start: float | None = None):
        self.value = time.time() if start is None else start

    def now(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


class FileOffsetClock:
    """Unix time plus an offset in seconds read from a small file, so a test can jump a running process ahead."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def offset(self) -> float:
        try:
            return float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> float:
        return time.time() + self.offset()

    def set_offset(self, seconds: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(repr(float(seconds)))
        os.replace(tmp, self.path)  # atomic: a reader never sees a half-written number


def clock_from_env(env: dict[str, str] | None = None) -> Clock:
    """FileOffsetClock when CONG_TEST_CLOCK_FILE is set, else the system clock."""
    path = (os.environ if env is None else env).get(CLOCK_FILE_ENV)
    return FileOffsetClock(path) if path else SystemClock()
