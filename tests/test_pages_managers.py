"""Managers admin and the language switch over real HTTP: admins only, create, edit, deactivate, reset."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import managers
from crm.database import Pool
from crm.models import CUSTOMER_KINDS, PRESENCES, ROLES, SALES_CHANNELS, TASK_KINDS, TASK_STATUSES
from tests.conftest import PASSWORD, MakeManager, login

Client = TestClient[web.Request, web.Application]
WEB = Path(__file__).parent.parent / "web"


async def test_only_admins_open_managers(client: Client, make_manager: MakeManager) -> None:
    for role in ("operator", "supervisor"):
        await login(client, await make_manager(role))
        assert (await client.get("/managers")).status == 403
        assert (await client.get("/managers/new")).status == 403
        await client.post("/logout", data={"_csrf": await _csrf(client)})


async def _csrf(client: Client) -> str:
    html = await (await client.get("/")).text()
    match = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_operator_cannot_create_a_manager(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("operator"))
    response = await client.post("/managers/new", data={
        "_csrf": csrf, "login": "mallory", "display_name": "M", "role": "admin", "password": "password123"})
    assert response.status == 403
    assert await managers.find_manager_by_login(pool, "mallory") is None


async def test_admin_creates_a_manager(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    response = await client.post("/managers/new", allow_redirects=False, data={
        "_csrf": csrf, "login": "Vera", "display_name": "Вера Попова", "role": "operator", "extensions": "103, 203",
        "softphone": "on", "vip_capable": "on", "seniority": "30", "max_concurrent_calls": "2",
        "password": "vera-password"})
    assert response.status == 303 and response.headers["Location"] == "/managers"
    vera = await managers.find_manager_by_login(pool, "vera")
    assert vera is not None
    assert (vera.display_name, vera.role, vera.extensions) == ("Вера Попова", "operator", ("103", "203"))
    assert vera.softphone and vera.vip_capable and vera.seniority == 30 and vera.max_concurrent_calls == 2
    assert await managers.authenticate(pool, "vera", "vera-password") is not None
    html = await (await client.get("/managers")).text()
    assert "Вера Попова" in html and "103, 203" in html and "оператор" in html


async def test_invalid_manager_is_refused_with_input_kept(client: Client, pool: Pool,
                                                          make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    response = await client.post("/managers/new", data={
        "_csrf": csrf, "login": "petr", "display_name": "Пётр", "role": "operator", "password": "short"})
    assert response.status == 422
    html = await response.text()
    assert "пароль должен быть не короче 8 символов" in html and 'value="petr"' in html
    assert await managers.find_manager_by_login(pool, "petr") is None
    response = await client.post("/managers/new", data={
        "_csrf": csrf, "login": "admin1", "display_name": "Дубль", "role": "operator", "password": "long-enough"})
    assert response.status == 409  # make_manager's admin has the login admin1


async def test_admin_edits_deactivates_and_resets_password(client: Client, pool: Pool,
                                                           make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    boris = await make_manager("operator", login="boris", extensions=("102",))
    form = await (await client.get(f"/managers/{boris.id}/edit")).text()
    assert 'value="boris"' in form and "102" in form
    response = await client.post(f"/managers/{boris.id}/edit", allow_redirects=False, data={
        "_csrf": csrf, "login": "boris", "display_name": "Борис К.", "role": "supervisor", "extensions": "105",
        "seniority": "5", "max_concurrent_calls": "3", "password": "new-password-1"})
    assert response.status == 303
    stored = await managers.get_manager(pool, boris.id)
    assert stored.display_name == "Борис К." and stored.role == "supervisor" and stored.extensions == ("105",)
    assert not stored.active  # the "active" box was not ticked
    assert await managers.authenticate(pool, "boris", PASSWORD) is None
    html = await (await client.get("/managers")).text()
    assert "Отключён" in html


async def test_bad_new_password_changes_nothing(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    boris = await make_manager("operator", login="boris")
    response = await client.post(f"/managers/{boris.id}/edit", data={
        "_csrf": csrf, "login": "boris", "display_name": "Другое имя", "role": "operator", "active": "on",
        "password": "short"})
    assert response.status == 422
    assert (await managers.get_manager(pool, boris.id)).display_name == boris.display_name


async def test_admin_cannot_lock_themselves_out(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    csrf = await login(client, admin)
    response = await client.post(f"/managers/{admin.id}/edit", data={
        "_csrf": csrf, "login": admin.login, "display_name": admin.display_name, "role": "operator",
        "active": "on"})
    assert response.status == 422
    assert (await managers.get_manager(pool, admin.id)).role == "admin"


async def test_create_manager_without_csrf_is_forbidden(client: Client, pool: Pool,
                                                        make_manager: MakeManager) -> None:
    await login(client, await make_manager("admin"))
    response = await client.post("/managers/new", data={
        "login": "nocsrf", "display_name": "X", "role": "operator", "password": "password123"})
    assert response.status == 403
    assert await managers.find_manager_by_login(pool, "nocsrf") is None


async def test_locale_switch_changes_the_ui_language(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    html = await (await client.get("/customers")).text()
    assert "Клиенты" in html and '<html lang="ru">' in html
    response = await client.post("/locale", allow_redirects=False,
                                 data={"_csrf": csrf, "locale": "en", "next": "/customers?q=x"})
    assert response.status == 303 and response.headers["Location"] == "/customers?q=x"
    html = await (await client.get("/customers")).text()
    assert "Customers" in html and "Клиенты" not in html and '<html lang="en">' in html
    assert (await managers.get_manager(pool, operator.id)).locale == "en"
    response = await client.post("/locale", allow_redirects=False,
                                 data={"_csrf": csrf, "locale": "ru", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert (await managers.get_manager(pool, operator.id)).locale == "ru"


async def test_locale_switch_needs_csrf_and_a_known_language(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    assert (await client.post("/locale", data={"locale": "en"})).status == 403
    assert (await client.post("/locale", data={"_csrf": csrf, "locale": "de"})).status == 422
    assert (await managers.get_manager(pool, operator.id)).locale == "ru"


def test_every_ui_key_is_translated() -> None:
    """Each `_("...")` in a template and each name the templates build has a Russian and an English text."""
    keys = set(ROLES) | set(CUSTOMER_KINDS) | {f"task.{k}" for k in TASK_KINDS + TASK_STATUSES}
    keys |= {f"channel.{c}" for c in SALES_CHANNELS} | {f"presence.{p}" for p in PRESENCES}
    for template in (WEB / "templates").rglob("*.html"):
        keys |= set(re.findall(r'_\("([^"]+)"\)', template.read_text(encoding="utf-8")))
    for locale in ("ru", "en"):
        catalogue = json.loads((WEB / "locales" / f"{locale}.json").read_text(encoding="utf-8"))
        missing = sorted(k for k in keys if not catalogue.get(k))
        assert not missing, f"{locale}.json lacks {missing}"
