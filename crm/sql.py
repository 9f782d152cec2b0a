"""Building filtered list queries: numbered parameters collected while the WHERE clause is written."""

from __future__ import annotations


class SqlParams:
    """`param(value)` records `value` and returns its placeholder (`$1`, `$2`, ...); pass `*values` to asyncpg.

    Values always travel as parameters, never inside the SQL text, however a filter is assembled.
    """

    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"
