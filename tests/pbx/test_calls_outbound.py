"""Outbound calls from an operator's desk phone through the trunk to a customer (sipp as the provider's UAS).

The dialplan's [from-internal] records the call and dials PJSIP/<number>@trunk with the shop's caller
ID; perezvon tracks it from AMI alone (no router involved).
"""

from __future__ import annotations

from pathlib import Path

from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import OutgoingCall, call_out
from tests.pbx.provider import CustomerBehaviour, provider_answering
from tests.pbx.records import wait_for_calls, wait_for_cdr
from tests.pbx.service_process import Service
from tests.pbx.simulator_twin import assert_simulator_agrees


async def test_outbound_from_operator_answered_operator_hangs_up(asterisk: Asterisk, perezvon: Service,
                                                                 phones: Phones, workdir: Path, pool: Pool) -> None:
    await phones.start("102")
    async with provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=1000)) as customer:
        dialer = await call_out(asterisk, "102", OutgoingCall(number="79161110002", talk_ms=2000), workdir)
        assert await dialer.wait(60) == 0, dialer.describe()
        await customer.wait_event("asterisk hung up")
        assert dialer.log_lines()[-1].startswith("perezvon-phone: outgoing hung up"), dialer.describe()

    [record] = await wait_for_calls(perezvon, "+79161110002")
    assert record["direction"] == "outbound", record
    assert record["outcome"] == "answered", record
    assert record["operator_extension"] == "102", record
    assert record["hung_up_by"] == "operator", record
    assert abs(record["talk_s"] - 2.0) <= 1.0, record

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    out = [row for row in rows if row["dstchannel"].startswith("PJSIP/trunk-")]
    assert out and out[0]["disposition"] == "ANSWERED", rows
    assert out[0]["dst"] == "79161110002" and out[0]["channel"].startswith("PJSIP/102-"), rows
    assert abs(int(out[0]["billsec"]) - record["talk_s"]) <= 1.0, (rows, record)
    await assert_simulator_agrees(pool, record, "outbound_from_operator", CallParams(
        customer="79161110002", extensions=("102",), ring_s=record["ring_s"], talk_s=record["talk_s"],
        operator_hangs_up=True))
