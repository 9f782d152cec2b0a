"""The calls journal page: every call with its outcome and legs, filtered, paged, role-scoped.

Supervisors and admins see all calls and may pick a manager; operators see only the calls
they took or placed, or that rang their phone (the scoping itself is in `crm.calls`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from crm import calls, managers
from crm.calls import CallFilter
from crm.models import CALL_DIRECTIONS, CALL_OUTCOMES, Manager
from crm.validation import year_in_range
from web.keys import POOL, SETTINGS, current_user
from web.pages.forms import query_int, shop_zone
from web.render import render

PAGE_SIZE = 50


def form_day(raw: str, zone: tzinfo, label: str, errors: list[str]) -> datetime | None:
    """Midnight of a `YYYY-MM-DD` day in the shop's zone; a bad value is reported and ignored."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = datetime.combine(date.fromisoformat(raw[:10]), time(), zone)
    except ValueError:
        errors.append(f"{label}: {raw[:20]!r}")
        return None
    if not year_in_range(day):
        errors.append(f"{label}: {raw[:20]!r}")
        return None
    return day


def journal_filter(request: web.Request, user: Manager) -> tuple[CallFilter, dict[str, str], list[str]]:
    """The filter from the query string, the values the form shows again, and unreadable values."""
    query = request.query
    zone = shop_zone(request.app)
    errors: list[str] = []
    started_from = form_day(query.get("from", ""), zone, "from", errors)
    to_day = form_day(query.get("to", ""), zone, "to", errors)
    outcome = next((o for o in CALL_OUTCOMES if o == query.get("outcome")), None)
    direction = next((d for d in CALL_DIRECTIONS if d == query.get("direction")), None)
    manager_raw = query.get("manager", "")
    manager_id = int(manager_raw) if user.sees_everything and manager_raw.isascii() and manager_raw.isdigit() \
        and len(manager_raw) <= 18 else None
    flt = CallFilter(started_from=started_from,
                     started_before=None if to_day is None else to_day + timedelta(days=1),
                     outcome=outcome, direction=direction, manager_id=manager_id)
    shown = {"from": started_from.date().isoformat() if started_from else "",
             "to": to_day.date().isoformat() if to_day else "", "outcome": outcome or "",
             "direction": direction or "", "manager": "" if manager_id is None else str(manager_id)}
    return flt, shown, errors


async def journal(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    flt, shown, errors = journal_filter(request, user)
    offset = query_int(request, "offset")
    page = await calls.list_calls(pool, user, flt, limit=PAGE_SIZE, offset=offset,
                                  default_region=request.app[SETTINGS].crm.default_region)
    staff = await managers.list_managers(pool) if user.sees_everything else []
    context: dict[str, Any] = {
        "calls": page.items, "has_more": page.has_more, "offset": offset, "page_size": PAGE_SIZE,
        "filter": shown, "query": urlencode({k: v for k, v in shown.items() if v}), "errors": errors,
        "managers": staff, "outcomes": CALL_OUTCOMES, "directions": CALL_DIRECTIONS,
    }
    return render("calls/list.html", request, context)


def setup(app: web.Application) -> None:
    """Register the calls journal (`GET /calls`)."""
    app.router.add_get("/calls", journal)
