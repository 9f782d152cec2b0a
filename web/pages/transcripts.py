"""Transcripts on the panel: one call's text under its player (segments seek the player), the search page,
and the follow-ups the operator promised, to confirm or dismiss. Scope: who may play the recording."""

from __future__ import annotations

from datetime import datetime, time

from aiohttp import web

from crm.errors import CrmError
from crm.recordings import get_recording
from crm.transcripts import suggestions, view
from web.errors import error_message
from web.keys import POOL, SETTINGS, current_user
from web.pages.forms import path_int, query_int, redirect, safe_next, shop_zone
from web.render import render

PAGE_SIZE = 30


def clock(seconds: float) -> str:
    """12.7 -> '0:12'; 3725 -> '1:02:05' (what a player shows)."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


async def transcript_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    shown = await view.get(pool, path_int(request, "transcript_id"), user)
    return render("transcripts/view.html", request, {
        "t": shown, "clock": clock, "suggestions": await suggestions.open_for(pool, user, transcript_id=shown.id)})


async def recording_transcript(request: web.Request) -> web.StreamResponse:
    """The player's "Transcript" link: the call's transcript (of this recording, or of the one of its call that
    was transcribed, e.g. the stereo one beside a mixed file), else why there is none yet."""
    user = current_user(request)
    pool = request.app[POOL]
    recording = await get_recording(pool, path_int(request, "recording_id"), user)
    transcript_id = await view.of_call(pool, recording.id)
    if transcript_id is not None:
        raise redirect(f"/transcripts/{transcript_id}")
    return render("transcripts/none.html", request, {
        "recording": recording, "enabled": request.app[SETTINGS].transcription.enabled}, status=404)


def _since(request: web.Request) -> datetime | None:
    raw = request.query.get("since", "")
    if not raw:
        return None
    try:
        return datetime.combine(datetime.fromisoformat(raw).date(), time(), shop_zone(request.app))
    except ValueError:
        raise web.HTTPBadRequest(text="since: a date like 2026-12-01") from None


async def search_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    text = request.query.get("q", "").strip()
    offset = max(query_int(request, "offset"), 0)
    hits: list[view.Hit] = []
    error = None
    if text:
        try:
            hits = await view.search(request.app[POOL], text, user, since=_since(request), limit=PAGE_SIZE + 1,
                                     offset=offset)
        except CrmError as exc:
            error = error_message(request, exc)
    return render("transcripts/search.html", request, {
        "q": text, "since": request.query.get("since", ""), "hits": hits[:PAGE_SIZE], "has_more": len(hits) > PAGE_SIZE,
        "offset": offset, "page_size": PAGE_SIZE, "error": error, "clock": clock, "parts": view.marked_parts},
        status=422 if error else 200)


async def accept_suggestion(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await suggestions.accept(request.app[POOL], path_int(request, "suggestion_id"), current_user(request))
    raise redirect(safe_next(str(form.get("next", "")), "/tasks"))


async def dismiss_suggestion(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await suggestions.dismiss(request.app[POOL], path_int(request, "suggestion_id"), current_user(request))
    raise redirect(safe_next(str(form.get("next", "")), "/tasks"))


def setup(app: web.Application) -> None:
    app.router.add_get(r"/transcripts/{transcript_id:\d+}", transcript_page)
    app.router.add_get(r"/recordings/{recording_id:\d+}/transcript", recording_transcript)
    app.router.add_get("/search/transcripts", search_page)
    app.router.add_post(r"/task-suggestions/{suggestion_id:\d+}/accept", accept_suggestion)
    app.router.add_post(r"/task-suggestions/{suggestion_id:\d+}/dismiss", dismiss_suggestion)
