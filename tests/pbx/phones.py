"""Operator desk phones (pjsip.conf endpoints 101..105) played by sipp.

A phone registers with digest auth, answers Asterisk's qualify OPTIONS and MWI NOTIFY whenever they
come, and handles INVITEs as its `PhoneBehaviour` says. `start_phone` returns only once Asterisk
lists the new contact as reachable: routing rings only phones Asterisk reports registered, so a test
that calls before that would test a race, not the product.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.scratch_conf import PBX_HOST
from tests.pbx.sipp_process import FOREVER_MS, Sipp, SippError, start_sipp, uac_params


@dataclass(frozen=True)
class PhoneBehaviour:
    """What the phone does with an INVITE.

    answer: answer after `answer_ms`; hang up after `hangup_ms` (the operator hangs up), or with
    `hangup_ms` 0 wait for the other side's BYE. busy: 486. ring: ring until CANCEL.
    `transfer_to`: instead of hanging up after `hangup_ms`, press the transfer key (a blind transfer,
    SIP REFER) to that extension or number; Asterisk then hangs the phone up.
    """

    mode: Literal["answer", "busy", "ring"] = "answer"
    answer_ms: int = 500
    hangup_ms: int = 0
    transfer_to: str | None = None


@dataclass
class Phone:
    ext: str
    sipp: Sipp
    asterisk: Asterisk
    workdir: Path

    async def wait_event(self, what: str, count: int = 1, timeout_s: float = 30) -> list[str]:
        """Wait for the phone's log: "INVITE", "answered", "hung up", "other side hung up", "busy", "cancelled",
        "transfer sent", "transferred"."""
        return await self.sipp.wait_log(f"perezvon-phone: {what}", timeout_s, count)


def _password(asterisk: Asterisk, ext: str) -> str:
    return asterisk.scratch.values.phone_passwords[ext]


async def start_phone(asterisk: Asterisk, ext: str, workdir: Path,
                      behaviour: PhoneBehaviour = PhoneBehaviour(), timeout_s: float = 15) -> Phone:
    """Register phone `ext` on 127.0.0.1 (a free port) and wait until Asterisk finds it reachable."""
    params = {"on_invite": "busy" if behaviour.mode == "busy" else "ringing",
              "answer_ms": str(FOREVER_MS if behaviour.mode == "ring" else behaviour.answer_ms),
              "talk_ms": str(behaviour.hangup_ms or FOREVER_MS),
              "after_talk": "refer" if behaviour.transfer_to else "hangup", "refer_to": behaviour.transfer_to or "",
              "refer_quiet_ms": "300"}
    sipp = await start_sipp(f"phone-{ext}", "phone_register.xml", f"{PBX_HOST}:{asterisk.scratch.values.sip_port}",
                            workdir, host=PBX_HOST, keys={"ext": ext, "expires": "3600"}, params=params,
                            ooc_scenario="phone_inbound.xml", auth=(ext, _password(asterisk, ext)))
    phone = Phone(ext, sipp, asterisk, workdir)
    try:
        await sipp.wait_log(f"perezvon-phone: registered {ext}", timeout_s)
        contact = f"{ext}/sip:{ext}@{PBX_HOST}:{sipp.port}"
        deadline = time.monotonic() + timeout_s
        while True:
            out = await asterisk.cli(f"pjsip show contacts like {ext}")
            if any(contact in line and " Avail " in line for line in out.splitlines()):
                break
            if time.monotonic() > deadline:
                raise SippError(f"Asterisk never found {contact} reachable:\n{out}\n{sipp.describe()}")
            await asyncio.sleep(0.1)
    except BaseException:
        await sipp.stop()
        raise
    return phone


async def stop_phone(phone: Phone) -> None:
    """Switch the phone off cleanly: stop it, then remove its registration (no stale contact for the next test)."""
    await phone.sipp.stop()
    values = phone.asterisk.scratch.values
    unregister = await start_sipp(f"phone-{phone.ext}-unregister", "phone_unregister.xml",
                                  f"{PBX_HOST}:{values.sip_port}", phone.workdir, host=PBX_HOST,
                                  keys={"ext": phone.ext}, auth=(phone.ext, _password(phone.asterisk, phone.ext)))
    status = await unregister.wait(15)
    if status != 0:
        raise SippError(f"unregistering {phone.ext} failed ({status}):\n{unregister.describe()}")


@dataclass(frozen=True)
class OutgoingCall:
    """A call the operator dials on the desk phone: to a customer number (through the trunk) or an extension.

    mode hangup: the operator hangs up `talk_ms` after the answer; cancel: gives up `cancel_ms` after the
    first ringing; wait: waits for the other side's BYE.
    """

    number: str
    mode: Literal["hangup", "cancel", "wait"] = "hangup"
    talk_ms: int = 2000
    cancel_ms: int = 3000


async def call_out(asterisk: Asterisk, ext: str, call: OutgoingCall, workdir: Path) -> Sipp:
    """Start the outgoing call from `ext` (its own sipp process; it ends when the call does).

    Log events: "outgoing ringing", "outgoing answered", "outgoing hung up", "outgoing other side hung up",
    "outgoing cancelled", "outgoing failed <call-id> <status>" (prefixed "perezvon-phone: ").
    """
    return await start_sipp(f"phone-{ext}-out", "phone_call_out.xml", f"{PBX_HOST}:{asterisk.scratch.values.sip_port}",
                            workdir, host=PBX_HOST, keys={"ext": ext}, params=uac_params(call.mode, call.talk_ms,
                                                                                        call.cancel_ms),
                            service=call.number,
                            auth=(ext, _password(asterisk, ext)))


_ANSWERED = re.compile(r"answered (?P<call_id>\S+) tag=(?P<tag>\S+) own=(?P<own>.*) peer=(?P<peer>.*) "
                       r"contact=(?P<contact>\S+)")
_CONSULT_ANSWERED = re.compile(r"outgoing answered (?P<call_id>\S+) tag=(?P<tag>\S+) to=.*;tag=(?P<to_tag>[^;\s]+)")


async def transfer_attended_from_phone(phone: Phone, consultation: Sipp, target: str) -> Sipp:
    """The transfer key, attended: `phone` talks with a customer and has placed `consultation` (its own
    `call_out` to `target`, answered); it sends REFER in the customer's dialog with Refer-To
    ``sip:TARGET@PBX?Replaces=<the consultation>``. Returns the sipp process that sends it (log events
    "transfer sent", "transferred"); `phone` is stopped, since this process takes its dialog over."""
    [answered] = (await phone.wait_event("answered"))[-1:]
    dialog = _ANSWERED.search(answered)
    [consulted] = (await consultation.wait_log("perezvon-phone: outgoing answered"))[-1:]
    consult = _CONSULT_ANSWERED.search(consulted)
    if dialog is None or consult is None:
        raise SippError(f"no dialog in the phones' logs: {answered!r} / {consulted!r}")
    replaces = f"{consult['call_id']};to-tag={consult['to_tag']};from-tag={consult['tag']}"
    values = phone.asterisk.scratch.values
    port = phone.sipp.port
    await phone.sipp.stop()  # its dialog with the customer stays up in Asterisk; the process below takes it
    idle = {"on_invite": "ringing", "answer_ms": str(FOREVER_MS), "talk_ms": str(FOREVER_MS),
            "after_talk": "hangup", "refer_to": "", "refer_quiet_ms": "300"}
    return await start_sipp(
        f"phone-{phone.ext}-refer", "phone_refer_replaces.xml", f"{PBX_HOST}:{values.sip_port}", phone.workdir,
        host=PBX_HOST, port=port, params=idle, ooc_scenario="phone_inbound.xml",
        keys={"own_uri": dialog["own"], "own_tag": dialog["tag"], "peer_from": dialog["peer"],
              "peer_contact": dialog["contact"],
              "refer_to": f"sip:{target}@{PBX_HOST}:{values.sip_port}?Replaces={quote(replaces, safe='')}"},
        extra=("-cid_str", dialog["call_id"]))
