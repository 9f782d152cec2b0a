"""Rendering pages: every template gets the user, their language, the CSRF token and `_`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from web.keys import CATALOGUES, CSRF, SETTINGS, USER


def locale_of(request: web.Request) -> str:
    user = request.get(USER)
    return user.locale if user is not None else request.app[SETTINGS].web.default_locale


def base_context(request: web.Request) -> dict[str, Any]:
    locale = locale_of(request)
    catalogues = request.app[CATALOGUES]

    def translate(key: str) -> str:
        return catalogues.gettext(locale, key)

    return {"user": request.get(USER), "locale": locale, "csrf_token": request.get(CSRF, ""), "_": translate,
            "request": request}


def render(template: str, request: web.Request, context: Mapping[str, Any] | None = None, *,
           status: int = 200) -> web.Response:
    """Render `template` with the base context plus `context` (autoescaped HTML)."""
    return aiohttp_jinja2.render_template(template, request, {**base_context(request), **(context or {})},
                                          status=status)
