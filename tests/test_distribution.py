"""Order distribution: a new order without a manager is given to the right one, and the order says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, distribution, managers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.distribution import Candidate, OrderFacts, choose
from crm.models import RoutingGroup, RoutingRule
from crm.routing import data as routing_data
from crm.routing.config import GroupInput, RuleInput
from tests.conftest import MakeManager, csrf_from, login

Client = TestClient[web.Request, web.Application]
T = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _c(mid: int, *, online: bool = True, vip: bool = False, orders: int = 0, last: datetime | None = None
       ) -> Candidate:
    return Candidate(mid, online, vip, True, orders, last)


def _order(**kw: object) -> OrderFacts:
    base: dict[str, object] = {"channel": "site", "customer_kind": "person", "region": "", "vip": False,
                               "responsible_id": None}
    return OrderFacts(**{**base, **kw})  # type: ignore[arg-type]


RULE = RoutingRule(id=3, position=10, did="", channel="landing", customer_kind="", region="", group_id=7,
                   group_name="Лендинги", note="")
CALL_RULE = RoutingRule(id=4, position=1, did="74951234501", channel="", customer_kind="", region="", group_id=8,
                        group_name="Звонки", note="")
GROUPS = [RoutingGroup(id=7, name="Лендинги", queue="", ring_timeout_s=20, member_ids=(2, 3)),
          RoutingGroup(id=8, name="Звонки", queue="", ring_timeout_s=20, member_ids=(4,))]


def test_the_steps_in_order() -> None:
    people = [_c(1, orders=5), _c(2, orders=3), _c(3, orders=1, online=False), _c(4, orders=0, vip=True)]
    assert choose(_order(responsible_id=1), people, [RULE], GROUPS).reason == "responsible_manager"  # type: ignore[union-attr]
    vip = choose(_order(vip=True), people, [RULE], GROUPS)
    assert vip is not None and (vip.manager_id, vip.reason) == (4, "vip")
    landing = choose(_order(channel="landing"), people, [CALL_RULE, RULE], GROUPS)
    # 3 is offline; the rule of 4's group is about a dialled number (calls only).
    assert landing is not None and (landing.manager_id, landing.reason) == (2, "rule")
    anyone = choose(_order(), people, [RULE], GROUPS)
    assert anyone is not None and (anyone.manager_id, anyone.reason) == (4, "least_loaded")
    assert choose(_order(), [_c(1, online=False)], [], []) is None


def test_ties_go_to_whoever_waited_longest() -> None:
    people = [_c(1, last=T), _c(2, last=T - timedelta(hours=1)), _c(3, last=T + timedelta(minutes=1))]
    assert choose(_order(), people, [], []).manager_id == 2  # type: ignore[union-attr]
    assert choose(_order(), [*people, _c(9)], [], []).manager_id == 9  # type: ignore[union-attr]  # never given one


async def test_an_order_from_the_api_is_distributed_evenly_and_says_why(client: Client, pool: Pool,
                                                                         make_manager: MakeManager) -> None:
    anna = await make_manager("operator", name="Анна")
    boris = await make_manager("operator", name="Борис")
    await make_manager("operator", name="Вера")  # offline: never given one
    for m in (anna, boris):
        await managers.set_presence(pool, m.id, "online")
    group = await routing_data.create_group(pool, GroupInput(name="Лендинги", member_ids=(boris.id,)))
    await routing_data.create_rule(pool, RuleInput(channel="landing", group_id=group.id))
    csrf = await login(client, await make_manager("admin"))
    numbers: dict[str, int | None] = {}
    for n, channel in enumerate(["site", "site", "landing", "site"]):
        made = await client.post("/api/v1/orders", json={"number": f"W-{n}", "customer_phone": f"+7916000000{n}",
                                                         "customer_name": f"Клиент {n}", "channel": channel},
                                 headers={"X-CSRF-Token": csrf})
        assert made.status == 201, await made.text()
        numbers[f"W-{n}"] = (await made.json())["manager_id"]
    assert numbers == {"W-0": anna.id, "W-1": boris.id, "W-2": boris.id, "W-3": anna.id}
    order_id = await pool.fetchval("SELECT id FROM orders WHERE number = 'W-2'")
    page = await (await client.get(f"/orders/{order_id}")).text()
    assert "Кому передан заказ" in page and "правило маршрутизации" in page and "Лендинги" in page


async def test_the_responsible_manager_gets_their_customers_order_and_off_means_off(
        client: Client, pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Своя", phones=("+79160000100",),
                                                                   responsible_manager_id=anna.id))
    admin = await make_manager("admin")
    token = await login(client, admin)
    made = await client.post("/api/v1/orders", json={"number": "R-1", "customer_id": customer.id},
                             headers={"X-CSRF-Token": token})
    assert (await made.json())["manager_id"] == anna.id  # even offline: the customer is theirs
    csrf = await csrf_from(client, "/routing")
    saved = await client.post("/routing/settings", allow_redirects=False, data={
        "_csrf": csrf, "sticky_source": "responsible", "default_queue": "sales", "default_ring_timeout_s": "20"})
    assert saved.status == 303 and not await distribution.is_enabled(pool)
    made = await client.post("/api/v1/orders", json={"number": "R-2", "customer_id": customer.id},
                             headers={"X-CSRF-Token": token})
    assert (await made.json())["manager_id"] is None
