"""Slow clients (slowloris): bounded time for a request's headers and for its body.

aiohttp closes a connection that has not sent a complete request head within its keep-alive timeout
(counted from the connection's start or the last answer), so that timeout is the header timeout. The
body is read up front here, under its own timeout (it is bounded by the app's client_max_size), so a
handler never waits on a client that trickles its form.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.errors import Handler
from web.keys import SETTINGS

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def handler_args(header_timeout_s: float) -> dict[str, float]:
    """Arguments for aiohttp's request handler (`web.Application(handler_args=...)`)."""
    return {"keepalive_timeout": header_timeout_s}


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in BODY_METHODS and request.body_exists and not request.content_type.startswith("multipart/"):
        try:
            async with asyncio.timeout(request.app[SETTINGS].web.body_timeout_s):
                await request.read()  # cached: the handler's post() / read() use these bytes
        except TimeoutError:
            raise web.HTTPRequestTimeout(text="the request body did not arrive in time") from None
    return await handler(request)
