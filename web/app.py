"""The aiohttp application: middlewares, templates, and every package's routes in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from crm import database
from crm.database import Pool
from crm.phones import format_phone
from web import api, pages
from web.auth import auth_middleware, session_key, setup_auth_routes, setup_sessions
from web.config import Settings
from web.errors import error_middleware
from web.i18n import Catalogues
from web.keys import CATALOGUES, LOGIN_THROTTLE, POOL, SETTINGS, TELEPHONY
from web.telephony import Telephony
from web.throttle import LoginThrottle

WEB_DIR = Path(__file__).parent
MAX_BODY_BYTES = 1024 * 1024


async def healthz(request: web.Request) -> web.Response:
    """Liveness for monitoring: 200 when the database answers, 503 otherwise."""
    db_ok = await database.ping(request.app[POOL])
    telephony = request.app.get(TELEPHONY)
    body: dict[str, Any] = {"status": "ok" if db_ok else "degraded", "db": "ok" if db_ok else "unreachable",
                            "version": "0.1.0"}
    body.update(telephony.health() if telephony is not None else {"ami": "disabled"})
    return web.json_response(body, status=200 if db_ok else 503)


def create_app(settings: Settings, pool: Pool, telephony: Telephony | None = None) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[POOL] = pool
    if telephony is not None:
        app[TELEPHONY] = telephony
    app[SETTINGS] = settings
    app[CATALOGUES] = Catalogues.load()
    app[LOGIN_THROTTLE] = LoginThrottle(settings.web.login_max_failures, settings.web.login_window_s)
    setup_sessions(app, settings.web, session_key(settings.web, settings.database.data_dir))
    app.middlewares.append(auth_middleware)

    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")), autoescape=True,
        undefined=jinja2.StrictUndefined)
    env.filters["phone"] = format_phone  # the time filters (`when`, ...) are set up by web.pages

    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", WEB_DIR / "static", name="static")
    setup_auth_routes(app)
    pages.setup(app)
    api.setup(app)
    return app
