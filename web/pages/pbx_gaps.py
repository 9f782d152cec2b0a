"""The PBX gaps page (admins): each time perezvon was without the AMI, and what it recovered from Asterisk's CDR.

A gap runs from the last heartbeat perezvon wrote while connected to the next AMI login (a service
restart, a reconnect); after it the backfill builds the calls made meanwhile from the CDR rows Asterisk
wrote into perezvon's database (crm/recovery). An admin looks here after an outage: how long, how many
calls came back, and whether the backfill failed (then asterisk-conf/cdr_pgsql.conf says what to check).
"""

from __future__ import annotations

from aiohttp import web

from crm.recovery import store
from web.keys import POOL, require_role
from web.render import render

SHOWN = 50


async def gaps_page(request: web.Request) -> web.Response:
    require_role(request, "admin")
    gaps = await store.recent_gaps(request.app[POOL], SHOWN)
    return render("calls/gaps.html", request, {"gaps": gaps})


def setup(app: web.Application) -> None:
    """Register `GET /calls/gaps`."""
    app.router.add_get("/calls/gaps", gaps_page)
