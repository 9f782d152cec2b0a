"""`GET /api/v1/reports/missed-calls?from=&to=`: the audit's figures as JSON; `GET /api/v1/reports/self-checks`:
the self-check calls' results (supervisors and admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crm.self_check import runs
from web.api.json_io import json_response
from web.keys import POOL, require_role
from web.pages.audit import load_audit


async def missed_calls(request: web.Request) -> web.Response:
    require_role(request, "supervisor", "admin")
    figures, from_day, to_day = await load_audit(request)
    body: dict[str, Any] = {
        "from": from_day.isoformat(), "to": to_day.isoformat(), "inbound": figures.inbound,
        "answered": figures.answered, "missed": figures.missed, "missed_rate": round(figures.missed_rate, 4),
        "missed_by_reason": figures.missed_by_reason,
        "callbacks": {"tasks": figures.callback_tasks, "reached": figures.reached,
                      "reached_on_time": figures.reached_on_time, "on_time_share": round(figures.on_time_share, 4),
                      "median_s": None if figures.callback_median_s is None else round(figures.callback_median_s),
                      "p90_s": None if figures.callback_p90_s is None else round(figures.callback_p90_s)},
        "by_number": [{"did": r.key, "label": r.label, "inbound": r.inbound, "answered": r.answered,
                       "missed": r.missed} for r in figures.by_number],
        "by_channel": [{"channel": r.key, "inbound": r.inbound, "answered": r.answered, "missed": r.missed}
                       for r in figures.by_channel],
        "by_manager": figures.by_manager,
        "never_called_back": figures.never_called_back,
        "answer_speed": [{"ring": label, "calls": n} for label, n in figures.answer_speed],
        "queued": figures.queued, "abandoned_in_queue": figures.abandoned_in_queue,
        "missed_per_hour": figures.missed_per_hour, "missed_per_weekday": figures.missed_per_weekday,
    }
    return json_response(body)


async def self_checks(request: web.Request) -> web.Response:
    require_role(request, "supervisor", "admin")
    return json_response({"items": [
        {"id": r.id, "scheduled_for": r.slot.isoformat() if r.slot else None, "created_at": r.created_at.isoformat(),
         "state": r.state, "error": r.error, "ring_s": None if r.ring_s is None else round(r.ring_s, 1),
         "callback_task_id": r.callback_task_id, "callback": r.callback or None}
        for r in await runs.recent_runs(request.app[POOL], datetime.now(UTC))]})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/reports/missed-calls", missed_calls, allow_head=False)
    router.add_get("/api/v1/reports/self-checks", self_checks, allow_head=False)
