"""Server-rendered pages of the operator panel."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register every page route (filled by the pages modules)."""
