"""CrmRouter end to end: a real PostgreSQL, the real policy, over the real FastAGI socket."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from crm import customers, managers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.routing.data import get_route_decision
from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.agi_contract import RouteAnswer, RouteRequest
from pbx_bridge.agi_server import AgiServer
from pbx_bridge.live_load import LiveLoad
from tests.agi_helpers import TEST_SETTINGS, StuckRouter, agi_server, exchange, load_capture
from tests.conftest import MakeManager
from web.routing_service import CrmRouter

#: A Wednesday at 12:00 in Moscow: inside the default working hours.
NOON = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
CALLER = "79161110001"


def request(caller: str = CALLER, linkedid: str = "1795345255.0") -> RouteRequest:
    return RouteRequest(caller_number=caller, caller_name=caller, did="74951234501", uniqueid=linkedid,
                        linkedid=linkedid, channel="PJSIP/trunk-00000000")


async def setup_customer(pool: Pool, make_manager: MakeManager, *, vip: bool = False) -> tuple[int, int]:
    manager = await make_manager("operator", name="Анна Смирнова", extensions=("101",))
    await managers.set_presence(pool, manager.id, "online")
    customer = await customers.create_customer(pool, CustomerInput(
        name="Иванов Иван Петрович", vip=vip, responsible_manager_id=manager.id, phones=("+7 916 111-00-01",)))
    return manager.id, customer.id


async def test_known_customer_rings_the_responsible_manager(pool: Pool, make_manager: MakeManager) -> None:
    manager_id, customer_id = await setup_customer(pool, make_manager, vip=True)
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON)
    answer = await router.route(request())
    assert answer.targets == ("PJSIP/101",)
    assert answer.reason == "responsible_manager"
    assert answer.customer_id == customer_id
    assert answer.caller_name == "Иванов И. · VIP"
    await router.drain()
    record = await get_route_decision(pool, "1795345255.0")
    assert record is not None
    assert (record.reason, record.manager_id, record.targets) == ("responsible_manager", manager_id, "PJSIP/101")


async def test_unregistered_or_busy_manager_is_skipped(pool: Pool, make_manager: MakeManager) -> None:
    await setup_customer(pool, make_manager)
    live = LiveLoad()
    router = CrmRouter(pool, live, clock=lambda: NOON)
    live.on_event(ev.DeviceStateChange(timestamp=1.0, device="PJSIP/101", state="UNAVAILABLE"))
    unregistered = await router.route(request(linkedid="1.1"))
    assert unregistered.reason != "responsible_manager" and "PJSIP/101" not in unregistered.targets
    live.on_event(ev.DeviceStateChange(timestamp=2.0, device="PJSIP/101", state="NOT_INUSE"))
    live.on_fact(cf.LegAnswered(call_id="other", at=2.0, channel="PJSIP/101-9", extension="101", number=None,
                                ring_s=1.0))
    busy = await router.route(request(linkedid="1.2"))
    assert busy.reason != "responsible_manager" and busy.targets == ()
    assert busy.fallback == "queue:sales"
    live.on_fact(cf.LegEnded(call_id="other", at=3.0, channel="PJSIP/101-9", extension="101", number=None,
                             dial_status="ANSWER", ring_s=1.0))
    free = await router.route(request(linkedid="1.3"))
    assert free.reason == "responsible_manager"
    await router.drain()


async def test_after_a_login_only_listed_phones_ring(pool: Pool, make_manager: MakeManager) -> None:
    """The bug: after a (re)connect every phone counted as reachable and unregistered ones were rung."""
    await setup_customer(pool, make_manager)
    live = LiveLoad()
    router = CrmRouter(pool, live, clock=lambda: NOON)
    live.on_event(ev.DeviceStateChange(timestamp=1.0, device="PJSIP/101", state="NOT_INUSE"))
    live.on_event(ev.FullyBooted(timestamp=None))  # a new AMI session: what was known may be stale
    # DeviceStateList after the login: Asterisk lists other phones, 101 is not among the reachable ones.
    live.on_event(ev.DeviceStateChange(timestamp=None, device="PJSIP/102", state="NOT_INUSE"))
    live.on_event(ev.DeviceStateListComplete(timestamp=None, action_id="x", list_items=1))
    unlisted = await router.route(request(linkedid="2.1"))
    assert "PJSIP/101" not in unlisted.targets and unlisted.reason != "responsible_manager"
    live.on_event(ev.DeviceStateChange(timestamp=3.0, device="PJSIP/101", state="NOT_INUSE"))
    registered = await router.route(request(linkedid="2.2"))
    assert registered.targets == ("PJSIP/101",)
    await router.drain()


async def test_unknown_caller_shows_the_number(pool: Pool, make_manager: MakeManager) -> None:
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON)
    answer = await router.route(request(caller="79160000000"))
    assert answer.customer_id is None
    assert answer.caller_name == "+7 916 000-00-00"
    hidden = await router.route(request(caller="anonymous", linkedid="2.2"))
    assert hidden.customer_id is None and hidden.targets == ()
    await router.drain()


async def test_captured_asterisk_request_over_fastagi(pool: Pool, make_manager: MakeManager) -> None:
    """The exact bytes Asterisk 22 sent for inbound_answered, answered by the CRM through the socket."""
    manager_id, customer_id = await setup_customer(pool, make_manager)
    capture = load_capture("inbound_answered")
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON)
    async with agi_server(router, deadline_ms=2000) as server:
        commands = await exchange(server.port, capture.env_block, capture.replies)
    assert [c.decode() for c in commands] == [
        'SET VARIABLE ROUTE_TARGETS "PJSIP/101"\n', 'SET VARIABLE RING_TIMEOUT "20"\n',
        'SET VARIABLE ROUTE_FALLBACK "queue:sales"\n', 'SET VARIABLE ROUTE_REASON "responsible_manager"\n',
        f'SET VARIABLE ROUTE_CUSTOMER_ID "{customer_id}"\n', 'SET VARIABLE CALLERID(name) "Иванов И."\n',
    ]
    await router.drain()
    record = await get_route_decision(pool, capture.sidecar["linkedid"])
    assert record is not None and record.manager_id == manager_id


async def test_a_late_crm_still_records_the_fallback_on_the_call(pool: Pool, make_manager: MakeManager) -> None:
    """The deadline answer goes to Asterisk at once, and the journal still says why the call went to the queue."""
    await setup_customer(pool, make_manager)
    capture = load_capture("inbound_answered")
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON)
    stuck = StuckRouter()

    class LateCrm:
        async def route(self, request: RouteRequest) -> RouteAnswer:
            return await stuck.route(request)

    server = AgiServer(replace(TEST_SETTINGS, deadline_ms=30), LateCrm(), on_fallback=router.note_fallback)
    await server.start()
    try:
        commands = await exchange(server.port, capture.env_block, capture.replies)
    finally:
        await server.close()
    assert b'SET VARIABLE ROUTE_REASON "fallback_timeout"\n' in commands
    await router.drain()
    record = await get_route_decision(pool, capture.sidecar["linkedid"])
    assert record is not None
    assert (record.reason, record.fallback, record.targets) == ("fallback_timeout", "queue:sales", "")
    assert "deadline" in record.explanation
