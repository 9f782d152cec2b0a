"""Click-to-call and routing to registered phones only, on the real Asterisk.

Click-to-call goes the way the panel's call button goes: the operator, logged in, posts
`/api/v1/calls/originate`; perezvon sends the AMI `Originate` into asterisk-conf's
`[perezvon-originate]` with its own call id as the ChannelId; the operator's desk phone (sipp) rings
first; when the operator picks up, the customer is dialled through the trunk with the shop's caller
ID. The operator's `/live` tab follows the progress, and the call record is linked to the task.

Registration: after every AMI login perezvon asks Asterisk which phones are registered
(DeviceStateList, PJSIPShowContacts). Before that fix, an unknown caller was routed to the
least-loaded operator whose phone was not registered at all (CHANUNAVAIL, then the queue).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import SHOP_DID, CustomerBehaviour, InboundCall, call_in, provider_answering
from tests.pbx.records import wait_for_calls, wait_for_cdr
from tests.pbx.service_process import OPERATOR_LOGINS, Service, WebSession, admin_health
from tests.pbx.simulator_twin import assert_simulator_agrees
from tests.pbx.test_calls_groups import wait_for_route


async def registered(perezvon: Service, extension: str, timeout_s: float = 20) -> None:
    """Until perezvon has heard from Asterisk that the phone is registered (an AMI event after its 200 OK)."""
    async with asyncio.timeout(timeout_s):  # another process is observed: there is no event to wait on
        while extension not in (await admin_health(perezvon)).get("phones_registered", []):  # noqa: ASYNC110
            await asyncio.sleep(0.2)


@asynccontextmanager
async def operator_tab(perezvon: Service, extension: str) -> AsyncIterator[tuple[WebSession, Any]]:
    """The operator logged in with the panel open: their session and their `/live` websocket."""
    session = WebSession(perezvon.config.base_url)
    try:
        await session.login(OPERATOR_LOGINS[extension])
        async with session.http.ws_connect(perezvon.config.base_url + "/live",
                                           origin=perezvon.config.base_url) as ws:
            hello = json.loads((await ws.receive()).data)
            assert hello["type"] == "hello", hello
            yield session, ws
    finally:
        await session.close()


async def progress(ws: aiohttp.ClientWebSocketResponse, call_id: str, until: str = "ended",
                   timeout_s: float = 30) -> list[str]:
    """The states the tab showed for this call, in order, until `until`."""
    seen: list[str] = []
    async with asyncio.timeout(timeout_s):
        while not seen or seen[-1] != until:
            message = json.loads((await ws.receive()).data)
            if message.get("call") == call_id and message["type"] in ("pop", "pop.state"):
                seen.append(message["state"])
    return seen


async def create_callback_task(perezvon: Service, name: str, phone: str) -> int:
    """A customer and a callback task for them, made by the admin over the API."""
    headers = {"Authorization": f"Bearer {perezvon.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(perezvon.config.base_url + "/api/v1/customers",
                             json={"name": name, "phones": [phone]}) as resp:
            assert resp.status == 201, await resp.text()
            customer = await resp.json()
        async with http.post(perezvon.config.base_url + "/api/v1/tasks",
                             json={"kind": "callback", "title": "Перезвонить", "customer_id": customer["id"]}) as resp:
            assert resp.status == 201, await resp.text()
            task: dict[str, Any] = await resp.json()
    return int(task["id"])


async def test_click_to_call_answered(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path,
                                      pool: Pool) -> None:
    phone = await phones.start("103", PhoneBehaviour(mode="answer", answer_ms=500))
    await registered(perezvon, "103")
    task_id = await create_callback_task(perezvon, "Клиент", "+79161110040")
    async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=1000,
                                                                        hangup_ms=2000)) as customer, \
            operator_tab(perezvon, "103") as (session, ws):
        status, placed = await session.post_json("/api/v1/calls/originate", {"task_id": task_id})
        assert status == 202, placed
        shown = await progress(ws, placed["call_id"])
        await customer.wait_event("customer hung up")
        await phone.wait_event("other side hung up")
    assert shown == ["ringing_you", "calling_customer", "connected", "ended"], shown

    [record] = await wait_for_calls(perezvon, "+79161110040")
    assert record["linkedid"] == placed["call_id"] and record["task_id"] == task_id, record
    assert (record["click_to_call"], record["direction"], record["outcome"]) == (True, "outbound", "answered"), record
    assert record["operator_extension"] == "103" and record["hung_up_by"] == "customer", record
    assert abs(record["talk_s"] - 2.0) <= 1.0, record
    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    assert any(row["dstchannel"].startswith("PJSIP/trunk-") and row["disposition"] == "ANSWERED" for row in rows), rows
    await assert_simulator_agrees(pool, record, "click_to_call", CallParams(
        customer="79161110040", extensions=("103",), display_name="Клиент", ring_s=record["ring_s"],
        talk_s=record["talk_s"]))


async def test_click_to_call_customer_does_not_answer(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                      workdir: Path, pool: Pool) -> None:
    phone = await phones.start("103", PhoneBehaviour(mode="answer", answer_ms=500))
    await registered(perezvon, "103")
    async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="noanswer", answer_ms=2000)) as customer, \
            operator_tab(perezvon, "103") as (session, ws):
        status, placed = await session.post_json("/api/v1/calls/originate", {"phone": "8 916 111-00-41"})
        assert status == 202, placed
        shown = await progress(ws, placed["call_id"])
        await customer.wait_event("no answer")
        await phone.wait_event("other side hung up")
    assert shown[:2] == ["ringing_you", "calling_customer"] and shown[-2:] == ["no_answer", "ended"], shown

    [record] = await wait_for_calls(perezvon, "+79161110041")
    assert (record["click_to_call"], record["outcome"]) == (True, "missed"), record
    assert record["operator_extension"] == "103", record
    await assert_simulator_agrees(pool, record, "click_to_call_no_answer", CallParams(
        customer="79161110041", extensions=("103",), display_name="Клиент", operator_ring_s=0.5,
        ring_s=record["ring_s"]))


async def test_unregistered_phones_are_never_rung(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                   workdir: Path) -> None:
    """Every operator is online in the CRM; only 104's desk phone is registered: an unknown caller reaches 104."""
    phone = await phones.start("104", PhoneBehaviour(mode="answer", answer_ms=300))
    # The registration reaches perezvon as an AMI event a moment after the phone's 200 OK: ask the
    # router (as the dialplan would) until it knows, instead of racing it.
    await wait_for_route(perezvon, SHOP_DID, {"PJSIP/104"})
    call = await call_in(asterisk, InboundCall(caller="79161110042", talk_ms=1000), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await phone.wait_event("other side hung up")

    [record] = await wait_for_calls(perezvon, "+79161110042")
    assert (record["outcome"], record["answered_by"]) == ("answered", "104"), record
    assert [leg["extension"] for leg in record["legs"]] == ["104"], record
    assert record["route"]["targets"] == "PJSIP/104", record
