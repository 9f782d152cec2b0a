"""Recordings in the panel: playback by id (with seeking), download and keep for supervisors, the admins' page.

`GET /recordings/{id}` serves the file with HTTP range requests (aiohttp's FileResponse answers
`Range: bytes=...` with 206), so the player seeks without fetching the whole call. Whoever may not play
it (crm.recordings: the call's scope) gets the same 404 as for an id that does not exist. Files are
found from the row's stored path, inside the storage (or archive) directory, never from the URL.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import stat
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from crm import recordings as rows
from crm.errors import AccessDenied, NotFound
from crm.models import Call, Manager
from recordings.storage import UnsafePath
from recordings.store import RecordingStore
from web.keys import POOL, SETTINGS, current_user, require_role
from web.pages.forms import path_int, redirect, safe_next, text
from web.render import render

log = logging.getLogger(__name__)

RECORDINGS = web.AppKey("recordings", RecordingStore)


def _file(store: RecordingStore, recording: rows.Recording) -> Path:
    """The recording's file; NotFound when its stored path is unsafe (logged: someone edited the row) or the
    file is not a plain file where it should be."""
    try:
        path = store.file_of(recording.state, recording.path)
        info = path.lstat()
    except UnsafePath:
        log.error("recording %d: stored path %r refused", recording.id, recording.path)
        raise NotFound(f"no recording {recording.id}") from None
    except FileNotFoundError:
        log.error("recording %d: its file %s is missing", recording.id, recording.path)
        raise NotFound(f"the file of recording {recording.id} is missing") from None
    if not stat.S_ISREG(info.st_mode):
        log.error("recording %d: %s is not a plain file", recording.id, recording.path)
        raise NotFound(f"no recording {recording.id}")
    return path


async def play(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    recording_id = path_int(request, "recording_id")
    recording = await rows.get_recording(request.app[POOL], recording_id, user)
    if recording.state == "deleted":
        raise NotFound(f"recording {recording_id} was deleted by the retention")
    download = request.query.get("download") == "1"
    if download and not user.sees_everything:
        raise AccessDenied("only supervisors may download recordings")
    path = await asyncio.to_thread(_file, request.app[RECORDINGS], recording)
    disposition = "attachment" if download else "inline"
    name = f"call-{recording.linkedid}{'' if recording.kind == 'mixed' else '-' + recording.kind}.wav"
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Content-Disposition": f'{disposition}; filename="{name}"'})


async def keep(request: web.Request) -> web.StreamResponse:
    user = require_role(request, "supervisor", "admin")
    form = await request.post()
    await rows.set_keep(request.app[POOL], path_int(request, "recording_id"), text(form, "keep") == "1", user.id)
    raise redirect(safe_next(text(form, "next", "/calls"), "/calls"))


async def admin_page(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    pool = request.app[POOL]
    store = request.app[RECORDINGS]
    figures, problems, flagged = await asyncio.gather(rows.figures(pool), rows.open_problems(pool),
                                                      rows.flagged_calls(pool))
    disk = await asyncio.to_thread(_disk, store.paths.storage)
    settings = store.settings
    context: dict[str, Any] = {
        "figures": figures, "problems": problems, "flagged": flagged, "paths": store.paths, "settings": settings,
        "disk": disk, "limit_bytes": settings.disk_limit_bytes,
        "stored": figures.by_state.get("stored", (0, 0)), "archived": figures.by_state.get("archived", (0, 0)),
        "deleted": figures.by_state.get("deleted", (0, 0)),
    }
    return render("recordings/admin.html", request, context)


def _disk(path: Path) -> tuple[int, int] | None:
    """(total, free) bytes of the disk the store is on; None when the directory is not there."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return usage.total, usage.free


def may_play(user: Manager, call: Call, customer_manager_id: int | None = None) -> bool:
    """Whether the page should show the call's player (the server checks again on playback)."""
    return rows.may_play(user, call.manager_id, tuple(leg.manager_id for leg in call.legs), customer_manager_id)


def size(value: int | None) -> str:
    """Bytes for people: 1.5 MB, 820 KB."""
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"


def setup(app: web.Application) -> None:
    """Register playback, keep and the admins' page; the store is made from the service's settings."""
    settings = app[SETTINGS]
    app[RECORDINGS] = RecordingStore.from_settings(settings.recordings, settings.database.data_dir)
    env = aiohttp_jinja2.get_env(app)
    env.globals["may_play"] = may_play
    env.filters["size"] = size
    app.router.add_get("/recordings/{recording_id:\\d+}", play)
    app.router.add_post("/recordings/{recording_id:\\d+}/keep", keep)
    app.router.add_get("/settings/recordings", admin_page)
