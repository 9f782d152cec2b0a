"""A duty number after hours, with call screening: the mobile must press 1 before the customer is connected.

The admin gives a DID a schedule that is never open, with "dial:+79161110090" (a duty mobile) after
hours. The shipped dialplan's `dial:` fallback rings it with Dial option U(perezvon-duty-screen): once the
mobile answers it hears a beep and has DUTY_SCREEN_TIMEOUT (10 s) to press 1. The provider's sipp plays the
mobile: it answers and presses nothing (as a mobile's own voicemail would), or presses 1 (RFC 4733).
A leg that answered while the customer was never connected to it is not an answered call.
No twin: the simulator has no after-hours duty-number scenario.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from pbx_bridge.simulator.agi_client import AgiCall, AgiTarget, ask_router
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.provider import CustomerBehaviour, InboundCall, call_in, provider_answering
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import ADMIN, Service, WebSession

_probes = itertools.count(1)


async def closed_with_duty_number(service: Service, did: str, duty: str) -> None:
    """As the admin would: a schedule for `did` closed every day, its after-hours target the duty number."""
    session = WebSession(service.config.base_url)
    try:
        await session.login(ADMIN)
        form = {"did": did, "timezone": "Europe/Moscow", "after_hours_target": f"dial:+{duty}"}
        form.update({f"closed_{day}": "on" for day in range(1, 8)})
        assert await session.post("/routing/schedules/new", form) == 303
    finally:
        await session.close()
    target = AgiTarget("127.0.0.1", service.config.agi_port, secret=service.config.agi_secret)
    deadline = time.monotonic() + 15
    while True:  # the router's configuration is cached for 2 s: ask it until it answers the new schedule
        probe = f"1700000200.{next(_probes)}"
        answer = dict(await ask_router(target, AgiCall(channel="PJSIP/trunk-probe", uniqueid=probe, linkedid=probe,
                                                       caller="79160000000", caller_name="", did=did)) or [])
        if answer.get("ROUTE_FALLBACK", "").strip('"') == f"dial:+{duty}":
            return
        assert time.monotonic() < deadline, f"the router never sent {did} to the duty number: {answer}"
        await asyncio.sleep(0.2)


async def test_duty_phone_that_does_not_accept_leaves_a_missed_call(asterisk: Asterisk, perezvon: Service,
                                                                    phones: Phones, workdir: Path) -> None:
    did, duty, caller = "74951234611", "79161110090", "79161110310"
    await closed_with_duty_number(perezvon, did, duty)
    async with (provider_answering(asterisk, workdir, CustomerBehaviour(mode="answer", answer_ms=500)) as mobile,
                AmiCapture.open(asterisk, keep_in=workdir) as ami):
        call = await call_in(asterisk, InboundCall(caller=caller, did=did, mode="hangup", talk_ms=2000), workdir)
        await mobile.wait_event("customer answered")
        await mobile.wait_event("asterisk hung up", timeout_s=30)  # not accepted in 10 s: Asterisk hangs up on it
        await call.wait_event("answered", timeout_s=30)  # then VoiceMail answers the customer
        assert await call.finish() == 0, call.sipp.describe()
        [record] = await wait_for_calls(perezvon, f"+{caller}")
        expected = {"outcome": "missed", "reason": "rejected", "answered_by": "", "legs": [[duty, "rejected"]]}
        assert_record_matches(record, expected)
        await ami.save("duty_screening_not_accepted", expected, linkedids=[record["linkedid"]],
                       scenario="after hours the call goes to the duty mobile (Dial U(perezvon-duty-screen)); it "
                                "answers but never presses 1; Asterisk hangs it up and VoiceMail takes the customer")
    assert "perezvon: duty phone did not accept (TIMEOUT" in asterisk.full_log()


async def test_duty_phone_that_presses_1_takes_the_call(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                        workdir: Path) -> None:
    did, duty, caller = "74951234612", "79161110091", "79161110311"
    await closed_with_duty_number(perezvon, did, duty)
    async with (provider_answering(asterisk, workdir,
                                   CustomerBehaviour(mode="answer", answer_ms=500, presses="1")) as mobile,
                AmiCapture.open(asterisk, keep_in=workdir) as ami):
        call = await call_in(asterisk, InboundCall(caller=caller, did=did, mode="hangup", talk_ms=2000), workdir)
        await mobile.wait_event("customer answered")
        await call.wait_event("answered", timeout_s=15)
        assert await call.finish() == 0, call.sipp.describe()
        await mobile.wait_event("asterisk hung up")
        [record] = await wait_for_calls(perezvon, f"+{caller}")
        expected = {"outcome": "answered", "answered_by": duty, "hung_up_by": "customer",
                    "legs": [[duty, "answered"]]}
        assert_record_matches(record, expected)
        await ami.save("duty_screening_accepted", expected, linkedids=[record["linkedid"]],
                       scenario="after hours the call goes to the duty mobile, which answers and presses 1 "
                                "(RFC 4733): the customer is connected; the customer hangs up")
