"""The live panel end to end inside one process: call facts -> call record -> NOTIFY -> websocket tab.

Every message goes through the real PostgreSQL LISTEN/NOTIFY bus, as between instances.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from crm import customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from pbx_bridge import call_facts as cf
from tests.calls_scenarios import T0, inbound_answered, ringall_answered_by_102
from tests.conftest import PASSWORD, MakeManager, csrf_from, login
from tests.live_helpers import LivePanel, live_panel, message_of_type, next_message, nothing_pending
from tests.service_process import csrf_of, log_in
from web.config import Settings

CALLER = "79161110001"


@pytest.fixture
async def panel(settings: Settings, pool: Pool, db_dsn: str) -> AsyncIterator[LivePanel]:
    async with live_panel(settings, pool, db_dsn) as running:
        yield running


async def _known_customer(pool: Pool, manager_id: int | None = None) -> int:
    customer = await customers.create_customer(pool, CustomerInput(
        name="Иванова Мария", vip=True, phones=(f"+{CALLER}",), responsible_manager_id=manager_id))
    await orders.create_order(pool, OrderInput(number="10234", customer_id=customer.id, total="12345.50"), None)
    await customers.add_note(pool, customer.id, None, "Просила звонить после 18:00")
    return customer.id


async def test_the_pop_reaches_the_rung_operator_before_answer_and_nobody_else(
        panel: LivePanel, pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    boris = await make_manager("operator", extensions=("102",))
    customer_id = await _known_customer(pool, anna.id)
    await login(panel.client, anna)
    other = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        await log_in(other, str(panel.client.make_url("/")), boris.login, PASSWORD)
        async with panel.client.ws_connect("/live") as ws, other.ws_connect(panel.client.make_url("/live")) as ws_b:
            assert (await next_message(ws)) == {"type": "hello", "pops": []}
            assert (await next_message(ws_b))["type"] == "hello"
            facts = inbound_answered(caller=CALLER, ext="101")
            await panel.feed(facts[:2])  # started, 101 ringing: not answered yet
            pop = await message_of_type(ws, "pop")
            assert pop["state"] == "ringing" and pop["caller"] == "+7 916 111-00-01"
            assert pop["customer"]["name"] == "Иванова Мария" and pop["customer"]["vip"] is True
            assert pop["customer"]["url"] == f"/customers/{customer_id}" and not pop["customer"]["new"]
            assert [o["number"] for o in pop["open_orders"]] == ["10234"]
            assert pop["open_orders"][0]["total"] == "12\u202f345.50 RUB"
            assert pop["notes"][0]["body"] == "Просила звонить после 18:00"
            await nothing_pending(ws_b)  # Boris's phone never rang: not a word of Anna's call
            await panel.feed(facts[2:3])
            answered = await message_of_type(ws, "pop.state")
            assert answered["state"] == "in_call"
            await panel.feed(facts[3:])
            ended = await message_of_type(ws, "pop.state")
            assert ended["state"] == "ended" and ended["talk_s"] == 3 and ended["outcome"] == "answered"
            assert (await message_of_type(ws, "calls.changed"))["call"] == facts[0].call_id
            await nothing_pending(ws_b)
    finally:
        await other.close()


async def test_an_unknown_number_pops_as_the_new_contact_made_for_it(panel: LivePanel, make_manager: MakeManager
                                                                     ) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await login(panel.client, anna)
    async with panel.client.ws_connect("/live") as ws:
        await next_message(ws)
        await panel.feed(inbound_answered(caller="79035550123", ext="101")[:2])
        pop = await message_of_type(ws, "pop")
    customer = pop["customer"]
    assert customer["new"] is True and customer["name"].startswith("Новый клиент")
    assert customer["edit_url"].endswith("/edit") and customer["new_order_url"].endswith("/orders/new")


async def test_a_reconnected_tab_catches_up_with_the_call_ringing_it(panel: LivePanel, pool: Pool,
                                                                     make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await _known_customer(pool)
    await login(panel.client, anna)
    facts = inbound_answered(caller=CALLER, ext="101")
    await panel.feed(facts[:2])  # rings while no tab is open
    async with panel.client.ws_connect("/live") as ws:
        hello = await next_message(ws)
    assert [p["state"] for p in hello["pops"]] == ["ringing"]
    assert hello["pops"][0]["customer"]["name"] == "Иванова Мария"
    await panel.feed(facts[2:3])
    async with panel.client.ws_connect("/live") as ws:
        hello = await next_message(ws)
    assert [p["state"] for p in hello["pops"]] == ["in_call"]
    await panel.feed(facts[3:])
    async with panel.client.ws_connect("/live") as ws:
        assert (await next_message(ws))["pops"] == []


async def test_ring_all_tells_the_colleague_who_did_not_answer(panel: LivePanel, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await make_manager("operator", extensions=("102",))
    await login(panel.client, anna)
    async with panel.client.ws_connect("/live") as ws:
        await next_message(ws)
        await panel.feed(ringall_answered_by_102())
        assert (await message_of_type(ws, "pop"))["state"] == "ringing"
        assert (await message_of_type(ws, "pop.state"))["state"] == "taken"


async def test_supervisors_see_calls_change_but_get_no_operator_pops(panel: LivePanel,
                                                                     make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    head = await make_manager("supervisor")
    await login(panel.client, head)
    async with panel.client.ws_connect("/live") as ws:
        await next_message(ws)
        facts = inbound_answered(caller=CALLER, ext="101")
        await panel.feed(facts)
        started = await next_message(ws)
        ended = await next_message(ws)
    assert [started["type"], ended["type"]] == ["calls.changed", "calls.changed"]


async def test_the_live_socket_needs_a_session_and_the_panels_origin(panel: LivePanel,
                                                                     make_manager: MakeManager) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
        await panel.client.ws_connect("/live")
    assert anonymous.value.request_info.url.path == "/login"  # sent to log in, like any page
    await login(panel.client, await make_manager("operator"))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await panel.client.ws_connect("/live", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_logout_closes_the_tab_for_good(panel: LivePanel, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await login(panel.client, anna)
    async with panel.client.ws_connect("/live") as ws:
        await next_message(ws)
        token = await csrf_from(panel.client, "/")
        await panel.client.post("/logout", data={"_csrf": token}, allow_redirects=False)
        closed = await ws.receive()
    assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4401


async def test_a_hostile_caller_id_name_arrives_bounded_and_as_data(panel: LivePanel, make_manager: MakeManager,
                                                                    pool: Pool) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await login(panel.client, anna)
    hostile = '<script>alert("x")</script>\x07\x1b[2J' + "Я" * 10_000
    lid = "1795349999.1"
    async with panel.client.ws_connect("/live") as ws:
        await next_message(ws)
        await panel.feed([
            cf.CallStarted(call_id=lid, at=T0, direction=cf.Direction.INBOUND, caller="79035550999",
                           dialled="74951234501", caller_name=hostile),
            cf.LegRinging(call_id=lid, at=T0 + 0.01, channel="PJSIP/101-00000009", extension="101", number=None)])
        pop = await message_of_type(ws, "pop")
    assert len(pop["caller_name"]) <= 80
    assert "<" not in pop["caller_name"] and "\x07" not in pop["caller_name"] and "\x1b" not in pop["caller_name"]


async def test_a_new_task_and_a_presence_change_refresh_the_supervisors_tabs(
        panel: LivePanel, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    head = await make_manager("supervisor")
    await login(panel.client, head)
    other = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        await log_in(other, str(panel.client.make_url("/")), anna.login, PASSWORD)
        csrf = await csrf_of(other, str(panel.client.make_url("/")))
        async with panel.client.ws_connect("/live") as ws:
            await next_message(ws)
            await other.post(panel.client.make_url("/presence"), data={"presence": "away", "next": "/",
                                                                      "_csrf": csrf})
            assert (await next_message(ws))["type"] == "presence.changed"
            created = await other.post(panel.client.make_url("/api/v1/tasks"), headers={"X-CSRF-Token": csrf},
                                       json={"kind": "callback", "title": "Перезвонить"})
            assert created.status == 201
            assert (await next_message(ws))["type"] == "tasks.changed"
    finally:
        await other.close()


async def test_a_call_transferred_to_a_colleague_pops_for_them_too(panel: LivePanel, pool: Pool,
                                                                   make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    boris = await make_manager("operator", extensions=("102",))
    await _known_customer(pool)
    await login(panel.client, boris)
    facts = inbound_answered(caller=CALLER, ext="101")
    async with panel.client.ws_connect("/live") as ws:
        await next_message(ws)
        await panel.feed(facts[:3])  # Anna answered; Boris's phone has not rung
        await nothing_pending(ws)
        # Anna transfers: Asterisk rings Boris's phone in the same call (same Linkedid).
        await panel.feed([cf.LegRinging(call_id=facts[0].call_id, at=T0 + 4, channel="PJSIP/102-00000005",
                                        extension="102", number=None)])
        pop = await message_of_type(ws, "pop")
    assert (pop["call"], pop["state"]) == (facts[0].call_id, "ringing")
    assert pop["customer"]["name"] == "Иванова Мария"
