"""Transcription settings (admins): the engine in force, the backlog with the time it will take at the recent
pace, failed transcriptions with their errors (retry them all), and the keywords that alert supervisors."""

from __future__ import annotations

import re

from aiohttp import web

from crm.errors import InvalidInput
from crm.transcripts import data
from web.errors import error_message
from web.jobs.transcription import requeue
from web.keys import JOBS, POOL, SETTINGS, require_role
from web.pages.forms import redirect, text
from web.render import render

_KEYWORD = re.compile(r"^[а-яёa-z0-9-]{3,40}$")
MAX_KEYWORDS = 200


def parse_keywords(raw: str) -> list[str]:
    """One keyword per line or comma: lower case, 3 to 40 letters, digits or hyphens each."""
    words = [w.strip().lower() for w in re.split(r"[\n,;]+", raw) if w.strip()]
    bad = [w for w in words if not _KEYWORD.match(w)]
    if bad:
        raise InvalidInput(f"keywords: one word each, 3 to 40 letters: {', '.join(bad[:5])}")
    if len(words) > MAX_KEYWORDS:
        raise InvalidInput(f"keywords: at most {MAX_KEYWORDS}")
    return list(dict.fromkeys(words))


async def _page(request: web.Request, *, error: str | None = None, status: int = 200,
                keywords: str | None = None) -> web.Response:
    pool = request.app[POOL]
    return render("transcripts/settings.html", request, {
        "settings": request.app[SETTINGS].transcription, "backlog": await data.backlog(pool),
        "failures": await data.failures(pool), "error": error,
        "keywords": keywords if keywords is not None else "\n".join(await data.keywords(pool))}, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    return await _page(request)


async def save_keywords(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    form = await request.post()
    raw = text(form, "keywords")
    try:
        words = parse_keywords(raw)
    except InvalidInput as exc:
        return await _page(request, error=error_message(request, exc), status=422, keywords=raw)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM transcript_keywords WHERE NOT (word = ANY($1))", words)
        await conn.executemany("INSERT INTO transcript_keywords (word) VALUES ($1) ON CONFLICT DO NOTHING",
                               [(w,) for w in words])
    raise redirect("/settings/transcription")


async def retry_failed(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    pool = request.app[POOL]
    await pool.execute("UPDATE transcripts SET state = 'queued', attempts = 0, error = '' WHERE state = 'failed'")
    jobs = request.app.get(JOBS)
    if jobs is not None:
        await requeue(jobs, pool)
    raise redirect("/settings/transcription")


def setup(app: web.Application) -> None:
    app.router.add_get("/settings/transcription", page)
    app.router.add_post("/settings/transcription/keywords", save_keywords)
    app.router.add_post("/settings/transcription/retry", retry_failed)
