"""The REST API under /api/v1: JSON in and out, bearer tokens, errors as `{"error", "message"}`.

Each module owns one resource and registers its own routes; `openapi` documents them
all, and a test keeps the registered routes and the document in step.
"""

from __future__ import annotations

from aiohttp import web

from web.api import (
    call_results,
    calls,
    customers,
    me,
    openapi,
    order_list,
    orders,
    originate,
    reports,
    tasks,
    transcripts,
)


def setup(app: web.Application) -> None:
    """Register every API route."""
    for module in (me, customers, orders, order_list, tasks, calls, originate, call_results, reports, transcripts,
                   openapi):
        module.add_routes(app.router)
