"""The aiohttp application: middlewares, templates, and every package's routes in one place."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp_jinja2
import jinja2
import procrastinate
from aiohttp import web

from crm.database import Pool
from crm.phones import format_phone
from web import api, pages
from web.api.originate import CLICK_TO_CALL
from web.auth import auth_middleware, session_key, setup_auth_routes, setup_sessions
from web.click_to_call import ClickToCall
from web.config import Settings
from web.errors import error_middleware
from web.health import healthz
from web.http_limits import body_timeout_middleware, handler_args
from web.i18n import Catalogues
from web.keys import CATALOGUES, JOBS, LOGIN_THROTTLE, PASSWORD_EXECUTOR, POOL, SETTINGS, TELEPHONY
from web.live import websocket as live_socket
from web.live.runtime import LiveParts, local_parts
from web.security_headers import security_headers_middleware, set_server_header
from web.telephony import Telephony
from web.throttle import LoginThrottle

WEB_DIR = Path(__file__).parent
MAX_BODY_BYTES = 1024 * 1024
#: Argon2 checks at once (each takes ~64 MiB and tens of ms of a core): more logins wait their turn.
PASSWORD_THREADS = 2


async def _stop_password_threads(app: web.Application) -> None:
    app[PASSWORD_EXECUTOR].shutdown(wait=False, cancel_futures=True)


def create_app(settings: Settings, pool: Pool, telephony: Telephony | None = None,
               live: LiveParts | None = None, click_to_call: ClickToCall | None = None,
               jobs: procrastinate.App | None = None) -> web.Application:
    app = web.Application(middlewares=[security_headers_middleware, error_middleware, body_timeout_middleware],
                          client_max_size=MAX_BODY_BYTES, handler_args=handler_args(settings.web.header_timeout_s))
    app[POOL] = pool
    if telephony is not None:
        app[TELEPHONY] = telephony
    app[SETTINGS] = settings
    if jobs is not None:
        app[JOBS] = jobs
    app[CATALOGUES] = Catalogues.load()
    app[LOGIN_THROTTLE] = LoginThrottle(settings.web.login_max_failures, settings.web.login_window_s)
    app[PASSWORD_EXECUTOR] = ThreadPoolExecutor(max_workers=PASSWORD_THREADS, thread_name_prefix="argon2")
    app.on_cleanup.append(_stop_password_threads)
    app.on_response_prepare.append(set_server_header)
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
    app[CLICK_TO_CALL] = click_to_call or ClickToCall(pool, telephony, None,
                                                      default_region=settings.crm.default_region)
    parts = live or local_parts()
    live_socket.setup(app, parts.hub, parts.bus, parts.publisher)
    return app
