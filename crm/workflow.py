"""The order status workflow as pure data and rules; loaded from the database, checked here.

Statuses and transitions are rows (an admin can change them), so nothing else in the
code names a status except the default data in the first migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crm.errors import ForbiddenTransition, InvalidInput
from crm.models import OrderStatus


@dataclass(frozen=True)
class StatusWorkflow:
    statuses: tuple[OrderStatus, ...]
    transitions: frozenset[tuple[str, str]]

    @classmethod
    def build(cls, statuses: Iterable[OrderStatus], transitions: Iterable[tuple[str, str]]) -> StatusWorkflow:
        ordered = tuple(sorted(statuses, key=lambda s: (s.position, s.code)))
        codes = {s.code for s in ordered}
        edges = frozenset(transitions)
        unknown = {code for edge in edges for code in edge} - codes
        if unknown:
            raise InvalidInput(f"transitions name unknown statuses: {', '.join(sorted(unknown))}")
        if sum(s.is_initial for s in ordered) != 1:
            raise InvalidInput("the workflow needs exactly one initial status")
        return cls(ordered, edges)

    def status(self, code: str) -> OrderStatus:
        for status in self.statuses:
            if status.code == code:
                return status
        raise InvalidInput(f"unknown order status {code[:40]!r}")

    @property
    def initial(self) -> OrderStatus:
        return next(s for s in self.statuses if s.is_initial)

    def next_statuses(self, code: str) -> tuple[OrderStatus, ...]:
        """Where an order in `code` may go, in workflow order (for the status buttons)."""
        return tuple(s for s in self.statuses if (code, s.code) in self.transitions)

    def check_transition(self, from_code: str, to_code: str) -> None:
        """Raise `ForbiddenTransition` unless the workflow allows `from_code -> to_code`."""
        target = self.status(to_code)
        source = self.status(from_code)
        if (from_code, to_code) not in self.transitions:
            allowed = ", ".join(s.code for s in self.next_statuses(from_code)) or "none (final status)"
            raise ForbiddenTransition(
                f"an order in status '{source.code}' cannot move to '{target.code}'; allowed: {allowed}")
