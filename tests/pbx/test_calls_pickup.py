"""Call pickup through the real Asterisk: a colleague answers a call ringing another operator's phone,
with the group pickup code (`*8`, what a phone's pickup key dials) or the directed one (`**101`).

The record must say the call was answered by whoever picked it up, once, and the pickup must not leave a
second, phantom call behind (the picker's own dial of `*8` is a channel of its own). Recorded by
`AmiCapture` for the fast suite's replay; the simulator's `inbound_pickup` is checked against each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.phones import OutgoingCall, PhoneBehaviour, call_out
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import Service
from tests.pbx.simulator_twin import assert_simulator_agrees


@pytest.mark.parametrize(("code", "caller", "name"), [("*8", "79161110211", "pickup_group"),
                                                      ("**101", "79161110212", "pickup_directed")],
                         ids=["group", "directed"])
async def test_a_colleague_picks_up(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path,
                                    pool: Pool, code: str, caller: str, name: str) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    p101 = await phones.start("101", PhoneBehaviour(mode="ring"))
    async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
        call = await call_in(asterisk, InboundCall(caller=caller, talk_ms=3000), workdir)
        await p101.wait_event("INVITE")
        # 102 registers only now, so the router had only 101 to send the call to.
        await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=500))
        picker = await call_out(asterisk, "102", OutgoingCall(number=code, mode="wait"), workdir)
        await p101.wait_event("cancelled")
        assert await call.finish() == 0, call.sipp.describe()
        assert await picker.wait(30) == 0, picker.describe()
        [record] = await wait_for_calls(perezvon, f"+{caller}")
        expected = {"direction": "inbound", "outcome": "answered", "answered_by": "102",
                    "operator_extension": "102", "hung_up_by": "customer", "transfers": [],
                    "legs": [["101", "answered_elsewhere"], ["102", "answered"]]}
        assert_record_matches(record, expected)
        # The picker's dial of the code is no call of its own.
        everything = await wait_for_calls(perezvon, since=started)
        assert [c["linkedid"] for c in everything] == [record["linkedid"]], everything
        await ami.save(name, expected, scenario=f"101 rings; 102 dials {code} and takes the call; the customer "
                       "hangs up", linkedids=[record["linkedid"]])
    await assert_simulator_agrees(pool, record, "inbound_pickup", CallParams(
        customer=caller, extensions=("101",), colleague="102", ring_s=record["ring_s"], talk_s=record["talk_s"]))
