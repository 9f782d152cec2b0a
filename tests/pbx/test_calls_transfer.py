"""Transfers through the real Asterisk: from the AMI (BlindTransfer, Atxfer = features.conf's `*2`) and
from the phone's own transfer key (SIP REFER), attended, "blonde", to a busy target, and twice in a row.

Each call is recorded (`AmiCapture`) and, with PEREZVON_RECORD_CAPTURES=1, kept in
tests/fixtures/asterisk-22-perezvon for the fast suite's replay. The record must say who answered first
(`answered_by`), every transfer in order (kind, from, what was dialled, who took it) and who ended up
with the customer (`operator_extension`). The transfer targets' phones register only after the first
operator answered, so the router (least loaded of the registered phones) always picks 101 first.
The simulator plays the blind transfer (`inbound_blind_transfer`): that scenario has a twin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.phones import Phone, PhoneBehaviour
from tests.pbx.provider import InboundCall, ProviderCall, call_in
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import Service
from tests.pbx.simulator_twin import assert_simulator_agrees


def _transfer(kind: str, source: str, target: str, taken_by: str, result: str = "completed") -> dict[str, str]:
    return {"kind": kind, "from_extension": source, "target": target, "taken_by": taken_by, "result": result}


@dataclass
class Talking:
    """A customer's call that 101 answered, recorded from before it began."""

    ami: AmiCapture
    call: ProviderCall
    phone: Phone
    #: 101's channel (what the AMI transfer actions name).
    channel: str


@asynccontextmanager
async def customer_talking_to_101(asterisk: Asterisk, phones: Phones, workdir: Path, caller: str, talk_ms: int,
                                  behaviour: PhoneBehaviour | None = None) -> AsyncIterator[Talking]:
    """Only 101 registered, so the router sends the call there; yields once 101 talks with the customer."""
    p101 = await phones.start("101", behaviour or PhoneBehaviour(mode="answer", answer_ms=500))
    async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
        call = await call_in(asterisk, InboundCall(caller=caller, talk_ms=talk_ms), workdir)
        await p101.wait_event("answered")
        await ami.wait_event("BridgeEnter", Channel="PJSIP/101-")
        yield Talking(ami, call, p101, ami.channel_of("101"))


async def _finish(ami: AmiCapture, perezvon: Service, call: ProviderCall, caller: str, name: str,
                  expected: dict[str, Any], scenario: str) -> dict[str, Any]:
    assert await call.finish() == 0, call.sipp.describe()
    [record] = await wait_for_calls(perezvon, f"+{caller}")
    assert_record_matches(record, expected)
    await ami.save(name, expected, scenario=scenario, linkedids=[record["linkedid"]])
    return record


async def test_blind_transfer_from_the_ami(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                           workdir: Path, pool: Pool) -> None:
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110201", 5000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        p102 = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=500))
        await ami.action("BlindTransfer", Channel=channel, Exten="102", Context="from-internal")
        await p102.wait_event("answered")
        record = await _finish(ami, perezvon, call, "79161110201", "transfer_blind_ami", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "102", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "102", "102")],
        }, "101 answers; AMI BlindTransfer to 102; 102 answers; the customer hangs up")
    await assert_simulator_agrees(pool, record, "inbound_blind_transfer", CallParams(
        customer="79161110201", extensions=("101",), colleague="102", ring_s=record["ring_s"],
        talk_s=record["talk_s"]))


async def test_blind_transfer_from_the_phone(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                             workdir: Path) -> None:
    refer = PhoneBehaviour(mode="answer", answer_ms=500, hangup_ms=1500, transfer_to="102")
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110202", 6000, refer) as talking:
        ami, call, p101 = talking.ami, talking.call, talking.phone
        p102 = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=500))
        await p101.wait_event("transferred")
        await p102.wait_event("answered")
        await _finish(ami, perezvon, call, "79161110202", "transfer_blind_phone_refer", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "102", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "102", "102")],
        }, "101 answers and presses the transfer key (SIP REFER to 102); 102 answers; the customer hangs up")


@pytest.mark.parametrize("blonde", [False, True], ids=["consulted", "blonde"])
async def test_attended_transfer(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path,
                                 blonde: bool) -> None:
    """Atxfer types features.conf's atxfer code (*2) and the number on 101's channel: the customer hears
    music, 101 consults 102 through a Local channel, and 101 hanging up completes the transfer: after 102
    answered, or ("blonde") while 102 still rings."""
    caller = "79161110204" if blonde else "79161110203"
    async with customer_talking_to_101(asterisk, phones, workdir, caller, 8000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        p102 = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=3000 if blonde else 500))
        await ami.action("Atxfer", Channel=channel, Exten="102", Context="from-internal")
        if blonde:
            await p102.wait_event("INVITE")
        else:
            await p102.wait_event("answered")
            await ami.wait_event("BridgeEnter", Channel="PJSIP/102-")
        await ami.action("Hangup", Channel=channel)
        await p102.wait_event("answered")
        scenario = ("101 answers; AMI Atxfer (features *2) to 102; "
                    + ("101 hangs up while 102 still rings; 102 answers later" if blonde else
                       "102 answers the consultation; 101 hangs up") + "; the customer talks to 102 and hangs up")
        await _finish(ami, perezvon, call, caller, "transfer_blonde" if blonde else "transfer_attended_ami", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "102", "hung_up_by": "customer",
            "transfers": [_transfer("attended", "101", "102", "102")],
        }, scenario)


async def test_transfer_to_a_busy_phone(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                        workdir: Path) -> None:
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110205", 4000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        p102 = await phones.start("102", PhoneBehaviour(mode="busy"))
        await ami.action("BlindTransfer", Channel=channel, Exten="102", Context="from-internal")
        await p102.wait_event("busy")
        # The dialplan's internal extension sends the customer to 102's voicemail.
        await _finish(ami, perezvon, call, "79161110205", "transfer_blind_busy_target", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "101", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "102", "", "busy")],
        }, "101 answers; AMI BlindTransfer to 102, which is busy; voicemail takes the customer, who hangs up")


async def test_transfer_to_a_phone_that_does_not_answer(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                        workdir: Path) -> None:
    """102 rings through extensions.conf's INTERNAL_RING_TIMEOUT (30 s) and never answers: the transfer ends
    "no answer", 101 stays the customer's operator, and the dialplan sends the customer to 102's voicemail.
    The customer hangs up 33 s after 101 answered: the transfer comes a moment after that answer, so 102 has
    rung its 30 s, and VoiceMail (which ends the call itself after about 5 s of silence) is still listening."""
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110210", 33000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        p102 = await phones.start("102", PhoneBehaviour(mode="ring"))
        await ami.action("BlindTransfer", Channel=channel, Exten="102", Context="from-internal")
        await p102.wait_event("INVITE")
        await p102.wait_event("cancelled", timeout_s=45)
        await _finish(ami, perezvon, call, "79161110210", "transfer_blind_no_answer_target", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "101", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "102", "", "no_answer")],
            "legs": [["101", "answered"], ["102", "no_answer"]],
        }, "101 answers; AMI BlindTransfer to 102, which rings 30 s and never answers; voicemail takes the "
           "customer, who hangs up")


async def test_two_transfers_in_a_row(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                      workdir: Path) -> None:
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110206", 7000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        p102 = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=500, hangup_ms=1500,
                                                        transfer_to="103"))
        p103 = await phones.start("103", PhoneBehaviour(mode="answer", answer_ms=500))
        await ami.action("BlindTransfer", Channel=channel, Exten="102", Context="from-internal")
        await p102.wait_event("transferred")
        await p103.wait_event("answered")
        await _finish(ami, perezvon, call, "79161110206", "transfer_twice", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "103", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "102", "102"), _transfer("blind", "102", "103", "103")],
        }, "101 answers; AMI BlindTransfer to 102; 102 answers and presses the transfer key (REFER to 103); "
           "103 answers; the customer hangs up")


async def test_transfer_to_an_unregistered_phone(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                 workdir: Path) -> None:
    """104 is switched off: the transfer's Dial(PJSIP/104) gets no channel at all (no DialBegin, only
    DIALSTATUS=CHANUNAVAIL), yet the record shows 104 was tried and could not be rung."""
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110207", 4000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        await ami.action("BlindTransfer", Channel=channel, Exten="104", Context="from-internal")
        await ami.wait_event("VarSet", Variable="DIALSTATUS", Value="CHANUNAVAIL")
        await _finish(ami, perezvon, call, "79161110207", "transfer_blind_unregistered_target", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "101", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "104", "", "failed")],
            "legs": [["101", "answered"], ["104", "unavailable"]],
        }, "101 answers; AMI BlindTransfer to 104, which is not registered (CHANUNAVAIL, no channel); "
           "voicemail takes the customer, who hangs up")


async def test_blind_transfer_to_the_queue(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                           workdir: Path) -> None:
    """101 sends the customer to the queue's number (600); the queue rings its free members and 102 takes the
    call: the transfer was taken by 102 (not "600"), who ended up with the customer. 101's phone is switched
    off first (its call goes on in Asterisk), so the queue's round robin cannot hand the call back to it."""
    async with customer_talking_to_101(asterisk, phones, workdir, "79161110208", 6000) as talking:
        ami, call, channel = talking.ami, talking.call, talking.channel
        p102 = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=500))
        await phones.stop(talking.phone)
        await ami.action("BlindTransfer", Channel=channel, Exten="600", Context="from-internal")
        await p102.wait_event("answered")
        await _finish(ami, perezvon, call, "79161110208", "transfer_blind_to_queue", {
            "outcome": "answered", "answered_by": "101", "operator_extension": "102", "hung_up_by": "customer",
            "transfers": [_transfer("blind", "101", "600", "102")],
        }, "101 answers; AMI BlindTransfer to 600 (the sales queue); the queue rings 102, who answers; "
           "the customer hangs up")
