"""Customer notices administration (admins): the texts per order status and for a missed call, the shop's
name, quiet hours, and the last notices with how they went.

One form holds the whole page and is saved at once; a refused one comes back as typed, with the
reason. The gateway itself is the environment's (PEREZVON_NOTICE_GATEWAY): the page only says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from crm import orders
from crm.errors import InvalidInput
from crm.notices import data
from crm.notices.data import NoticeConfig
from crm.notices.policy import QuietHours, parse_local_time
from crm.notices.text import MISSED_PLACEHOLDERS, STATUS_PLACEHOLDERS
from crm.phones import format_phone
from web.errors import error_message
from web.keys import POOL, SETTINGS, require_role
from web.pages.forms import Form, checkbox, redirect, text
from web.render import render

PATH = "/settings/notices"


@dataclass(frozen=True)
class FormValues:
    """The form's fields as text: from the stored settings, or as the admin typed them."""

    shop_name: str = ""
    quiet_enabled: bool = True
    quiet_start: str = "21:00"
    quiet_end: str = "09:00"
    missed_enabled: bool = False
    missed_template: str = ""
    templates: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: NoticeConfig) -> FormValues:
        return cls(config.shop_name, config.quiet.enabled, config.quiet.start.strftime("%H:%M"),
                   config.quiet.end.strftime("%H:%M"), config.missed_enabled, config.missed_template,
                   dict(config.templates))

    @classmethod
    def posted(cls, form: Form, codes: tuple[str, ...]) -> FormValues:
        return cls(text(form, "shop_name"), checkbox(form, "quiet_enabled"), text(form, "quiet_start"),
                   text(form, "quiet_end"), checkbox(form, "missed_enabled"), text(form, "missed_template"),
                   {code: text(form, f"template_{code}") for code in codes})

    def config(self) -> NoticeConfig:
        quiet = QuietHours(parse_local_time(self.quiet_start, "quiet hours start"),
                           parse_local_time(self.quiet_end, "quiet hours end"), self.quiet_enabled)
        return NoticeConfig(self.shop_name, quiet, self.missed_enabled, self.missed_template, self.templates)


async def _page(request: web.Request, values: FormValues | None = None, *, error: str | None = None,
                status: int = 200) -> web.Response:
    pool = request.app[POOL]
    settings = request.app[SETTINGS]
    workflow = await orders.load_workflow(pool)
    return render("notices/settings.html", request, {
        "values": values or FormValues.of(await data.load_config(pool)), "statuses": workflow.statuses,
        "notices": await data.recent(pool), "gateway": settings.notices.gateway, "timezone": settings.crm.timezone,
        "missed_placeholders": MISSED_PLACEHOLDERS, "status_placeholders": STATUS_PLACEHOLDERS,
        "max_attempts": data.MAX_ATTEMPTS, "format_phone": format_phone, "error": error,
        "saved": request.query.get("saved") == "1"}, status=status)


async def settings_page(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    return await _page(request)


async def save(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    pool = request.app[POOL]
    codes = tuple(s.code for s in (await orders.load_workflow(pool)).statuses)
    values = FormValues.posted(await request.post(), codes)
    try:
        await data.save_config(pool, values.config())
    except InvalidInput as exc:
        return await _page(request, values, error=error_message(request, exc), status=exc.http_status)
    raise redirect(f"{PATH}?saved=1")


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, settings_page)
    app.router.add_post(PATH, save)
