"""The call result over the API: the disposition codes, and `POST /api/v1/calls/{linkedid}/result`.

The screen-pop's form posts here (session + CSRF header); integrations may too (bearer token).
The body: `disposition` (a code), `note` (text for the customer's notes), `task` (`{"title", "due_at",
"kind"}`: a follow-up assigned to the caller); at least one of them.
"""

from __future__ import annotations

from aiohttp import web

from crm import call_results
from crm.call_results import FollowUp
from crm.models import TaskKind
from web.api.json_io import Body, json_response
from web.keys import POOL, current_user
from web.live import announce

FIELDS = ("disposition", "note", "task")
TASK_FIELDS = ("title", "due_at", "kind")
TASK_KINDS_ALLOWED: tuple[TaskKind, ...] = ("callback", "follow_up")


async def list_dispositions(request: web.Request) -> web.Response:
    current_user(request)
    codes = await call_results.list_dispositions(request.app[POOL])
    return json_response({"items": [{"code": d.code, "title_ru": d.title_ru, "title_en": d.title_en}
                                    for d in codes]})


def _follow_up(body: Body) -> FollowUp | None:
    task = body.opt_object("task", TASK_FIELDS)
    if task is None:
        return None
    return FollowUp(title=task.text("title"), due_at=task.opt_datetime("due_at"),
                    kind=task.choice("kind", TASK_KINDS_ALLOWED, "callback"))


async def record_result(request: web.Request) -> web.Response:
    user = current_user(request)
    body = await Body.read(request, FIELDS)
    result = await call_results.record_result(
        request.app[POOL], request.match_info["linkedid"], user, disposition=body.opt_text("disposition"),
        note=body.opt_text("note"), follow_up=_follow_up(body))
    if result.task is not None:
        await announce.tasks_changed(request.app, result.task.assignee_id)
    return json_response({"disposition": result.disposition,
                          "note_id": result.note.id if result.note else None,
                          "task_id": result.task.id if result.task else None})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/call-dispositions", list_dispositions, allow_head=False)
    router.add_post(r"/api/v1/calls/{linkedid:[A-Za-z0-9._-]{1,64}}/result", record_result)
