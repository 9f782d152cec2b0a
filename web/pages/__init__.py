"""Server-rendered pages of the operator panel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import aiohttp_jinja2
from aiohttp import web
from jinja2 import pass_context
from jinja2.runtime import Context

from web.error_text import translate
from web.keys import CATALOGUES, SETTINGS
from web.pages import (
    account,
    alerts,
    audit,
    callback_settings,
    calls,
    customers,
    dispositions_admin,
    home,
    jobs_admin,
    locale,
    managers_admin,
    notices_admin,
    order_list,
    orders,
    pbx_gaps,
    presence,
    recordings,
    routing_admin,
    self_check,
    transcription_admin,
    transcripts,
    webhooks_admin,
)
from web.pages import tasks as task_pages
from web.pages.forms import shop_zone

#: Amounts are below 10^12 since issue 9; a larger one (stored before) is shown as "?", never expanded
#: (`1e200000000` written out is a 200 MB string).
MONEY_SHOWN_BELOW = Decimal("1e15")


def money(value: Decimal | int | float | str) -> str:
    """`12345.5` -> `12 345.50`: thin spaces between thousands read well in both languages."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return "?"
    if not amount.is_finite() or amount.copy_abs() >= MONEY_SHOWN_BELOW:  # copy_abs: no rounding, no Overflow
        return "?"
    return f"{amount:,.2f}".replace(",", "\u202f")


def _setup_filters(app: web.Application) -> None:
    zone = shop_zone(app)

    def when(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).strftime("%d.%m.%Y %H:%M")

    def local_input(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")

    @pass_context
    def error_text(context: Context, message: str | None) -> str:
        """A refusal shown on a page, in the page's language (`web.error_text`); '' for no error.

        The pages translate a CrmError's message with its slug already; this catches any other
        refusal a template shows, and leaves text that is already Russian as it is.
        """
        if not message:
            return ""
        locale = str(context.get("locale") or app[SETTINGS].web.default_locale)
        return translate(str(message), "", locale, app[CATALOGUES].texts.get(locale))

    env = aiohttp_jinja2.get_env(app)
    env.filters["error_text"] = error_text
    env.filters["when"] = when
    env.filters["local_input"] = local_input
    env.filters["money"] = money


def setup(app: web.Application) -> None:
    """Register every page route and the template filters the pages use."""
    _setup_filters(app)
    home.setup(app)
    locale.setup(app)
    presence.setup(app)
    customers.setup(app)
    orders.setup(app)
    order_list.setup(app)
    task_pages.setup(app)
    managers_admin.setup(app)
    dispositions_admin.setup(app)
    jobs_admin.setup(app)
    webhooks_admin.setup(app)
    recordings.setup(app)
    notices_admin.setup(app)
    calls.setup(app)
    pbx_gaps.setup(app)
    routing_admin.setup(app)
    account.setup(app)
    alerts.setup(app)
    audit.setup(app)
    self_check.setup(app)
    callback_settings.setup(app)
    transcripts.setup(app)
    transcription_admin.setup(app)
