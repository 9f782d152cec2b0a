"""Click-to-call and routing to registered phones only, on the real Asterisk.

Click-to-call: AMI `Originate` into asterisk-conf's `[perezvon-originate]` (until the panel has its
call button, sent by perezvon's own AMI client): the operator's desk phone rings first; when the
operator picks up, the customer is dialled through the trunk with the shop's caller ID.

Registration: after every AMI login perezvon asks Asterisk which phones are registered
(DeviceStateList, PJSIPShowContacts). Before that fix, an unknown caller was routed to the
least-loaded operator whose phone was not registered at all (CHANUNAVAIL, then the queue).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from crm.database import Pool
from pbx_bridge.ami_actions import Originate
from pbx_bridge.ami_client import AmiClient, AmiState
from pbx_bridge.ami_events import AmiEvent
from pbx_bridge.ami_settings import AmiSettings
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import SHOP_DID, CustomerBehaviour, InboundCall, call_in, provider_answering
from tests.pbx.records import wait_for_calls, wait_for_cdr
from tests.pbx.service_process import Service
from tests.pbx.simulator_twin import assert_simulator_agrees
from tests.pbx.test_calls_groups import wait_for_route


class _Ignore:
    def on_event(self, event: AmiEvent) -> None:
        return None


async def originate(asterisk: Asterisk, extension: str, customer: str) -> None:
    """What the panel's call button will send: ring `extension` first, then dial `customer`."""
    values = asterisk.scratch.values
    settings = AmiSettings(host="127.0.0.1", port=values.ami_port, username="perezvon", secret=values.ami_secret)
    async with AmiClient(settings, _Ignore()) as client:
        async with asyncio.timeout(20):
            await client.wait_status(lambda status: status.state is AmiState.CONNECTED)
        response = await client.send(Originate(channel=f"PJSIP/{extension}", context="perezvon-originate",
                                               exten=customer, caller_id=f'"Клиент" <{customer}>', timeout_s=20))
    assert response.success, response


async def test_click_to_call_answered(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path,
                                      pool: Pool) -> None:
    phone = await phones.start("103", PhoneBehaviour(mode="answer", answer_ms=500))
    async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=1000,
                                                                        hangup_ms=2000)) as customer:
        await originate(asterisk, "103", "79161110040")
        await customer.wait_event("customer hung up")
        await phone.wait_event("other side hung up")

    [record] = await wait_for_calls(perezvon, "+79161110040")
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
    async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="noanswer", answer_ms=2000)) as customer:
        await originate(asterisk, "103", "79161110041")
        await customer.wait_event("no answer")
        await phone.wait_event("other side hung up")

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
