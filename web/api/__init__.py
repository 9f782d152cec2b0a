"""The REST API under /api/v1."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register every API route (filled by the API modules)."""
