"""A call the router sends to an operator's web softphone, answered over AudioSocket by the real Asterisk.

The admin flags operator 103 "softphone" (desk phone 103 is not registered) and sends a DID to a group of
103 alone; the router answers ``AudioSocket/127.0.0.1:PORT/<uuid>/c(slin)`` with 103 in the UUID
(`pbx_bridge/audiosocket/legs.py`), and Asterisk's chan_audiosocket connects to `SoftphonePeer`, which
speaks the protocol as perezvon's softphone server will. The record must say 103 answered: the leg is an
``AudioSocket/...`` channel, not a PJSIP phone. Recorded (`AmiCapture`) for the fast suite's replay.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from crm.database import Pool
from pbx_bridge.audiosocket import legs
from pbx_bridge.simulator.agi_client import AgiCall, AgiTarget, ask_router
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import ADMIN, Service, WebSession
from tests.pbx.simulator_twin import assert_simulator_agrees
from tests.pbx.softphone_peer import SoftphonePeer
from tests.pbx.test_calls_groups import add_group_rule


@asynccontextmanager
async def softphone_flag(service: Service, login: str) -> AsyncIterator[None]:
    """As the admin would: tick "Softphone" on the manager's form; untick it afterwards."""
    async def set_flag(on: bool) -> None:
        session = WebSession(service.config.base_url)
        try:
            await session.login(ADMIN)
            async with session.http.get(service.config.base_url + "/managers") as response:
                listing = await response.text()
            found = re.search(rf"<td>{login}</td>.*?/managers/(\d+)/edit", listing, re.DOTALL)
            assert found, listing
            path = f"/managers/{found.group(1)}/edit"
            async with session.http.get(service.config.base_url + path) as response:
                form = await response.text()
            inputs = re.findall(r'<input name="(\w+)"[^>]*value="([^"]*)"', form)
            values = {name: html.unescape(value) for name, value in inputs}
            role = re.search(r'name="role">.*?<option value="(\w+)" selected', form, re.DOTALL)
            data = {key: values[key] for key in ("login", "display_name", "extensions", "seniority",
                                                 "max_concurrent_calls")}
            data.update({"role": role.group(1) if role else "operator", "active": "on", "password": ""})
            if on:
                data["softphone"] = "on"
            assert await session.post(path, data) == 303
        finally:
            await session.close()

    await set_flag(True)
    try:
        yield
    finally:
        await set_flag(False)


async def wait_for_softphone_route(service: Service, did: str, extension: str, timeout_s: float = 15) -> None:
    """Ask the router as the dialplan would until it answers one softphone leg of `extension`."""
    target = AgiTarget("127.0.0.1", service.config.agi_port, secret=service.config.agi_secret)
    deadline = time.monotonic() + timeout_s
    probe = 0
    while True:
        probe += 1
        linkedid = f"1700000100.{probe}"
        answer = await ask_router(target, AgiCall(channel="PJSIP/trunk-probe", uniqueid=linkedid, linkedid=linkedid,
                                                  caller="79160000000", caller_name="", did=did))
        targets = dict(answer or []).get("ROUTE_TARGETS", "").strip('"').split("&")
        if len(targets) == 1 and legs.channel_extension(targets[0]) == extension:
            assert targets[0].startswith(f"AudioSocket/{service.config.softphone_audiosocket}/"), targets
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the router never sent {did} to {extension}'s softphone; last: {answer}")
        await asyncio.sleep(0.2)


def _expected(hung_up_by: str) -> dict[str, Any]:
    return {"outcome": "answered", "answered_by": "103", "operator_extension": "103", "hung_up_by": hung_up_by,
            "transfers": [], "legs": [["103", "answered"]]}


async def test_softphone_answers_and_hangs_up(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                              workdir: Path, pool: Pool) -> None:
    did, caller = "74951234601", "79161110301"
    await add_group_rule(perezvon, "Softphone 103", did, ("103",), ring_all=False)
    port = int(perezvon.config.softphone_audiosocket.rsplit(":", 1)[1])
    async with softphone_flag(perezvon, "op103"), SoftphonePeer(port, talk_ms=2000) as softphone:
        await wait_for_softphone_route(perezvon, did, "103")
        async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
            call = await call_in(asterisk, InboundCall(caller=caller, did=did, mode="wait"), workdir)
            connection = await softphone.wait_for("leg")
            assert connection.leg is not None and legs.extension_of(connection.leg) == "103"
            await call.wait_event("answered")
            await softphone.wait_for("closed")
            assert await call.finish() == 0, call.sipp.describe()
            [record] = await wait_for_calls(perezvon, f"+{caller}")
            expected = _expected("operator")
            assert_record_matches(record, expected)
            assert connection.audio_bytes_in > 0, connection  # the customer's audio reached the softphone
            await ami.save("softphone_audiosocket", expected, linkedids=[record["linkedid"]],
                           scenario="the router sends the call to 103's softphone (AudioSocket/...); it answers, "
                                    "talks 2 s and hangs up (HANGUP frame)")
    await assert_simulator_agrees(pool, record, "inbound_softphone_answered",
                                  CallParams(customer=caller, extensions=("103",), did=did, ring_s=record["ring_s"],
                                             talk_s=record["talk_s"], operator_hangs_up=True))


async def test_customer_hangs_up_on_the_softphone(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                  workdir: Path) -> None:
    did, caller = "74951234602", "79161110302"
    await add_group_rule(perezvon, "Softphone 103 (customer hangs up)", did, ("103",), ring_all=False)
    port = int(perezvon.config.softphone_audiosocket.rsplit(":", 1)[1])
    async with softphone_flag(perezvon, "op103"), SoftphonePeer(port, talk_ms=0) as softphone:
        await wait_for_softphone_route(perezvon, did, "103")
        call = await call_in(asterisk, InboundCall(caller=caller, did=did, mode="hangup", talk_ms=1500), workdir)
        await softphone.wait_for("leg")
        assert await call.finish() == 0, call.sipp.describe()
        assert (await softphone.wait_for("closed")).closed_by == "asterisk"
        [record] = await wait_for_calls(perezvon, f"+{caller}")
        assert_record_matches(record, _expected("customer"))


async def test_softphone_server_down_leaves_an_unavailable_leg(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                               workdir: Path) -> None:
    """Nothing listens for the softphone: Asterisk makes no channel (connection refused); the leg the router
    asked for is still recorded (CHANUNAVAIL), and the call goes on to the fallback queue and voicemail."""
    did, caller = "74951234603", "79161110303"
    await add_group_rule(perezvon, "Softphone 103 (server down)", did, ("103",), ring_all=False)
    async with softphone_flag(perezvon, "op103"):
        await wait_for_softphone_route(perezvon, did, "103")
        call = await call_in(asterisk, InboundCall(caller=caller, did=did, mode="hangup", talk_ms=1000), workdir)
        assert await call.finish() == 0, call.sipp.describe()
        [record] = await wait_for_calls(perezvon, f"+{caller}")
    assert (record["outcome"], record["answered_by"]) == ("missed", ""), record
    assert [(leg["extension"], leg["result"]) for leg in record["legs"]] == [("103", "unavailable")], record
