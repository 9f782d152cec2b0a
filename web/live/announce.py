"""Tell open tabs that something they show changed, from the HTTP handlers that changed it.

The message only says what kind of list changed (tasks, presence); the tab reloads that part of
its page itself, so what it shows is always what the server renders for that user, with its scope.
A failure here never fails the request that made the change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from web.live.hub import Audience
from web.live.websocket import BUS

log = logging.getLogger(__name__)


async def announce(app: web.Application, audience: Audience, message: Mapping[str, Any]) -> None:
    try:
        await app[BUS].publish(audience, message)
    except Exception:
        log.exception("could not announce %s to the live tabs", message.get("type"))


async def tasks_changed(app: web.Application, *manager_ids: int | None) -> None:
    """A task was created, completed or reassigned: its assignee's tabs and the supervisors' refresh."""
    ids = frozenset(m for m in manager_ids if m is not None)
    await announce(app, Audience(ids, supervisors=True), {"type": "tasks.changed"})


async def presence_changed(app: web.Application, manager_id: int) -> None:
    """Someone went online / away / offline: the supervisors' team view and their own other tabs refresh."""
    await announce(app, Audience(frozenset({manager_id}), supervisors=True), {"type": "presence.changed"})
