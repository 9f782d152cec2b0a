"""Self-check calls on the real Asterisk: the supervisor's "Place a test call now" makes perezvon send the AMI
Originate of `Local/<shop number>@perezvon-selfcheck`; Asterisk dials the shop's own number through the trunk
with the shop's caller ID; the provider (sipp) answers it and, as a carrier does, sends the call back in to
the shop's number from that caller ID; the operator's desk phone answers. The run reads "answered" with the
time it rang, on the page and in `GET /api/v1/reports/self-checks`, and the audit does not count it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import SHOP_DID, CustomerBehaviour, InboundCall, call_in, provider_answering
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import ADMIN, Service, WebSession
from tests.pbx.test_calls_click_to_call import registered


async def latest_run(perezvon: Service, timeout_s: float = 30) -> dict[str, Any]:
    """The newest self-check run once it is no longer under way (the job queue judges it after the call)."""
    async with asyncio.timeout(timeout_s):  # another process decides: there is no event to wait on
        while True:  # noqa: ASYNC110
            items = (await perezvon.get_json("/api/v1/reports/self-checks"))["items"]
            if items and items[0]["state"] not in ("pending", "calling"):
                return dict(items[0])
            await asyncio.sleep(0.3)


async def test_a_self_check_call_leaves_through_the_trunk_and_comes_back_answered(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    before = await perezvon.get_json("/api/v1/reports/missed-calls")
    phone = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=1500))
    await registered(perezvon, "101")
    head = WebSession(perezvon.config.base_url)
    try:
        await head.login(ADMIN)
        await head.post("/audit/self-check/settings", {"weekdays": "5", "at_time": "17:45", "did": SHOP_DID,
                                                       "caller": "+" + SHOP_DID, "wait_s": "2"})
        async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=300)) as trunk:
            await head.post("/audit/self-check/call", {})
            assert await trunk.wait_event("INVITE"), "the test call never left through the trunk"
            # The carrier connects it to the shop's number: a call in from the shop's own caller ID.
            back = await call_in(asterisk, InboundCall(caller=SHOP_DID, mode="hangup", talk_ms=2000), workdir)
            assert await back.finish() == 0, back.sipp.describe()
            await phone.wait_event("other side hung up")
            await trunk.wait_event("asterisk hung up")
        run = await latest_run(perezvon)
        assert run["state"] == "answered" and 0.5 <= run["ring_s"] <= 10, run
        async with head.http.get(perezvon.config.base_url + "/audit/self-check") as page:
            assert f'data-run="{run["id"]}" data-state="answered"' in await page.text()
    finally:
        await head.close()

    [inbound] = await wait_for_calls(perezvon, "+" + SHOP_DID, where=lambda c: c["direction"] == "inbound")
    assert inbound["outcome"] == "answered" and inbound["operator_extension"] == "101", inbound
    after = await perezvon.get_json("/api/v1/reports/missed-calls")
    assert after["inbound"] == before["inbound"], "a test call is not one of the shop's calls"
