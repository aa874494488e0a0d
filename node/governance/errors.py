"""The kinds of refusal the rules make. Each message says why, for a person to read; the web and the CLI map the
kind to an answer (HTTP status, exit code) — governance knows nothing of either."""

from __future__ import annotations


class GovernanceError(Exception):
    """A change the rules refuse."""


class Invalid(GovernanceError):
    """The input does not fit: too long, empty, not one of the choices."""


class NotAllowed(GovernanceError):
    """The person asking may not make this change."""


class NotFound(GovernanceError):
    """What was named does not exist (here)."""


class Conflict(GovernanceError):
    """The change clashes with what already is: a taken handle, a full Congregation, a closed proposal."""


class Unreachable(GovernanceError):
    """Another server the change needs cannot be reached now; trying again later may work."""


STATUS = ((NotAllowed, 403), (NotFound, 404), (Conflict, 409), (Unreachable, 502))


def http_status(exc: GovernanceError) -> int:
    """The HTTP status an answer to this refusal carries (400 for plain invalid input)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)
