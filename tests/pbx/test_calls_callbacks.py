"""No missed call forgotten, on the real Asterisk: a missed call creates the callback task (through the job
queue of the real `perezvon serve`), and the callback placed with the panel's call button closes it; switched
on, auto-callback places it by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import CustomerBehaviour, InboundCall, call_in, provider_answering
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import ADMIN, OPERATOR_LOGINS, Service, WebSession
from tests.pbx.test_calls_click_to_call import operator_tab, progress, registered


async def callback_of(perezvon: Service, phone: str, status: str, timeout_s: float = 30) -> dict[str, Any]:
    """The callback task for `phone` once it has `status` (the job queue runs it a moment after the call)."""
    async with asyncio.timeout(timeout_s):  # another process is observed: there is no event to wait on
        while True:  # noqa: ASYNC110
            page = await perezvon.get_json(f"/api/v1/tasks?kind=callback&status={status}")
            found = [t for t in page["items"] if t.get("phone") == phone]
            if found:
                return dict(found[0])
            await asyncio.sleep(0.3)  # noqa: ASYNC110


async def test_a_missed_call_makes_a_callback_and_click_to_call_closes_it(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    phone = await phones.start("101", PhoneBehaviour(mode="ring"))
    call = await call_in(asterisk, InboundCall(caller="79161110070", mode="cancel", cancel_ms=4000), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await phone.wait_event("cancelled")
    [missed] = await wait_for_calls(perezvon, "+79161110070")
    assert (missed["outcome"], missed["reason"]) == ("missed", "abandoned"), missed
    task = await callback_of(perezvon, "+79161110070", "open")
    assert task["missed_calls"] == 1 and task["due_at"], task
    await phones.stop(phone)

    answering = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=300))
    await registered(perezvon, "101")
    async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=800,
                                                                        hangup_ms=1500)) as customer, \
            operator_tab(perezvon, "101") as (session, ws):
        status, placed = await session.post_json("/api/v1/calls/originate", {"task_id": task["id"]})
        assert status == 202, placed
        assert (await progress(ws, placed["call_id"]))[-1] == "ended"
        await customer.wait_event("customer hung up")
        await answering.wait_event("other side hung up")
    done = await callback_of(perezvon, "+79161110070", "done")
    assert (done["id"], done["outcome"]) == (task["id"], "reached"), done


async def _set_auto_callback(perezvon: Service, on: bool) -> None:
    admin = WebSession(perezvon.config.base_url)
    try:
        await admin.login(ADMIN)
        form = {"deadline_minutes": "5", "short_ring_s": "3", "exclude_short": "1", "auto_max_attempts": "2",
                "auto_spacing_minutes": "10"}
        await admin.post("/settings/callbacks", {**form, "auto_callback": "1"} if on else form)
    finally:
        await admin.close()


async def test_auto_callback_rings_the_free_assignee_then_the_customer(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    """Switched on, perezvon places the missed call's callback itself once its assignee is online and free."""
    operator = WebSession(perezvon.config.base_url)
    try:
        await operator.login(OPERATOR_LOGINS["101"])
        async with operator.http.get(perezvon.config.base_url + "/api/v1/me") as resp:
            me = await resp.json()
    finally:
        await operator.close()
    headers = {"Authorization": f"Bearer {perezvon.token}"}
    async with aiohttp.ClientSession(headers=headers) as http, \
            http.post(perezvon.config.base_url + "/api/v1/customers", json={
                "name": "Орлова Вера", "phones": ["+79161110080"], "responsible_manager_id": me["id"]}) as resp:
        assert resp.status == 201, await resp.text()
    ringing = await phones.start("101", PhoneBehaviour(mode="ring"))
    call = await call_in(asterisk, InboundCall(caller="79161110080", mode="cancel", cancel_ms=4000), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    task = await callback_of(perezvon, "+79161110080", "open")
    assert task["assignee_id"] == me["id"], task
    await phones.stop(ringing)

    answering = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=300))
    await registered(perezvon, "101")
    try:
        async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=800,
                                                                            hangup_ms=1500)) as customer:
            await _set_auto_callback(perezvon, True)
            await customer.wait_event("customer hung up", timeout_s=60)  # the sweep runs every 20 s
            await answering.wait_event("other side hung up")
    finally:
        await _set_auto_callback(perezvon, False)
    done = await callback_of(perezvon, "+79161110080", "done")
    assert (done["id"], done["outcome"]) == (task["id"], "reached"), done
