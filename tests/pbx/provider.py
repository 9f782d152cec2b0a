"""The provider (SIP trunk) played by sipp on 127.0.0.2: customers calling the shop.

pjsip.conf identifies the trunk by source address (`trunk-identify match`); the tier's scratch config
sets that to 127.0.0.2, so only these sipp processes are "the provider" while the phones on
127.0.0.1 authenticate as themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.scratch_conf import PBX_HOST, PROVIDER_HOST
from tests.pbx.sipp_process import ANONYMOUS, FOREVER_MS, Sipp, SippError, name_addr, start_sipp, uac_params

#: The shop's number in the shipped extensions.conf (DEFAULT_DID, the trunk's contact_user).
SHOP_DID = "74951234500"


@dataclass(frozen=True)
class InboundCall:
    """One customer call from the provider.

    mode hangup: the customer hangs up `talk_ms` after the answer; cancel: the customer gives up
    `cancel_ms` after the first ringing; wait: the customer waits for Asterisk's BYE.
    `caller` None: an anonymous caller. `caller_name`: the display name, sent as it is (escaped).
    `speech`: what the customer says (see `alaw_speech`).
    """

    caller: str | None = "79161234567"
    caller_name: str | None = None
    did: str = SHOP_DID
    mode: Literal["hangup", "cancel", "wait"] = "hangup"
    talk_ms: int = 2000
    cancel_ms: int = 3000
    #: An A-law WAV the customer says once answered (`alaw_speech`); None: sipp's short g711a pcap.
    speech: Path | None = None

    def audio(self) -> str:
        """The scenario's action once answered: the speech file as RTP (A-law, payload 8), else sipp's pcap."""
        if self.speech is None:
            return '<exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap" />'
        return f'<exec rtp_stream="{self.speech},1,8" />'

    def from_header(self) -> str:
        if self.caller is None:
            return ANONYMOUS
        return name_addr(self.caller, PROVIDER_HOST, self.caller_name)


async def alaw_speech(sample: Path, workdir: Path) -> Path:
    """`sample` (8 kHz 16-bit PCM) as the A-law WAV sipp's rtp_stream sends as payload 8, with sox."""
    out = workdir / f"{sample.stem}-alaw.wav"
    proc = await asyncio.create_subprocess_exec("sox", str(sample), "-r", "8000", "-c", "1", "-e", "a-law", str(out),
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"sox could not convert {sample}: {err.decode(errors='replace')}")
    return out


@dataclass
class ProviderCall:
    sipp: Sipp

    async def wait_event(self, what: str, timeout_s: float = 30) -> list[str]:
        """Wait for "ringing", "answered", "hung up", "asterisk hung up", "cancelled" or "failed" (+ status)."""
        return await self.sipp.wait_log(f"perezvon-provider: {what}", timeout_s)

    async def finish(self, timeout_s: float = 60) -> int:
        """Wait for the call to end; sipp's exit status (0 when the scenario ran to its end)."""
        return await self.sipp.wait(timeout_s)


async def call_in(asterisk: Asterisk, call: InboundCall, workdir: Path, name: str = "provider") -> ProviderCall:
    """Start the provider's INVITE to `call.did` (sipp exits when the call is over)."""
    sipp = await start_sipp(name, "provider_call_in.xml", f"{PBX_HOST}:{asterisk.scratch.values.sip_port}", workdir,
                            host=PROVIDER_HOST, keys={"from": call.from_header()},
                            params={**uac_params(call.mode, call.talk_ms, call.cancel_ms), "audio": call.audio()},
                            service=call.did)
    return ProviderCall(sipp)


@dataclass(frozen=True)
class CustomerBehaviour:
    """What the customer's side does with a call the shop places through the trunk.

    answer: answer after `answer_ms`; hang up after `hangup_ms` (the customer hangs up), or with 0
    wait for Asterisk's BYE. busy: 486. noanswer: ring `answer_ms`, then 480. ring: ring until CANCEL.
    """

    mode: Literal["answer", "busy", "noanswer", "ring"] = "answer"
    answer_ms: int = 1000
    hangup_ms: int = 0
    #: A digit pressed as soon as the call is answered (RFC 4733 events, sipp's own pcap), instead of speech.
    presses: str = ""

    def answer_audio(self) -> str:
        pcap = f"dtmf_2833_{self.presses}" if self.presses else "g711a"
        return f'<exec play_pcap_audio="/usr/share/sip-tester/{pcap}.pcap" />'


@dataclass
class ProviderUas:
    sipp: Sipp

    async def wait_event(self, what: str, count: int = 1, timeout_s: float = 30) -> list[str]:
        """Wait for "INVITE", "customer answered", "customer hung up", "asterisk hung up", "busy",
        "no answer", "cancelled"."""
        return await self.sipp.wait_log(f"perezvon-provider: {what}", timeout_s, count)


@asynccontextmanager
async def provider_answering(asterisk: Asterisk, workdir: Path, behaviour: CustomerBehaviour | None = None,
                             timeout_s: float = 15) -> AsyncIterator[ProviderUas]:
    """The provider listening on the trunk's contact (trunk-aor) for the duration of the block.

    On entry Asterisk is made to qualify the trunk at once and the block starts only when the contact is
    "Avail": between tests nothing answers there, the contact goes Unavailable, and Asterisk refuses every
    outbound Dial to an Unavailable contact until the next qualify (60 s later).
    """
    behaviour = behaviour or CustomerBehaviour()
    values = asterisk.scratch.values
    params = {"on_invite": "busy" if behaviour.mode == "busy" else "ringing",
              "answer_ms": str(FOREVER_MS if behaviour.mode == "ring" else behaviour.answer_ms),
              "on_ring_timeout": "unavailable" if behaviour.mode == "noanswer" else "answer",
              "talk_ms": str(behaviour.hangup_ms or FOREVER_MS), "answer_audio": behaviour.answer_audio()}
    sipp = await start_sipp("provider-uas", "provider_answer.xml", f"{PBX_HOST}:{values.sip_port}", workdir,
                            host=PROVIDER_HOST, port=values.provider_port, params=params, calls=None)
    try:
        contact = f"trunk-aor/{values.provider_uri}"
        deadline = time.monotonic() + timeout_s
        while True:
            await asterisk.cli("pjsip qualify trunk")
            out = await asterisk.cli("pjsip show contacts like trunk")
            if any(contact in line and " Avail " in line for line in out.splitlines()):
                break
            if time.monotonic() > deadline:
                raise SippError(f"the trunk's contact never became Avail:\n{out}\n{sipp.describe()}")
            await asyncio.sleep(0.2)
        yield ProviderUas(sipp)
    finally:
        await sipp.stop()
