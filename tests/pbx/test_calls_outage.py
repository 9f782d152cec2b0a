"""Calls through outages of perezvon itself, on the real Asterisk: a call is never dropped, and recorded once.

* perezvon down when the call arrives: the dialplan's AGI gets "connection refused", logs it and
  sends the call to the `sales` queue; perezvon comes back while the call is still in progress,
  its AMI resync picks the call up, and the record is right once the customer hangs up.
* the AMI connection cut mid-call, and the service restarted mid-call: a second perezvon (an
  observer: its own database, its AMI through a cuttable proxy, no FastAGI role) must end the call
  right, once. The session's perezvon keeps routing the calls meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pbx_bridge.tcp_proxy import TcpProxy
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.ports import free_port
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import (
    ADMIN,
    PASSWORD,
    Service,
    ServiceConfig,
    admin_health,
    run_cli,
    start_service,
    stop_service,
)


def _ended_with_talk_time(call: dict[str, Any]) -> bool:
    return call["outcome"] is not None and call["talk_s"] is not None


async def restart_in_place(service: Service) -> None:
    """Start `perezvon serve` again on the same data directory and ports; `service` then refers to the new one."""
    fresh = await start_service(service.config, service.token, log_name=service.log_file.name)
    service.process = fresh.process


async def test_perezvon_down_the_call_takes_the_queue_and_is_recorded_when_it_is_back(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500))  # a member of queue sales
    assert await stop_service(perezvon) == 0, perezvon.log()[-3000:]
    try:
        call = await call_in(asterisk, InboundCall(caller="79161110021", talk_ms=20000), workdir)
        await call.wait_event("answered")
    finally:
        await restart_in_place(perezvon)
    assert await call.finish() == 0, call.sipp.describe()

    [record] = await wait_for_calls(perezvon, "+79161110021", timeout_s=40)
    assert (record["outcome"], record["answered_by"], record["hung_up_by"]) == ("answered", "101", "customer"), record
    assert record["closed_by"] == "pbx", record
    assert record["route"] is None, record  # the router never saw it: the dialplan's own fallback did
    warnings = asterisk.log_lines("WARNING")
    assert any("perezvon router unavailable" in line for line in warnings), warnings[-20:]


@asynccontextmanager
async def observer(asterisk: Asterisk, root: Path, ami_port: int) -> AsyncIterator[Service]:
    """A second perezvon on its own database, reading the same Asterisk's AMI at `ami_port`."""
    config = ServiceConfig(data_dir=root / "observer" / "data", ami_port=ami_port,
                           ami_secret=asterisk.scratch.values.ami_secret, agi_port=free_port())
    config.data_dir.mkdir(parents=True)
    await run_cli(config, "user", "add", ADMIN, "--name", "Observer admin", "--role", "admin", "--password-stdin",
                  stdin=PASSWORD + "\n")
    token = (await run_cli(config, "token", "create", "--user", ADMIN)).strip().splitlines()[-1]
    service = await start_service(config, token, log_name="observer.log")
    try:
        yield service
    finally:
        await stop_service(service)


async def test_ami_cut_mid_call_the_call_ends_right_once(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    async with TcpProxy("127.0.0.1", asterisk.scratch.values.ami_port) as proxy, \
            observer(asterisk, workdir, proxy.port) as watcher:
        sessions_before = (await admin_health(watcher))["ami_status"]["sessions"]
        await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500))
        call = await call_in(asterisk, InboundCall(caller="79161110022", talk_ms=8000), workdir)
        await call.wait_event("answered")
        assert proxy.cut() >= 1
        health = await watcher.wait_health("ami", "reconnecting", timeout_s=10)
        assert health["status"] == "ok", health  # a short drop is within the grace period
        await watcher.wait_health("ami", "connected", timeout_s=30)
        assert (await admin_health(watcher))["ami_status"]["sessions"] == sessions_before + 1
        assert await call.finish() == 0, call.sipp.describe()

        # Its talk time comes with Asterisk's Cdr, a moment after the end: wait for it.
        [seen] = await wait_for_calls(watcher, "+79161110022", done=_ended_with_talk_time)
        [routed] = await wait_for_calls(perezvon, "+79161110022")
    for record in (seen, routed):
        assert (record["outcome"], record["answered_by"], record["hung_up_by"]) == (
            "answered", "101", "customer"), record
    assert seen["linkedid"] == routed["linkedid"]
    # The watcher saw the answer only through the resync: the talk time is Asterisk's own (the Cdr's
    # BillableSeconds, whole seconds), not nothing.
    assert seen["talk_s"] is not None and abs(seen["talk_s"] - 8.0) <= 1.5, seen


async def test_service_restarted_mid_call_the_call_ends_right_once(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    async with observer(asterisk, workdir, asterisk.scratch.values.ami_port) as watcher:
        await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500))
        call = await call_in(asterisk, InboundCall(caller="79161110023", talk_ms=12000), workdir)
        await call.wait_event("answered")
        [before] = await wait_for_calls(watcher, "+79161110023", done=lambda c: c["answered_at"] is not None)
        assert await stop_service(watcher) == 0, watcher.log()[-3000:]
        # What a bridge connecting now sees, recorded: FullyBooted, then the call already up, as the
        # CoreShowChannels list tells it (the fast suite replays it: tests/test_captures_perezvon.py).
        async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
            await ami.action("CoreShowChannels")
            await restart_in_place(watcher)
            assert await call.finish() == 0, call.sipp.describe()
            [record] = await wait_for_calls(watcher, "+79161110023", done=_ended_with_talk_time)
            expected = {"outcome": "answered", "answered_by": "101", "hung_up_by": "customer",
                        "talk_s": record["talk_s"]}
            await ami.save("resync_answered_mid_call", expected, linkedids=[record["linkedid"]],
                           scenario="the bridge connects while 101 talks with the customer (CoreShowChannels "
                                    "lists the call); the customer hangs up; the talk time is the Cdr's")
    assert (record["outcome"], record["answered_by"], record["hung_up_by"]) == ("answered", "101", "customer"), record
    assert record["closed_by"] == "pbx", record
    # The start keeps its first value; the talk time after the restart is Asterisk's own figure.
    assert record["started_at"] == before["started_at"], (before, record)
    assert record["talk_s"] is not None and abs(record["talk_s"] - 12.0) <= 1.5, record
    assert "ERROR" not in watcher.log(), watcher.log()[-3000:]
