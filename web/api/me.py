"""Who the caller is: lets an integration check its token and see the role it acts with."""

from __future__ import annotations

from aiohttp import web

from web.api.json_io import json_response
from web.keys import current_user


async def me(request: web.Request) -> web.Response:
    return json_response(current_user(request))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/me", me, allow_head=False)
