"""Who is asking: encrypted session cookies for the panel, bearer tokens for the API, CSRF.

Every route except the few public ones needs a logged-in, active manager. Forms carry
a per-session CSRF token; API calls with a bearer token need none (no cookie is sent),
while API calls made from the panel with the session cookie send it in `X-CSRF-Token`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from pathlib import Path

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from crm import managers, sessions
from web.errors import Handler, is_api
from web.keys import CSRF, LOGIN_THROTTLE, PASSWORD_EXECUTOR, POOL, SESSION_TOKEN, SETTINGS, USER
from web.live import websocket as live_socket
from web.pages.forms import safe_next
from web.render import render
from web.settings import WebSettings
from web.throttle import login_buckets

log = logging.getLogger(__name__)

#: Public paths match exactly; only the static files are public by prefix.
PUBLIC_PATHS = frozenset(("/login", "/healthz", "/api/v1/openapi.json", "/favicon.ico"))
PUBLIC_PREFIX = "/static/"
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
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.1, 192.168.0.0/24, ::1` as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy.

    The header is read from the right, skipping trusted proxies: the first other address is the
    one the nearest trusted proxy saw, so a client cannot choose its address by sending the header.
    """
    peer = request.remote or ""
    trusted = parse_networks(request.app[SETTINGS].web.trusted_proxies)
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _in(hop, trusted):
            return hop[:64]
    return peer


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
            raise web.HTTPUnauthorized(text="invalid, expired or revoked API token",
                                       headers={"WWW-Authenticate": "Bearer"})
        request[USER] = user
        return await handler(request)

    session = await get_session(request)
    sid = session.get("sid")
    if isinstance(sid, str):
        web_settings = request.app[SETTINGS].web
        manager_id = await sessions.session_manager_id(pool, sid, idle_s=web_settings.session_idle_s,
                                                       max_age_s=web_settings.session_max_age_s)
        user = None if manager_id is None else await managers.get_manager(pool, manager_id)
        if user is not None and user.active:
            request[USER] = user
            request[SESSION_TOKEN] = sid
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


def _throttled(request: web.Request, target: str, login: str, wait: float) -> web.StreamResponse:
    response = render("login.html", request, {"next": target, "error": "Too many failed attempts. Try again later.",
                                              "login": login}, status=429)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", ""))[:64].strip().lower()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/")))
    throttle = request.app[LOGIN_THROTTLE]
    address = client_address(request)
    buckets = login_buckets(login, address, throttle.max_failures)
    now = time.monotonic()
    # Reserve the attempt before awaiting anything: a burst of parallel guesses is counted as it arrives.
    wait = throttle.reserve(buckets, now)
    if wait > 0:
        log.warning("failed login for %r from %s: throttled (retry in %.0f s)", login, address, wait)
        return _throttled(request, target, login, wait)
    outcome = await managers.check_login(request.app[POOL], login, password,
                                         executor=request.app[PASSWORD_EXECUTOR])
    user = outcome.manager
    if user is None:
        log.warning("failed login for %r from %s: %s", login, address, outcome.reason)
        return render(
            "login.html", request, {"next": target, "error": "Wrong login or password.", "login": login},
            status=401)
    throttle.release(buckets, now)
    throttle.reset(buckets[0].key)
    session = await new_session(request)  # a fresh session: no fixation across login
    session["sid"] = await sessions.start_session(request.app[POOL], user.id, address)
    web_settings = request.app[SETTINGS].web  # the table keeps only sessions that can still log someone in
    await sessions.purge_expired(request.app[POOL], idle_s=web_settings.session_idle_s,
                                 max_age_s=web_settings.session_max_age_s)
    csrf_token(session)
    log.info("manager %s logged in from %s", user.login, address)
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.StreamResponse:
    """End this session (the cookie is useless from now on, even if copied)."""
    token = request.get(SESSION_TOKEN)
    user = request.get(USER)
    if isinstance(token, str):
        await sessions.end_session(request.app[POOL], token)
        if user is not None:
            await live_socket.end_sessions(request.app, user.id, token)
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/login")


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    """End every session of the current user: all browsers, all devices."""
    user = request.get(USER)
    if user is not None:
        await sessions.end_all_sessions(request.app[POOL], user.id)
        await live_socket.end_sessions(request.app, user.id, None)
        log.info("manager %s logged out everywhere from %s", user.login, client_address(request))
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/login")


def setup_auth_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/logout/everywhere", logout_everywhere)


def data_dir_of(app: web.Application) -> Path:
    return app[SETTINGS].database.data_dir
