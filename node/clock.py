"""Time as the node sees it: the system clock, or one a test moves forward (in this process or across processes).

Only a test may move a node's clock. In-process tests pass a ManualClock to create_app(clock=...). Tests of real
processes share one FileOffsetClock named by CONG_TEST_CLOCK_FILE, honoured only when CONG_TEST_MODE=1 is set as
well: a stray clock file in a production environment is refused at startup rather than silently skewing every
deadline (a proposal closing days early, deliveries given up on).
"""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import Protocol

# Not CONGREGATION_*: config.load refuses unknown variables with that prefix.
CLOCK_FILE_ENV = "CONG_TEST_CLOCK_FILE"
TEST_MODE_ENV = "CONG_TEST_MODE"


class ClockError(Exception):
    """The environment asks for a test clock outside test mode."""


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
        """Move forward; a clock never goes back (deadlines already passed stay passed)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.value += seconds


class OffsetClock:
    """The wall's time plus an offset a test moves forward: never behind the wall, so rows another connection
    stamps with the wall's time (a CLI command run in the test's process) are due on it as well."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move forward; a clock never goes back."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.offset += seconds


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


def clock_env(path: Path | str) -> dict[str, str]:
    """The environment a test gives a real process so that it runs on the FileOffsetClock at `path`."""
    return {TEST_MODE_ENV: "1", CLOCK_FILE_ENV: str(path)}


def clock_from_env(env: dict[str, str] | None = None) -> Clock:
    """FileOffsetClock when CONG_TEST_CLOCK_FILE is set in test mode, else the system clock; ClockError otherwise."""
    env = os.environ if env is None else env
    path = env.get(CLOCK_FILE_ENV)
    if not path:
        return SystemClock()
    if env.get(TEST_MODE_ENV) != "1":
        raise ClockError(f"{CLOCK_FILE_ENV} is set but {TEST_MODE_ENV}=1 is not: a test clock is refused outside"
                         " test mode (unset it)")
    return FileOffsetClock(path)


# The clock each database connection's node runs on, for code that writes times and has only the connection
# (publish() stamps new deliveries due "now": on a test's clock that must be the clock's now, not the wall's).
_BOUND: weakref.WeakKeyDictionary[object, Clock] = weakref.WeakKeyDictionary()


def bind(db: object, clock: Clock) -> None:
    """Every later clock_of(db) answers `clock`."""
    _BOUND[db] = clock


def clock_of(db: object) -> Clock:
    """The clock bound to `db`, else the process's clock (the environment's, checked as in clock_from_env)."""
    found = _BOUND.get(db)
    return found if found is not None else clock_from_env()
