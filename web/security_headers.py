"""Security headers on every answer: CSP without inline scripts, no framing, no sniffing, no caching
of personal data, HSTS behind HTTPS, and a `Server` header that names no versions."""

from __future__ import annotations

from aiohttp import web

from web.errors import Handler
from web.keys import SETTINGS

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
SERVER = "perezvon"


def _add(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):  # pages and API answers carry personal data
        response.headers["Cache-Control"] = "no-store"
    if request.app[SETTINGS].web.cookie_secure:
        response.headers["Strict-Transport-Security"] = HSTS


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and errors raised past the error middleware
        _add(request, exc)
        raise
    _add(request, response)
    return response


async def set_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp would say `Python/3.x aiohttp/3.x`: a version list helps only an attacker."""
    response.headers["Server"] = SERVER
