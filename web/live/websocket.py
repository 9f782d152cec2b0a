"""`GET /live`: the panel's websocket. A snapshot first, then this user's events as they happen.

Authenticated by the login session (the auth middleware runs before this handler), from the
panel's own origin only (a page elsewhere cannot open it with the operator's cookie), and closed
when the session ends: at logout through the hub, otherwise by a periodic check of the session.

The snapshot is what a fresh or reconnected tab needs to be right without a reload: the pops of
the calls ringing or connected to this user now. Later messages only add to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from crm import screen_pop, sessions
from web.keys import POOL, SESSION_TOKEN, SETTINGS, current_user
from web.live.bus import LiveBus
from web.live.hub import (
    SESSION_ENDED,
    SESSION_ENDED_REASON,
    STOPPING_REASON,
    TOO_SLOW_REASON,
    Audience,
    LiveClient,
    LiveHub,
    session_hash,
)
from web.live.publisher import LivePublisher

log = logging.getLogger(__name__)

HUB = web.AppKey("live_hub", LiveHub)
BUS = web.AppKey("live_bus", LiveBus)
PUBLISHER = web.AppKey("live_publisher", LivePublisher)
HEARTBEAT_S = 20.0
SESSION_CHECK_S = 30.0
#: Close codes the page understands: 4401 = log in again (no reconnect), 4408 = too slow (reconnect now).
CLOSE_SESSION_ENDED = 4401
CLOSE_TOO_SLOW = 4408
PONG = '{"type":"pong"}'


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: the session cookie still has to be valid
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


async def snapshot(request: web.Request, manager_id: int) -> dict[str, Any]:
    pops: list[dict[str, Any]] = []
    publisher = request.app.get(PUBLISHER)
    if publisher is not None:
        for linkedid, answered in await screen_pop.live_pops(request.app[POOL], manager_id):
            pop = await publisher.pop_for(linkedid, manager_id, state="in_call" if answered else "ringing")
            if pop is not None:
                pops.append(pop)
    return {"type": "hello", "pops": pops}


async def live(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    if not _same_origin(request):
        raise web.HTTPForbidden(text="the live connection is open to the panel's own pages only")
    token = request.get(SESSION_TOKEN)
    if not isinstance(token, str):
        raise web.HTTPForbidden(text="the live connection needs a login session")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[HUB]
    client = LiveClient(manager_id=user.id, supervisor=user.sees_everything, session_hash=session_hash(token))
    hub.add(client)  # before the snapshot: an event raised meanwhile is queued, not lost
    try:
        await ws.send_json(await snapshot(request, user.id))
        tasks = {asyncio.create_task(_write(ws, client)), asyncio.create_task(_read(ws, client)),
                 asyncio.create_task(_watch_session(request, token, client)),
                 asyncio.create_task(client.closed.wait())}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if client.closed.is_set():
            code = {SESSION_ENDED_REASON: CLOSE_SESSION_ENDED, STOPPING_REASON: WSCloseCode.GOING_AWAY}.get(
                client.close_reason, CLOSE_TOO_SLOW)
            await ws.close(code=code, message=client.close_reason.encode())
    finally:
        hub.remove(client)
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
    return ws


async def _write(ws: web.WebSocketResponse, client: LiveClient) -> None:
    """Send queued messages, in order, until cancelled or the socket goes."""
    while not ws.closed:
        await ws.send_str(await client.queue.get())


async def _read(ws: web.WebSocketResponse, client: LiveClient) -> None:
    """The page sends nothing but pings; reading notices the close.

    A pong goes through the tab's queue like any message, so it also says "everything for you
    before this ping has been sent" (the tests rely on it to prove a tab received nothing).
    """
    async for message in ws:
        if message.type is WSMsgType.TEXT and message.data == "ping":
            try:
                client.queue.put_nowait(PONG)
            except asyncio.QueueFull:
                client.close(TOO_SLOW_REASON)
        elif message.type is WSMsgType.ERROR:
            return


async def _watch_session(request: web.Request, token: str, client: LiveClient) -> None:
    """Close the tab when its session times out or is revoked elsewhere (logout closes it at once)."""
    web_settings = request.app[SETTINGS].web
    while True:
        await asyncio.sleep(SESSION_CHECK_S)
        alive = await sessions.session_manager_id(request.app[POOL], token, idle_s=web_settings.session_idle_s,
                                                  max_age_s=web_settings.session_max_age_s)
        if alive != client.manager_id:
            client.close(SESSION_ENDED_REASON)
            return


async def end_sessions(app: web.Application, manager_id: int, token: str | None) -> None:
    """Close the live tabs of one session (`token`) or of all the manager's sessions, on every instance."""
    message: dict[str, Any] = {"type": SESSION_ENDED, "sessions": [] if token is None else [session_hash(token)]}
    try:
        await app[BUS].publish(Audience(frozenset({manager_id})), message)
    except Exception:  # logout must work with the live channel down; the periodic check closes the tabs
        log.exception("could not tell the live tabs of manager %d that their session ended", manager_id)


async def _close_tabs(app: web.Application) -> None:
    app[HUB].close_all(STOPPING_REASON)


def setup(app: web.Application, hub: LiveHub, bus: LiveBus, publisher: LivePublisher | None) -> None:
    app[HUB] = hub
    app.on_shutdown.append(_close_tabs)
    app[BUS] = bus
    if publisher is not None:
        app[PUBLISHER] = publisher
    app.router.add_get("/live", live)
