"""Who is asking: encrypted session cookies for the panel, bearer tokens for the API, CSRF.

Every route except the few public ones needs a logged-in, active manager. Forms carry
a per-session CSRF token; API calls with a bearer token need none (no cookie is sent),
while API calls made from the panel with the session cookie send it in `X-CSRF-Token`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from pathlib import Path

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from crm import managers
from web.errors import Handler, is_api
from web.keys import CSRF, LOGIN_THROTTLE, POOL, SETTINGS, USER
from web.pages.forms import safe_next
from web.render import render
from web.settings import WebSettings

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/static/", "/login", "/healthz", "/api/v1/openapi.json", "/favicon.ico")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SESSION_COOKIE = "perezvon_session"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"


def session_key(settings: WebSettings, data_dir: Path) -> bytes:
    """The 32-byte cookie key: from the setting, else generated once into the data directory."""
    secret = settings.secret_key
    if not secret:
        key_file = data_dir / "secret_key"
        if not key_file.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        secret = key_file.read_text().strip()
    return hashlib.sha256(secret.encode()).digest()


def setup_sessions(app: web.Application, settings: WebSettings, key: bytes) -> None:
    storage = EncryptedCookieStorage(
        key, cookie_name=SESSION_COOKIE, httponly=True, secure=settings.cookie_secure,
        samesite="Lax", max_age=settings.session_max_age_s)
    setup_session(app, storage)


def csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _is_public(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES)


async def _check_csrf(request: web.Request, session: Session) -> None:
    expected = session.get("csrf")
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not supplied or not hmac.compare_digest(expected, supplied):
        raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page and try again")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    pool = request.app[POOL]
    authorization = request.headers.get("Authorization", "")
    if is_api(request) and authorization:
        scheme, _, token = authorization.partition(" ")
        user = await managers.manager_for_token(pool, token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise web.HTTPUnauthorized(text="invalid or revoked API token",
                                       headers={"WWW-Authenticate": "Bearer"})
        request[USER] = user
        return await handler(request)

    session = await get_session(request)
    manager_id = session.get("manager_id")
    if isinstance(manager_id, int):
        user = await managers.find_manager_by_login(pool, str(session.get("login", "")))
        if user is not None and user.id == manager_id and user.active:
            request[USER] = user
        else:
            session.invalidate()
    # Who-are-you comes before CSRF: an anonymous API write is a 401, not a CSRF complaint.
    if USER not in request and not _is_public(request.path):
        raise web.HTTPUnauthorized(text="log in first", headers={"WWW-Authenticate": "Bearer"} if is_api(request)
                                   else None)
    request[CSRF] = csrf_token(session)
    if request.method in UNSAFE_METHODS:
        await _check_csrf(request, session)
    return await handler(request)


async def login_page(request: web.Request) -> web.StreamResponse:
    if USER in request:
        raise web.HTTPSeeOther(safe_next(request.query.get("next", "/")))
    return render("login.html", request, {"next": request.query.get("next", "/")})


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", ""))[:64].strip().lower()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/")))
    throttle = request.app[LOGIN_THROTTLE]
    keys = [f"login:{login}", f"ip:{request.remote}"]
    now = time.monotonic()
    wait = throttle.retry_after(keys, now)
    if wait > 0:
        log.warning("login throttled for %r from %s", login, request.remote)
        return render(
            "login.html", request, {"next": target, "error": "Too many failed attempts. Try again later.",
                                    "login": login}, status=429, )
    user = await managers.authenticate(request.app[POOL], login, password)
    if user is None:
        throttle.record_failure(keys, now)
        return render(
            "login.html", request, {"next": target, "error": "Wrong login or password.", "login": login},
            status=401)
    throttle.reset(f"login:{login}")
    session = await new_session(request)  # a fresh session: no fixation across login
    session["manager_id"] = user.id
    session["login"] = user.login
    csrf_token(session)
    log.info("manager %s logged in from %s", user.login, request.remote)
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/login")


def setup_auth_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)


def data_dir_of(app: web.Application) -> Path:
    return app[SETTINGS].database.data_dir
