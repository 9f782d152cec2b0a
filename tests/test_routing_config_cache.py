"""CrmRouter caches the routing configuration for a TTL: changes reach routing within it, never later."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from crm import customers, managers
from crm.customers import CustomerInput
from crm.database import Pool
from pbx_bridge.agi_contract import RouteRequest
from pbx_bridge.live_load import LiveLoad
from tests.conftest import MakeManager
from web.routing_service import CrmRouter

NOON = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Moscow


def request(linkedid: str) -> RouteRequest:
    return RouteRequest(caller_number="79161110001", caller_name="", did="74951234501", uniqueid=linkedid,
                        linkedid=linkedid, channel="PJSIP/trunk-00000000")


async def _responsible_customer(pool: Pool, make_manager: MakeManager) -> int:
    manager = await make_manager("operator", extensions=("101",))
    await managers.set_presence(pool, manager.id, "online")
    await customers.create_customer(pool, CustomerInput(name="Иванов Иван", responsible_manager_id=manager.id,
                                                        phones=("+7 916 111-00-01",)))
    return manager.id


async def test_presence_change_reaches_routing_after_the_ttl(pool: Pool, make_manager: MakeManager) -> None:
    manager_id = await _responsible_customer(pool, make_manager)
    now = [100.0]
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON, config_ttl_s=2.0, monotonic=lambda: now[0])
    assert (await router.route(request("1.1"))).reason == "responsible_manager"
    await managers.set_presence(pool, manager_id, "away")
    now[0] += 1.9
    assert (await router.route(request("1.2"))).reason == "responsible_manager"  # still the cached config
    now[0] += 0.2
    assert (await router.route(request("1.3"))).reason != "responsible_manager"  # reloaded
    await router.drain()


async def test_no_cache_with_zero_ttl(pool: Pool, make_manager: MakeManager) -> None:
    manager_id = await _responsible_customer(pool, make_manager)
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON, config_ttl_s=0)
    assert (await router.route(request("2.1"))).reason == "responsible_manager"
    await managers.set_presence(pool, manager_id, "away")
    assert (await router.route(request("2.2"))).reason != "responsible_manager"
    await router.drain()


async def test_concurrent_calls_share_one_reload(pool: Pool, make_manager: MakeManager) -> None:
    await _responsible_customer(pool, make_manager)
    router = CrmRouter(pool, LiveLoad(), clock=lambda: NOON)
    answers = await asyncio.gather(*(router.route(request(f"3.{i}")) for i in range(8)))
    assert {a.reason for a in answers} == {"responsible_manager"}
    assert {a.targets for a in answers} == {("PJSIP/101",)}
    await router.drain()
