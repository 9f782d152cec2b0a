"""No missed call forgotten, on the real Asterisk: a missed call creates the callback task (through the job
queue of the real `perezvon serve`), and the callback placed with the panel's call button closes it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import CustomerBehaviour, InboundCall, call_in, provider_answering
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import Service
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
