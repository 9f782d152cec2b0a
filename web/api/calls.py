"""Calls over the API: the call journal as JSON, with the same filters and role scoping as the page.

`GET /api/v1/calls?phone=8 916 111-00-01&outcome=missed&since=2025-01-31T09:00:00+03:00` lists the
matching calls newest first, each with its legs. Operators get only their own calls.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from aiohttp import web

from crm import calls
from crm.calls import CallFilter
from crm.models import CALL_DIRECTIONS, CALL_OUTCOMES, Call, Page
from crm.validation import MAX_YEAR, MIN_YEAR, year_in_range
from web.api.json_io import MAX_ID, invalid, page_response, paging, query_choice, to_json
from web.keys import POOL, SETTINGS, current_user
from web.pages.forms import shop_zone

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def day_param(request: web.Request, name: str, zone: tzinfo) -> datetime | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        day = datetime.combine(date.fromisoformat(raw), time(), zone)
    except ValueError:
        raise invalid(f"{name}: a date like 2025-01-31") from None
    if not year_in_range(day):
        raise invalid(f"{name}: a date between {MIN_YEAR} and {MAX_YEAR}")
    return day


def moment_param(request: web.Request, zone: tzinfo, name: str = "since") -> datetime | None:
    """An ISO 8601 moment; a date alone or a time without an offset is read in the shop's zone."""
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw) if len(raw) > 10 else datetime.combine(date.fromisoformat(raw), time())
    except ValueError:
        raise invalid(f"{name}: not an ISO 8601 date-time: {raw[:40]!r}") from None
    if not year_in_range(moment):
        raise invalid(f"{name}: a date between {MIN_YEAR} and {MAX_YEAR}")
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def manager_param(request: web.Request) -> int | None:
    """`manager`: a manager id or `me`; None when absent."""
    raw = request.query.get("manager", "")
    if raw == "":
        return None
    if raw == "me":
        return current_user(request).id
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    raise invalid("manager: a manager id or 'me'")


def call_filter(request: web.Request) -> CallFilter:
    """The filters from the query string; a wrong value is a 422 naming the parameter."""
    zone = shop_zone(request.app)
    starts = [d for d in (day_param(request, "from", zone), moment_param(request, zone)) if d is not None]
    to_day = day_param(request, "to", zone)
    phone = request.query.get("phone", "")
    return CallFilter(
        started_from=max(starts) if starts else None,
        started_before=None if to_day is None else to_day + timedelta(days=1),
        outcome=query_choice(request, "outcome", CALL_OUTCOMES),
        direction=query_choice(request, "direction", CALL_DIRECTIONS),
        manager_id=manager_param(request), phone=phone or None)


#: Durations the API gives in whole seconds (the PBX measures to the millisecond; people and reports
#: count seconds).
DURATIONS = ("ring_s", "talk_s", "queue_hold_s")


def whole_seconds(value: float | None) -> int | None:
    """Seconds rounded half up (2.5 s is 3 s); None stays None."""
    return None if value is None else int(value + 0.5)


def call_json(call: Call) -> dict[str, Any]:
    """A call as the API shows it: durations in whole seconds, on the call and on each leg."""
    data: dict[str, Any] = to_json(call)
    for key in DURATIONS:
        data[key] = whole_seconds(data[key])
    for leg in data["legs"]:
        leg["ring_s"] = whole_seconds(leg["ring_s"])
    return data


async def list_calls(request: web.Request) -> web.Response:
    viewer = current_user(request)
    limit, offset = paging(request, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)
    page = await calls.list_calls(request.app[POOL], viewer, call_filter(request), limit=limit, offset=offset,
                                  default_region=request.app[SETTINGS].crm.default_region)
    return page_response(Page(items=tuple(call_json(c) for c in page.items), has_more=page.has_more), limit, offset)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/calls", list_calls, allow_head=False)


def setup(app: web.Application) -> None:
    """Register `GET /api/v1/calls`."""
    add_routes(app.router)
