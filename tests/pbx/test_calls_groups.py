"""Routing groups on the real Asterisk: ring-all of two operators, and failover to a second one.

The admin sets the groups up through the panel's own forms (a DID rule per test number, so other
tests' calls are not affected). The router's configuration is cached for up to 2 s, so before the
call the test asks the router itself over FastAGI, as the dialplan does, until its answer shows
the new rule: an observable condition instead of a sleep.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path

from crm.database import Pool
from pbx_bridge.simulator.agi_client import AgiCall, AgiTarget, ask_router
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls, wait_for_cdr
from tests.pbx.service_process import ADMIN, Service, WebSession
from tests.pbx.simulator_twin import assert_simulator_agrees

_probes = itertools.count(1)


async def add_group_rule(service: Service, name: str, did: str, extensions: tuple[str, ...], *,
                         ring_all: bool, ring_timeout_s: int = 20) -> None:
    """As the admin would: a group of the operators owning `extensions`, and a rule sending `did` to it."""
    session = WebSession(service.config.base_url)
    try:
        await session.login(ADMIN)
        async with session.http.get(service.config.base_url + "/routing/groups/new") as response:
            form = await response.text()
        members = [re.search(rf'value="(\d+)"[^>]*> Operator {ext}\b', form) for ext in extensions]
        assert all(members), form
        data = [("name", name), ("queue", "sales"), ("ring_timeout_s", str(ring_timeout_s)), ("_csrf", session.csrf)]
        data += [("members", match.group(1)) for match in members if match]
        if ring_all:
            data.append(("ring_all", "1"))
        async with session.http.post(service.config.base_url + "/routing/groups/new", data=data,
                                     allow_redirects=False) as response:
            assert response.status == 303, await response.text()
        async with session.http.get(service.config.base_url + "/routing") as response:
            overview = await response.text()
        group = re.search(rf'data-group-id="(\d+)">\s*<td>{re.escape(name)}</td>', overview)
        assert group, overview
        await session.post("/routing/rules/new", {"position": "10", "did": did, "group_id": group.group(1),
                                                  "note": f"PBX tier: {name}"})
    finally:
        await session.close()


async def wait_for_route(service: Service, did: str, want: set[str], timeout_s: float = 15) -> None:
    """Ask the router as the dialplan would until ROUTE_TARGETS names exactly `want`."""
    target = AgiTarget("127.0.0.1", service.config.agi_port, secret=service.config.agi_secret)
    deadline = time.monotonic() + timeout_s
    while True:
        probe = f"1700000000.{next(_probes)}"
        answer = await ask_router(target, AgiCall(channel="PJSIP/trunk-probe", uniqueid=probe, linkedid=probe,
                                                  caller="79160000000", caller_name="", did=did))
        targets = dict(answer or []).get("ROUTE_TARGETS", "")
        if set(filter(None, targets.strip('"').split("&"))) == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the router never answered {want} for {did} within {timeout_s} s; last: {answer}")
        await asyncio.sleep(0.2)


async def test_ring_all_of_two_operators_the_one_who_did_not_answer_missed_nothing(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path, pool: Pool) -> None:
    did = "74951234591"
    await phones.start("101", PhoneBehaviour(mode="ring"))
    answering = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=1500))
    await add_group_rule(perezvon, "Ring-all 101+102", did, ("101", "102"), ring_all=True)
    await wait_for_route(perezvon, did, {"PJSIP/101", "PJSIP/102"})

    call = await call_in(asterisk, InboundCall(caller="79161110051", did=did, talk_ms=2000), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await answering.wait_event("other side hung up")

    [record] = await wait_for_calls(perezvon, "+79161110051")
    assert (record["outcome"], record["answered_by"], record["hung_up_by"]) == ("answered", "102", "customer"), record
    assert sorted((leg["extension"], leg["result"]) for leg in record["legs"]) == [
        ("101", "answered_elsewhere"), ("102", "answered")], record
    assert record["route"]["reason"] == "did_rule", record
    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    assert any(row["dstchannel"].startswith("PJSIP/102-") and row["disposition"] == "ANSWERED" for row in rows), rows
    # The record lists legs by when each phone rang: 101 and 102 race to their 180 Ringing, so the
    # simulator rings them in the order the real phones happened to ring.
    rang = tuple(leg["extension"] for leg in sorted(record["legs"], key=lambda leg: leg["ringing_at"]))
    await assert_simulator_agrees(pool, record, "inbound_ringall", CallParams(
        customer="79161110051", extensions=rang, answering="102", ring_s=record["ring_s"],
        talk_s=record["talk_s"]))


async def test_failover_to_a_second_operator_through_the_queue(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    did = "74951234592"
    await phones.start("101", PhoneBehaviour(mode="ring"))
    answering = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=1000))
    await add_group_rule(perezvon, "Failover 101", did, ("101",), ring_all=False, ring_timeout_s=5)
    await wait_for_route(perezvon, did, {"PJSIP/101"})

    call = await call_in(asterisk, InboundCall(caller="79161110052", did=did, talk_ms=2000), workdir)
    assert await call.finish(timeout_s=180) == 0, call.sipp.describe()
    await answering.wait_event("other side hung up")

    [record] = await wait_for_calls(perezvon, "+79161110052", timeout_s=60)
    assert (record["outcome"], record["answered_by"]) == ("answered", "102"), record
    legs = [(leg["extension"], leg["result"]) for leg in record["legs"]]
    assert legs[0] == ("101", "no_answer"), legs  # the router's choice rang out (5 s), then the queue took over
    assert legs[-1] == ("102", "answered") and record["queue"] == "sales", legs
    assert 5.0 <= record["ring_s"], record
