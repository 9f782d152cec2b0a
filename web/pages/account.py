"""The user's own security page: API tokens (see, create, revoke; admins: everyone's) and
"log out everywhere". The plain token is shown once, right after it is created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from crm import managers, sessions, tokens
from crm.errors import InvalidInput
from crm.tokens import MAX_TOKEN_DAYS
from web.errors import error_message
from web.keys import POOL, current_user
from web.pages.forms import optional_int, path_int, redirect, text
from web.render import render


async def security_page(request: web.Request, *, new_token: str | None = None, error: str | None = None,
                        status: int = 200) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    listed = await tokens.list_tokens(pool, None if user.role == "admin" else user.id)
    return render("account/security.html", request, {
        "tokens": listed, "new_token": new_token, "error": error, "everyone": user.role == "admin",
        "session_count": await sessions.count_sessions(pool, user)}, status=status)


async def show(request: web.Request) -> web.StreamResponse:
    return await security_page(request)


async def create_token(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    try:
        days = optional_int(form, "expires_days", "expires in (days)")
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"expires in (days): 1-{MAX_TOKEN_DAYS}, or empty for never")
        expires = None if days is None else datetime.now(UTC) + timedelta(days=days)
        token = await managers.create_api_token(request.app[POOL], user.id, text(form, "label"), expires_at=expires)
    except InvalidInput as exc:
        return await security_page(request, error=error_message(request, exc), status=exc.http_status)
    return await security_page(request, new_token=token)


async def revoke(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    await tokens.revoke_token(request.app[POOL], path_int(request, "token_id"), user)
    raise redirect("/account/security")


def setup(app: web.Application) -> None:
    app.router.add_get("/account/security", show)
    app.router.add_post("/account/tokens", create_token)
    app.router.add_post("/account/tokens/{token_id}/revoke", revoke)
