"""Nobody can answer: the call ends in the shop's general mailbox, with the prompts the tier provides.

No desk phone is registered, so the router has nobody to ring and answers with its fallback (the
`sales` queue); the queue has no reachable member (`joinempty`) and the dialplan sends the caller to
VoiceMail(general,u). VoiceMail plays its prompts (the tier's tone WAVs, as asterisk-conf/README.md
says a source-built Asterisk has none) and records the customer's message.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import Service


def _messages(asterisk: Asterisk) -> list[Path]:
    inbox = asterisk.scratch.root / "spool" / "voicemail" / "default" / "general" / "INBOX"
    return sorted(inbox.glob("msg*.wav")) if inbox.exists() else []


async def test_nobody_to_answer_leaves_a_voicemail(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                   workdir: Path) -> None:
    before = set(_messages(asterisk))
    log_start = len(asterisk.full_log())
    call = await call_in(asterisk, InboundCall(caller="79161110007", mode="hangup", talk_ms=5000), workdir)
    await call.wait_event("answered")  # VoiceMail answers the call itself
    assert await call.finish() == 0, call.sipp.describe()

    [record] = await wait_for_calls(perezvon, "+79161110007")
    assert record["outcome"] == "missed" and record["answered_by"] in ("", None), record
    deadline = time.monotonic() + 10
    while not set(_messages(asterisk)) - before:
        assert time.monotonic() < deadline, "no voicemail message was saved"
        await asyncio.sleep(0.1)
    during = asterisk.full_log()[log_start:]
    # The queue had nobody reachable (app_queue logs no queue_log row for that, only this WARNING).
    assert "Unable to join queue 'sales'" in during
    assert "perezvon queue sales ended: JOINEMPTY" in during
    # Every prompt VoiceMail wanted was there.
    assert "does not exist" not in during, [line for line in during.splitlines() if "does not exist" in line]
    assert "Playing 'vm-intro" in during and "Playing 'beep" in during
