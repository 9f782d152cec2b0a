"""Routing admin pages over real HTTP: groups, rules, schedules and holidays, settings, urgent statuses, caps.

Each change is checked twice: on the overview page the admin sees, and in the database through the
crm functions the router reads. Refused input must come back with a reason and change nothing.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import managers
from crm.database import Pool
from crm.models import RoutingSchedule
from crm.routing import data as routing_data
from tests.conftest import MakeManager, login
from web.app import create_app
from web.config import Settings
from web.pages import routing_admin

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(settings: Settings, pool: Pool) -> AsyncIterator[Client]:
    """The whole app with the routing pages (registered here until the lead adds them to web.pages)."""
    app = create_app(settings, pool)
    if not any(resource.canonical == "/routing" for resource in app.router.resources()):
        routing_admin.setup(app)
    test_client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def _global_schedule(pool: Pool) -> RoutingSchedule:
    return next(s for s in await routing_data.list_schedules(pool) if s.did == "")


def _week(opens: str = "09:00", closes: str = "21:00") -> dict[str, str]:
    form = {}
    for day in range(1, 8):
        form[f"open_{day}"], form[f"close_{day}"] = opens, closes
    return form


async def test_operator_is_refused_and_supervisor_only_reads(client: Client, pool: Pool,
                                                            make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    assert (await client.get("/routing")).status == 403
    assert (await client.get("/routing/groups/new")).status == 403
    response = await client.post("/routing/groups/new", data={"_csrf": csrf, "name": "Sneaky"})
    assert response.status == 403
    assert 'href="/routing"' not in await (await client.get("/")).text()
    await client.post("/logout", data={"_csrf": csrf})

    csrf = await login(client, await make_manager("supervisor"))
    page = await client.get("/routing")
    assert page.status == 200
    text = await page.text()
    assert "Только просмотр" in text and "/routing/groups/new" not in text and 'href="/routing"' in text
    response = await client.post("/routing/caps", data={"_csrf": csrf, f"cap_{operator.id}": "5"})
    assert response.status == 403
    assert (await managers.get_manager(pool, operator.id)).max_concurrent_calls == 1
    assert await routing_data.list_groups(pool) == []


async def test_forms_without_csrf_are_forbidden(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    await login(client, await make_manager("admin"))
    assert (await client.post("/routing/groups/new", data={"name": "Sales"})).status == 403
    assert (await client.post("/routing/urgent", data={"urgent": "confirmed"})).status == 403
    assert await routing_data.list_groups(pool) == []
    assert "confirmed" not in await routing_data.get_urgent_statuses(pool)


async def test_admin_configures_routing(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    csrf = await login(client, admin)
    anna = await make_manager("operator", name="Анна Смирнова", extensions=("101",))
    boris = await make_manager("operator", name="Борис Петров", extensions=("102",))
    assert 'href="/routing"' in await (await client.get("/")).text()

    # A group with two members.
    form = await (await client.get("/routing/groups/new")).text()
    assert "Анна Смирнова" in form and "Борис Петров" in form
    response = await client.post("/routing/groups/new", allow_redirects=False, data=[
        ("_csrf", csrf), ("name", "Оптовики"), ("queue", "wholesale"), ("ring_timeout_s", "25"),
        ("members", str(anna.id)), ("members", str(boris.id)), ("ring_all", "1")])
    assert response.status == 303 and response.headers["Location"] == "/routing#groups"
    [group] = await routing_data.list_groups(pool)
    assert (group.name, group.queue, group.ring_timeout_s, group.ring_all) == ("Оптовики", "wholesale", 25, True)
    assert "всем сразу" in await (await client.get("/routing")).text()
    assert set(group.member_ids) == {anna.id, boris.id}

    # A DID rule pointing at it.
    response = await client.post("/routing/rules/new", allow_redirects=False, data={
        "_csrf": csrf, "position": "10", "did": "+7 (495) 123-45-67", "channel": "landing",
        "customer_kind": "company", "region": "Москва", "group_id": str(group.id), "note": "опт"})
    assert response.status == 303
    [rule] = await routing_data.list_rules(pool)
    assert (rule.did, rule.channel, rule.customer_kind, rule.region, rule.group_id) == (
        "74951234567", "landing", "company", "Москва", group.id)

    # The global schedule: Sunday closed, Saturday shorter, another zone and target; then a holiday.
    schedule = await _global_schedule(pool)
    form_html = await (await client.get(f"/routing/schedules/{schedule.id}/edit")).text()
    assert 'value="Europe/Moscow"' in form_html and 'name="did"' not in form_html
    data = {"_csrf": csrf, "timezone": "Asia/Yekaterinburg", "after_hours_target": "dial:+79161234567",
            **_week("08:00", "20:00"), "open_6": "10:00", "close_6": "16:00", "closed_7": "on"}
    response = await client.post(f"/routing/schedules/{schedule.id}/edit", allow_redirects=False, data=data)
    assert response.status == 303, await response.text()
    response = await client.post(f"/routing/schedules/{schedule.id}/holidays", allow_redirects=False, data={
        "_csrf": csrf, "day": "2030-01-01", "note": "Новый год"})
    assert response.status == 303
    stored = await routing_data.get_schedule(pool, schedule.id)
    assert stored.timezone == "Asia/Yekaterinburg" and stored.after_hours_target == "dial:+79161234567"
    assert {h.weekday: (h.opens, h.closes) for h in stored.hours} == {
        1: ("08:00", "20:00"), 2: ("08:00", "20:00"), 3: ("08:00", "20:00"), 4: ("08:00", "20:00"),
        5: ("08:00", "20:00"), 6: ("10:00", "16:00")}
    assert [(h.day, h.note) for h in stored.holidays] == [(date(2030, 1, 1), "Новый год")]

    # An urgent status, the settings and a cap.
    response = await client.post("/routing/urgent", allow_redirects=False, data=[
        ("_csrf", csrf), ("urgent", "confirmed"), ("urgent", "shipped")])
    assert response.status == 303
    assert set(await routing_data.get_urgent_statuses(pool)) == {"confirmed", "shipped"}
    response = await client.post("/routing/settings", allow_redirects=False, data={
        "_csrf": csrf, "sticky_source": "last_order", "default_queue": "main", "default_ring_timeout_s": "30"})
    assert response.status == 303
    settings = await routing_data.get_routing_settings(pool)
    assert (settings.sticky_source, settings.default_queue, settings.default_ring_timeout_s) == (
        "last_order", "main", 30)
    response = await client.post("/routing/caps", allow_redirects=False, data={
        "_csrf": csrf, f"cap_{anna.id}": "3", f"cap_{boris.id}": "1", f"cap_{admin.id}": "2"})
    assert response.status == 303
    assert (await managers.get_manager(pool, anna.id)).max_concurrent_calls == 3
    assert (await managers.get_manager(pool, admin.id)).max_concurrent_calls == 2

    page = await (await client.get("/routing")).text()
    row = page[page.index(f'data-group-id="{group.id}"'):]
    row = row[:row.index("</tr>")]
    assert all(shown in row for shown in ("Оптовики", "Анна Смирнова", "Борис Петров", "wholesale", ">25 <"))
    for shown in ("74951234567", "лендинг", "компания",
                  "Москва", "→ Оптовики", "Asia/Yekaterinburg", "dial:+79161234567", "08:00–20:00", "10:00–16:00",
                  "01.01.2030", "Новый год", 'value="main"', 'value="30"', f'name="cap_{anna.id}" type="number" '
                  'min="1" max="20" required value="3"'):
        assert shown in page, shown
    assert 'value="last_order" selected' in page
    assert 'value="confirmed" checked' in page and 'value="shipped" checked' in page
    assert 'value="new" checked' not in page


async def test_rules_are_reordered_edited_and_deleted(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    group = await routing_data.create_group(pool, routing_data.GroupInput("Розница"))
    first = await routing_data.create_rule(pool, routing_data.RuleInput(group.id, 100, did="100"))
    second = await routing_data.create_rule(pool, routing_data.RuleInput(group.id, 200, did="200"))
    response = await client.post(f"/routing/rules/{second.id}/move", allow_redirects=False,
                                 data={"_csrf": csrf, "direction": "up"})
    assert response.status == 303
    assert [r.id for r in await routing_data.list_rules(pool)] == [second.id, first.id]
    page = await (await client.get("/routing")).text()
    assert page.index(f'data-rule-id="{second.id}"') < page.index(f'data-rule-id="{first.id}"')

    form = await (await client.get(f"/routing/rules/{first.id}/edit")).text()
    assert 'value="100"' in form
    response = await client.post(f"/routing/rules/{first.id}/edit", allow_redirects=False, data={
        "_csrf": csrf, "position": "5", "did": "", "channel": "app", "customer_kind": "", "region": "",
        "group_id": str(group.id), "note": ""})
    assert response.status == 303
    assert [r.id for r in await routing_data.list_rules(pool)] == [first.id, second.id]

    # A group still used by rules cannot go; the page says why.
    response = await client.post(f"/routing/groups/{group.id}/delete", data={"_csrf": csrf})
    assert response.status == 409
    assert "группа используется в правилах маршрутизации" in await response.text()
    for rule in (first, second):
        assert (await client.post(f"/routing/rules/{rule.id}/delete", allow_redirects=False,
                                  data={"_csrf": csrf})).status == 303
    assert (await client.post(f"/routing/groups/{group.id}/delete", allow_redirects=False,
                              data={"_csrf": csrf})).status == 303
    assert await routing_data.list_groups(pool) == [] and await routing_data.list_rules(pool) == []


async def test_number_schedule_with_night_shift_and_numbers(client: Client, pool: Pool,
                                                            make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    data = {"_csrf": csrf, "did": "8 800 555-35-35", "timezone": "Europe/Moscow", "after_hours_target": "hangup",
            **_week(), "open_5": "20:00", "close_5": "02:00", "overnight_5": "on", "close_6": "24:00"}
    response = await client.post("/routing/schedules/new", allow_redirects=False, data=data)
    assert response.status == 303, await response.text()
    schedule = next(s for s in await routing_data.list_schedules(pool) if s.did)
    assert schedule.did == "78005553535"
    friday = next(h for h in schedule.hours if h.weekday == 5)
    assert friday.overnight and (friday.opens, friday.closes) == ("20:00", "02:00")
    form = await (await client.get(f"/routing/schedules/{schedule.id}/edit")).text()
    assert 'name="overnight_5" checked' in form and 'value="24:00"' in form

    response = await client.post("/routing/numbers", allow_redirects=False, data={
        "_csrf": csrf, "did": "+7 800 555-35-35", "channel": "app", "label": "Приложение"})
    assert response.status == 303
    assert [(n.did, n.channel) for n in await routing_data.list_numbers(pool)] == [("78005553535", "app")]
    page = await (await client.get("/routing")).text()
    assert "Номер 78005553535" in page and "Приложение" in page and "после полуночи" in page

    response = await client.post(f"/routing/schedules/{schedule.id}/delete", allow_redirects=False,
                                 data={"_csrf": csrf})
    assert response.status == 303
    global_schedule = await _global_schedule(pool)
    response = await client.post(f"/routing/schedules/{global_schedule.id}/delete", data={"_csrf": csrf})
    assert response.status == 409 and "общее расписание нельзя удалить" in await response.text()
    assert [s.did for s in await routing_data.list_schedules(pool)] == [""]


async def test_invalid_schedules_are_refused_with_input_kept(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    schedule = await _global_schedule(pool)
    good = {"_csrf": csrf, "timezone": "Europe/Moscow", "after_hours_target": "voicemail:general", **_week()}
    cases = [
        ({"timezone": "Mars/Olympus"}, "часовой пояс: неизвестен"),
        ({"timezone": "../../etc/passwd"}, "часовой пояс: неизвестен"),
        ({"open_2": "18:00", "close_2": "09:00"}, "Вторник: время закрытия раньше открытия"),
        ({"open_3": "9 утра"}, "Среда: время в виде ЧЧ:ММ"),
        ({"open_4": "", "close_4": ""}, "Четверг: укажите время открытия и закрытия"),
        ({"after_hours_target": "voicemail:"}, "куда в нерабочее время: 'voicemail:ЯЩИК'"),
        ({"after_hours_target": "ring:101"}, "куда в нерабочее время"),
        ({"after_hours_target": "playback:../../secret"}, "куда в нерабочее время"),
    ]
    for change, message in cases:
        response = await client.post(f"/routing/schedules/{schedule.id}/edit", data={**good, **change})
        assert response.status == 422, change
        page = await response.text()
        assert message in html.unescape(page), change
        for value in change.values():
            if value:
                assert f'value="{html.escape(value)}"' in page, value
        assert await _global_schedule(pool) == schedule

    response = await client.post("/routing/schedules/new", data={**good, "did": ""})
    assert response.status == 422 and "номер: обязательное поле" in await response.text()
    response = await client.post(f"/routing/schedules/{schedule.id}/holidays", data={
        "_csrf": csrf, "day": "31.12.2030", "note": "Канун"})
    assert response.status == 422
    page = await response.text()
    assert "выходной: дата вида 2025-01-01" in page and 'value="Канун"' in page
    assert [s.did for s in await routing_data.list_schedules(pool)] == [""]
    assert (await _global_schedule(pool)).holidays == ()


async def test_invalid_groups_rules_settings_and_caps_change_nothing(client: Client, pool: Pool,
                                                                     make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    csrf = await login(client, admin)
    anna = await make_manager("operator")
    response = await client.post("/routing/groups/new", data=[
        ("_csrf", csrf), ("name", "Опт"), ("ring_timeout_s", "20"), ("members", str(anna.id)), ("members", "999999")])
    assert response.status == 422
    page = await response.text()
    assert "участники: неизвестный менеджер" in page and 'value="Опт"' in page
    response = await client.post("/routing/groups/new", data={"_csrf": csrf, "name": "Опт", "ring_timeout_s": "2"})
    assert response.status == 422 and "время дозвона: от 5 до 300 секунд" in await response.text()
    response = await client.post("/routing/groups/new", data={"_csrf": csrf, "name": "Опт", "queue": "q q"})
    assert response.status == 422
    assert await routing_data.list_groups(pool) == []

    group = await routing_data.create_group(pool, routing_data.GroupInput("Опт"))
    response = await client.post("/routing/groups/new", data={"_csrf": csrf, "name": "Опт"})
    assert response.status == 409
    response = await client.post("/routing/rules/new", data={
        "_csrf": csrf, "position": "x", "group_id": str(group.id), "region": "Урал"})
    assert response.status == 422
    page = await response.text()
    assert "порядок: целое число" in page and 'value="Урал"' in page
    response = await client.post("/routing/rules/new", data={"_csrf": csrf, "group_id": "424242"})
    assert response.status == 422
    response = await client.post("/routing/rules/new", data={"_csrf": csrf, "group_id": str(group.id),
                                                             "channel": "fax"})
    assert response.status == 422
    assert await routing_data.list_rules(pool) == []

    before = await routing_data.get_routing_settings(pool)
    response = await client.post("/routing/settings", data={
        "_csrf": csrf, "sticky_source": "random", "default_queue": "main", "default_ring_timeout_s": "30"})
    assert response.status == 422
    response = await client.post("/routing/settings", data={
        "_csrf": csrf, "sticky_source": "responsible", "default_queue": "", "default_ring_timeout_s": "31"})
    assert response.status == 422
    page = await response.text()
    assert "очередь по умолчанию" in page and 'value="31"' in page
    assert await routing_data.get_routing_settings(pool) == before

    urgent = await routing_data.get_urgent_statuses(pool)
    response = await client.post("/routing/urgent", data=[("_csrf", csrf), ("urgent", "confirmed"),
                                                          ("urgent", "no-such-status")])
    assert response.status == 422
    assert await routing_data.get_urgent_statuses(pool) == urgent

    response = await client.post("/routing/caps", data={"_csrf": csrf, f"cap_{anna.id}": "4", f"cap_{admin.id}": "0"})
    assert response.status == 422
    page = await response.text()
    assert "одновременных звонков: от 1 до 20" in page and f'name="cap_{admin.id}"' in page and 'value="4"' in page
    response = await client.post("/routing/caps", data={"_csrf": csrf, f"cap_{anna.id}": "4", "cap_999999": "2"})
    assert response.status == 422 and "неизвестный менеджер" in await response.text()
    assert (await managers.get_manager(pool, anna.id)).max_concurrent_calls == 1


async def test_html_in_names_is_shown_escaped(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("admin"))
    await make_manager("operator", name="<b>Bold</b> Boris")
    evil = '<script>alert("x")</script>'
    response = await client.post("/routing/groups/new", allow_redirects=False, data={
        "_csrf": csrf, "name": evil, "ring_timeout_s": "20"})
    assert response.status == 303
    [group] = await routing_data.list_groups(pool)
    assert group.name == evil  # stored as typed, escaped on every page
    await client.post("/routing/rules/new", data={"_csrf": csrf, "group_id": str(group.id), "note": "<i>n</i>"})
    for path in ("/routing", f"/routing/groups/{group.id}/edit"):
        page = await (await client.get(path)).text()
        assert "<script>alert" not in page and "<b>Bold</b>" not in page and "<i>n</i>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert "&lt;b&gt;Bold&lt;/b&gt; Boris" in page
    # A refused form echoes the input escaped too.
    response = await client.post("/routing/groups/new", data={"_csrf": csrf, "name": evil, "ring_timeout_s": "1"})
    assert response.status == 422
    assert "<script>alert" not in await response.text()


async def test_english_ui(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    csrf = await login(client, admin)
    await client.post("/locale", data={"_csrf": csrf, "locale": "en", "next": "/routing"})
    page = await (await client.get("/routing")).text()
    assert "Routing settings" in page and "Global schedule" in page and "Маршрутизация" not in page
    schedule = await _global_schedule(pool)
    response = await client.post(f"/routing/schedules/{schedule.id}/edit", data={
        "_csrf": csrf, "timezone": "Europe/Moscow", "after_hours_target": "hangup", **_week(),
        "open_1": "21:00", "close_1": "09:00"})
    assert response.status == 422
    assert "Monday: the closing time is before the opening time" in await response.text()
