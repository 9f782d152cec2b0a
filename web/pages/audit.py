"""The audit page (supervisors and admins): missed calls and callbacks for a range of days, with charts
and exports (CSV and XLSX of the never-called-back list and of the per-manager table)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from openpyxl import Workbook

from crm import audit
from crm.audit import Audit
from web.audit_charts import charts
from web.keys import CATALOGUES, POOL, SETTINGS, require_role
from web.pages import self_check
from web.pages.forms import shop_zone
from web.render import locale_of, render

DEFAULT_DAYS = 7
MAX_DAYS = 366
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def audit_range(request: web.Request) -> tuple[date, date]:
    """[from, to] days from the query (the shop's calendar), default the last 7 days; a bad one is a 400."""
    zone = shop_zone(request.app)
    today = datetime.now(zone).date()
    try:
        to_day = date.fromisoformat(request.query["to"]) if request.query.get("to") else today
        from_day = (date.fromisoformat(request.query["from"]) if request.query.get("from")
                    else to_day - timedelta(days=DEFAULT_DAYS - 1))
    except ValueError:
        raise web.HTTPBadRequest(text="from / to: dates like 2026-12-01") from None
    if from_day > to_day or (to_day - from_day).days > MAX_DAYS or from_day.year < 2000 or to_day.year > 2100:
        raise web.HTTPBadRequest(text=f"from / to: a range of 1 to {MAX_DAYS} days")
    return from_day, to_day


async def load_audit(request: web.Request) -> tuple[Audit, date, date]:
    from_day, to_day = audit_range(request)
    zone = shop_zone(request.app)
    start = datetime.combine(from_day, time(), zone)
    end = datetime.combine(to_day + timedelta(days=1), time(), zone)
    return await audit.missed_calls_audit(request.app[POOL], start, end,
                                          zone=request.app[SETTINGS].crm.timezone), from_day, to_day


async def audit_page(request: web.Request) -> web.StreamResponse:
    require_role(request, "supervisor", "admin")
    figures, from_day, to_day = await load_audit(request)
    locale = locale_of(request)

    def _(key: str) -> str:
        return request.app[CATALOGUES].gettext(locale, key)

    titles = {"hours": _("Missed calls by hour of day"), "weekdays": _("Missed calls by weekday"),
              "delays": _("Time to callback"), "managers": _("Calls per manager"), "missed": _("Missed"),
              "reached": _("Called back"), "taken": _("Taken"), "missed_assigned": _("Missed, callback theirs")}
    zone = shop_zone(request.app)
    funnel = await audit.sales_funnel(request.app[POOL], datetime.combine(from_day, time(), zone),
                                      datetime.combine(to_day + timedelta(days=1), time(), zone))
    context: dict[str, Any] = {"audit": figures, "from_day": from_day.isoformat(), "to_day": to_day.isoformat(),
                               "funnel": funnel, "runs": await self_check.results(request, self_check.ON_AUDIT_PAGE),
                               "charts": charts(figures, titles, locale), "now": datetime.now(shop_zone(request.app))}
    return render("audit/page.html", request, context)


def _never_rows(figures: Audit) -> list[list[Any]]:
    return [["phone", "customer", "missed calls", "first missed at", "assignee"],
            *([n.phone, n.customer_name or "", n.missed_calls, n.first_missed_at.isoformat(), n.assignee_name or ""]
              for n in figures.never_called_back)]


def _manager_rows(figures: Audit) -> list[list[Any]]:
    return [["manager", "calls taken", "missed while assigned", "callbacks on time", "callbacks late", "overdue now"],
            *([m.name, m.taken, m.missed_while_assigned, m.callbacks_on_time, m.callbacks_late, m.overdue_now]
              for m in figures.by_manager)]


def _rows(figures: Audit, kind: str) -> list[list[Any]]:
    if kind == "missed":
        return _never_rows(figures)
    if kind == "managers":
        return _manager_rows(figures)
    raise web.HTTPNotFound()


async def export(request: web.Request) -> web.StreamResponse:
    """`/audit/{missed|managers}.{csv|xlsx}` for the same range as the page."""
    require_role(request, "supervisor", "admin")
    figures, from_day, to_day = await load_audit(request)
    kind, fmt = request.match_info["kind"], request.match_info["format"]
    rows = _rows(figures, kind)
    name = f"perezvon-{kind}-{from_day.isoformat()}-{to_day.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows([[_cell(v) for v in row] for row in rows])
        return web.Response(body=("\ufeff" + out.getvalue()).encode(), content_type="text/csv", charset="utf-8",
                            headers=headers)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = kind
    for row in rows:
        sheet.append([_cell(v) for v in row])
    data = io.BytesIO()
    book.save(data)
    return web.Response(body=data.getvalue(), content_type=XLSX, headers=headers)


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is kept as text (CSV/XLSX injection): a customer's name
    like `=HYPERLINK(...)`; a phone number (`+7...`) is left as it is."""
    if isinstance(value, str) and value[:1] in ("=", "@", "+", "-", "\t", "\r") and not value[1:].isdigit():
        return "'" + value
    return value


def setup(app: web.Application) -> None:
    app.router.add_get("/audit", audit_page)
    app.router.add_get(r"/audit/{kind:missed|managers}.{format:csv|xlsx}", export)
