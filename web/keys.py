"""Typed application and request keys: how handlers reach the pool, settings and the user."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import procrastinate
from aiohttp import web

from crm.database import Pool
from crm.models import Manager
from web.config import Settings
from web.i18n import Catalogues
from web.telephony import Telephony
from web.throttle import LoginThrottle

POOL = web.AppKey("pool", Pool)
SETTINGS = web.AppKey("settings", Settings)
CATALOGUES = web.AppKey("catalogues", Catalogues)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
TELEPHONY = web.AppKey("telephony", Telephony)
#: The job queue, where the service runs one (webhook deliveries are queued from HTTP handlers).
JOBS = web.AppKey("jobs", procrastinate.App)
#: The small thread pool that runs Argon2 password checks off the event loop.
PASSWORD_EXECUTOR = web.AppKey("password_executor", ThreadPoolExecutor)

USER = web.RequestKey("user", Manager)
CSRF = web.RequestKey("csrf", str)
SESSION_TOKEN = web.RequestKey("session_token", str)


def current_user(request: web.Request) -> Manager:
    """The logged-in manager; the auth middleware guarantees one on protected routes."""
    user = request.get(USER)
    if not isinstance(user, Manager):
        raise web.HTTPUnauthorized()
    return user


def optional_user(request: web.Request) -> Manager | None:
    user = request.get(USER)
    return user if isinstance(user, Manager) else None


def require_role(request: web.Request, *roles: str) -> Manager:
    """The current user if their role is one of `roles`, else 403 (role checks on every endpoint)."""
    user = current_user(request)
    if user.role not in roles:
        raise web.HTTPForbidden(reason="role not allowed")
    return user
