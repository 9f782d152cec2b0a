"""`GET /api/v1/search/transcripts?q=`: what was said in calls, each hit a segment with the moment to play."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from crm.errors import InvalidInput
from crm.transcripts import view
from web.api.json_io import json_response
from web.keys import POOL, current_user
from web.pages.forms import query_int


def _since(request: web.Request) -> datetime | None:
    raw = request.query.get("since", "")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("since: an ISO 8601 moment with its offset, e.g. 2026-12-01T00:00:00+03:00") from None
    if moment.tzinfo is None:
        raise InvalidInput("since: an ISO 8601 moment with its offset, e.g. 2026-12-01T00:00:00+03:00")
    return moment


async def search(request: web.Request) -> web.Response:
    limit = min(max(query_int(request, "limit", 50), 1), 200)
    offset = max(query_int(request, "offset"), 0)
    hits = await view.search(request.app[POOL], request.query.get("q", ""), current_user(request),
                             since=_since(request), limit=limit + 1, offset=offset)
    return json_response({
        "items": [{"transcript_id": h.transcript_id, "recording_id": h.recording_id, "call": h.linkedid,
                   "call_started_at": h.call_started_at.isoformat(), "customer_id": h.customer_id,
                   "order_number": h.order_number, "at_s": round(h.start_s, 1), "speaker": h.speaker,
                   "text": h.text, "url": f"/transcripts/{h.transcript_id}#t={h.start_s}"} for h in hits[:limit]],
        "has_more": len(hits) > limit})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/search/transcripts", search, allow_head=False)
