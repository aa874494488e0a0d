"""Crews: every crew is on this node, so nothing federates; the rules' own changes are the use cases. The web
calls them here, so it has one road for every change, and a crew change that some day federates changes here."""

from __future__ import annotations

from node.governance.crews import CrewError, answer, join, leave, start, withdraw

__all__ = ["CrewError", "answer", "join", "leave", "start", "withdraw"]
