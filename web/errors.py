"""Error handling: every refusal becomes JSON (API) or a page (UI) with a stable slug.

`CrmError` carries its own slug and status; HTTP errors from aiohttp get slugs here.
Unexpected exceptions are logged with the request and answered 500 without details.
The slug never changes; the message is translated for the reader (`web.error_text`): pages
in the user's locale, the API in the `Accept-Language` language (English by default).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from crm.errors import CrmError
from web.error_text import accept_language_locale, translate
from web.keys import CATALOGUES
from web.render import locale_of, render

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTTP_SLUGS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    408: "request-timeout", 409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type",
    422: "invalid-input", 429: "too-many-requests", 500: "internal-error",
}


class ApiError(web.HTTPException):
    """An HTTP error with a chosen slug, raised by handlers for request-shape problems."""

    def __init__(self, status: int, slug: str, message: str) -> None:
        self.status_code = status
        super().__init__(reason=None, text=message)
        self.slug = slug
        self.message = message


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def message_locale(request: web.Request) -> str:
    """The language of an error message: `Accept-Language` for the API (default en), the user's for pages."""
    if is_api(request):
        return accept_language_locale(request.headers.get("Accept-Language"))
    return locale_of(request)


def localized(request: web.Request, slug: str, message: str) -> str:
    """`message` as the reader of `request` should see it (see `message_locale`)."""
    locale = message_locale(request)
    catalogues = request.app.get(CATALOGUES)
    return translate(message, slug, locale, catalogues.texts.get(locale) if catalogues is not None else None)


def error_message(request: web.Request, exc: CrmError) -> str:
    """The refusal's message for a page form that shows it beside the user's input."""
    return localized(request, exc.slug, exc.message)


def json_error(status: int, slug: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": slug, "message": message}, status=status, headers=headers)


def _page_error(request: web.Request, status: int, slug: str, message: str) -> web.StreamResponse:
    try:
        return render("error.html", request,
                                              {"status": status, "slug": slug, "message": message}, status=status)
    except Exception:  # the error page itself must never fail the error
        log.exception("error page could not be rendered")
        return web.Response(status=status, text=f"{status} {message}")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CrmError as exc:
        status, slug, message = exc.http_status, exc.slug, exc.message
    except ApiError as exc:
        status, slug, message = exc.status, exc.slug, exc.message
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, slug = exc.status, HTTP_SLUGS.get(exc.status, "http-error")
        message = exc.text or exc.reason or slug
        if message.startswith(f"{exc.status}: "):
            message = message.split(": ", 1)[1]
        if not is_api(request) and exc.status == 401:
            raise web.HTTPSeeOther("/login?next=" + quote(request.path_qs, safe="/")) from None
        headers = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow", "WWW-Authenticate")}
        message = localized(request, slug, message)
        if is_api(request):
            return json_error(status, slug, message, headers)
        response = _page_error(request, status, slug, message)
        response.headers.update(headers)
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        status, slug, message = 500, "internal-error", "internal error"
    message = localized(request, slug, message)
    if is_api(request):
        return json_error(status, slug, message)
    return _page_error(request, status, slug, message)
