"""The simulator asks the router over real FastAGI like the dialplan does, and rings what it answers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm import customers, managers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.routing.data import get_route_decision
from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.agi_contract import RouteAnswer
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.ami_frames import Frame
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.live_load import LiveLoad
from pbx_bridge.simulator import Simulator, SimulatorSettings
from pbx_bridge.simulator.agi_client import AgiTarget
from pbx_bridge.simulator.catalog import play
from pbx_bridge.simulator.channels import PbxCore
from pbx_bridge.simulator.clock import FastClock
from pbx_bridge.simulator.route_step import target_extensions
from pbx_bridge.simulator.scenarios import CallParams
from tests.agi_helpers import RecordingRouter, agi_server
from tests.conftest import MakeManager
from web.config import Settings
from web.routing_service import CrmRouter
from web.telephony import start_telephony

START = 1795400000.5
NAME = "Петрова А. · заказ 10235"


class Recorder:
    """Frames of one core as header dicts, and the facts the tracker makes of them."""

    def __init__(self, core: PbxCore) -> None:
        self.frames: list[dict[str, str]] = []
        self.facts: list[cf.CallFact] = []
        self.tracker = CallTracker()
        core.subscribe(self.on_frame)

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame.first_values())
        for event in ev.events_from_frames([frame]):
            self.facts.extend(self.tracker.feed(event))

    def var(self, name: str) -> list[str]:
        return [f["Value"] for f in self.frames if f["Event"] == "VarSet" and f["Variable"] == name]

    def rang(self) -> list[str | None]:
        return [f.extension for f in self.facts if isinstance(f, cf.LegRinging)]

    def end(self) -> cf.CallEnded:
        (end,) = [f for f in self.facts if isinstance(f, cf.CallEnded)]
        return end


async def free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port


def test_target_extensions() -> None:
    assert target_extensions("PJSIP/101&PJSIP/102&PJSIP/101") == ("101", "102")
    assert target_extensions("") == ()
    assert target_extensions("Local/1@x&PJSIP/trunk/7916&SIP/5&PJSIP/103") == ("103",)


async def test_inbound_call_rings_the_routers_targets_with_its_name() -> None:
    router = RecordingRouter(RouteAnswer(targets=("PJSIP/102", "PJSIP/103"), ring_timeout_s=20,
                                         fallback="queue:sales", reason="did_rule", customer_id=5, caller_name=NAME))
    async with agi_server(router) as server:
        core = PbxCore(FastClock(START), agi=AgiTarget("127.0.0.1", server.port))
        rec = Recorder(core)
        await play(core, "inbound_ringall", CallParams(customer="79161110002", extensions=("101",),
                                                       did="74951234502", answering="101", display_name="x"))
    (request,) = router.requests
    assert (request.caller_number, request.did) == ("79161110002", "74951234502")
    assert request.linkedid == request.uniqueid == rec.end().call_id
    assert request.channel.startswith("PJSIP/trunk-")
    assert rec.var("ROUTE_TARGETS") == ["PJSIP/102&PJSIP/103"]
    assert rec.var("ROUTE_REASON") == ["did_rule"] and rec.var("ROUTE_CUSTOMER_ID") == ["5"]
    assert rec.var("AGISTATUS") == ["SUCCESS"]
    caller_ids = [f["CallerIDName"] for f in rec.frames if f["Event"] == "NewCallerid"]
    assert caller_ids == [NAME]
    assert sorted(e for e in rec.rang() if e) == ["102", "103"]
    assert rec.end().answered_by == "103"  # 101 was not a target: the last target answers


async def test_unreachable_router_falls_back_to_the_scenarios_own_extensions() -> None:
    core = PbxCore(FastClock(START), agi=AgiTarget("127.0.0.1", await free_port(), timeout_s=1.0))
    rec = Recorder(core)
    await play(core, "inbound_answered", CallParams(customer="79161110003", extensions=("101",), display_name="x"))
    assert rec.var("AGISTATUS") == ["FAILURE"] and rec.var("ROUTE_TARGETS") == []
    assert not [f for f in rec.frames if f["Event"] == "NewCallerid"]  # nobody named the caller
    assert rec.rang() == ["101"] and rec.end().answered_by == "101"


async def test_queue_call_keeps_its_members_and_takes_the_name() -> None:
    router = RecordingRouter(RouteAnswer(targets=(), ring_timeout_s=20, fallback="queue:sales",
                                         reason="default_queue", caller_name=NAME))
    async with agi_server(router) as server:
        core = PbxCore(FastClock(START), agi=AgiTarget("127.0.0.1", server.port))
        rec = Recorder(core)
        await play(core, "queue_answered", CallParams(customer="79161110004", extensions=("101", "102"),
                                                      answering="102"))
    assert rec.var("ROUTE_TARGETS") == [""]
    assert [f["CallerIDName"] for f in rec.frames if f["Event"] == "NewCallerid"] == [NAME]
    assert rec.end().answered_by == "102"


async def test_demo_call_rings_the_customers_responsible_manager(pool: Pool, make_manager: MakeManager) -> None:
    """Simulator settings -> FastAGI -> CrmRouter -> real DB: the call rings manager 102, not the driver's pick."""
    manager = await make_manager("operator", name="Пётр Волков", extensions=("102",))
    await managers.set_presence(pool, manager.id, "online")
    customer = await customers.create_customer(pool, CustomerInput(
        name="Петрова Анна", responsible_manager_id=manager.id, phones=("+79161110005",)))
    router = CrmRouter(pool, LiveLoad(), clock=lambda: datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    async with agi_server(router, deadline_ms=2000) as server:
        settings = SimulatorSettings(ami_port=0, calls_per_minute=0, agi_host="127.0.0.1", agi_port=server.port)
        simulator = Simulator(settings, clock=FastClock(START))
        rec = Recorder(simulator.core)
        await simulator.start(drive=False)
        simulator.start_call("inbound_answered", CallParams(customer="79161110005", extensions=("101",)))
        await simulator.wait_calls()
        await simulator.stop()
    await router.drain()
    assert rec.rang() == ["102"] and rec.end().answered_by == "102"
    assert rec.var("ROUTE_CUSTOMER_ID") == [str(customer.id)]
    assert [f["CallerIDName"] for f in rec.frames if f["Event"] == "NewCallerid"] == ["Петрова А."]


@pytest.mark.parametrize("secret", ["", "s3cret-s3cret-s3cret"], ids=["no-secret", "with-secret"])
async def test_demo_wiring_routes_simulated_calls_through_the_service(settings: Settings, pool: Pool,
                                                                      make_manager: MakeManager, secret: str) -> None:
    """start_telephony in demo: the simulator asks the service's own FastAGI router, which records why; with
    PEREZVON_AGI_SECRET set, the simulator passes it (a request without it would get no answer)."""
    await pool.execute("DELETE FROM routing_schedules")  # no schedule: open around the clock
    manager = await make_manager("operator", name="Пётр Волков", extensions=("102",))
    await managers.set_presence(pool, manager.id, "online")
    await customers.create_customer(pool, CustomerInput(
        name="Петрова Анна", responsible_manager_id=manager.id, phones=("+79161110006",)))
    demo = replace(settings, simulator=replace(settings.simulator, ami_port=0, calls_per_minute=0, speed=1000))
    agi = AgiSettings(port=0, deadline_ms=2000, secret=secret)
    async with start_telephony(demo, pool, simulate=True, agi=agi) as telephony:
        assert telephony.simulator is not None and telephony.routing is not None
        assert telephony.health()["agi"] == "listening"
        rec = Recorder(telephony.simulator.core)
        telephony.simulator.start_call("inbound_answered", CallParams(customer="79161110006", extensions=("101",)))
        await telephony.simulator.wait_calls()
        await telephony.routing.router.drain()
    dialled = [f["DestChannel"].rsplit("-", 1)[0] for f in rec.frames if f["Event"] == "DialBegin"]
    assert dialled == ["PJSIP/102"]
    record = await get_route_decision(pool, rec.frames[0]["Linkedid"])
    assert record is not None and (record.reason, record.manager_id) == ("responsible_manager", manager.id)


async def test_after_hours_voicemail_fallback_rings_nobody_and_is_missed() -> None:
    router = RecordingRouter(RouteAnswer(targets=(), ring_timeout_s=20, fallback="voicemail:general",
                                         reason="after_hours", caller_name=NAME))
    async with agi_server(router) as server:
        core = PbxCore(FastClock(START), agi=AgiTarget("127.0.0.1", server.port))
        rec = Recorder(core)
        await play(core, "inbound_ringall", CallParams(customer="79161110007", extensions=("101", "102"),
                                                       answering="101", talk_s=4.0))
    assert rec.var("ROUTE_REASON") == ["after_hours"] and rec.var("AGISTATUS") == ["SUCCESS"]
    assert not [f for f in rec.frames if f["Event"] == "DialBegin"] and rec.rang() == []
    trunk = rec.frames[0]["Channel"]
    assert [f["ChannelStateDesc"] for f in rec.frames if f["Event"] == "Newstate"] == ["Up"]
    ends = [(f["Event"], f.get("Cause")) for f in rec.frames if f["Event"] in ("HangupRequest", "Hangup")]
    assert ends == [("HangupRequest", "16"), ("Hangup", "16")]
    (cdr,) = [f for f in rec.frames if f["Event"] == "Cdr"]
    assert (cdr["Channel"], cdr["DestinationChannel"], cdr["LastApplication"], cdr["LastData"]) == (
        trunk, "", "VoiceMail", "general,u")
    assert (cdr["Disposition"], cdr["BillableSeconds"]) == ("ANSWERED", "4")
    end = rec.end()
    assert (end.outcome, end.reason, end.answered_by) == (cf.Outcome.MISSED, cf.MissedReason.ABANDONED, None)
    assert end.customer_number == "79161110007"


async def test_queue_fallback_without_targets_joins_the_named_queue() -> None:
    router = RecordingRouter(RouteAnswer(targets=(), ring_timeout_s=20, fallback="queue:support",
                                         reason="default_queue"))
    async with agi_server(router) as server:
        core = PbxCore(FastClock(START), agi=AgiTarget("127.0.0.1", server.port))
        rec = Recorder(core)
        await play(core, "queue_answered", CallParams(customer="79161110008", extensions=("101", "102"),
                                                      answering="102"))
        await play(core, "inbound_answered", CallParams(customer="79161110009", extensions=("103",)))
    joins = [f["Queue"] for f in rec.frames if f["Event"] == "QueueCallerJoin"]
    assert joins == ["support"]
    assert sorted(e for e in rec.rang() if e) == ["101", "102", "103"]
