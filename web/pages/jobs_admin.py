"""The job queue as admins see it (admins only): what waits, runs, failed or was retried, and why jobs failed."""

from __future__ import annotations

from aiohttp import web

from web.jobs.runtime import queue_figures, recent_failures
from web.keys import POOL, require_role
from web.render import render


async def jobs_page(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    pool = request.app[POOL]
    figures = await queue_figures(pool)
    totals: dict[str, int] = {}
    for figure in figures:
        totals[figure.status] = totals.get(figure.status, 0) + figure.count
    return render("jobs/list.html", request, {"figures": figures, "totals": totals,
                                              "failures": await recent_failures(pool)})


def setup(app: web.Application) -> None:
    app.router.add_get("/settings/jobs", jobs_page)
