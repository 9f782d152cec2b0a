"""Demo data for `perezvon demo`: managers of every role, ~200 customers, orders, tasks.

Deterministic (seeded), written through the same repository functions the service uses,
so the demo exercises the real rules (phone normalisation, the status workflow).
Loaded once: if any manager exists, the database is left as it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm import managers, orders, tasks
from crm.customers import CustomerInput, add_note, create_customer
from crm.database import Pool
from crm.managers import ManagerInput
from crm.models import SALES_CHANNELS, Role
from crm.orders import OrderInput
from crm.tasks import TaskInput

DEMO_PASSWORD = "demo-password"

DEMO_MANAGERS: tuple[tuple[str, str, Role, tuple[str, ...], bool, int], ...] = (
    # login, name, role, extensions, vip_capable, seniority
    ("admin", "Администратор", "admin", (), False, 0),
    ("head", "Елена Морозова", "supervisor", ("100",), True, 90),
    ("anna", "Анна Смирнова", "operator", ("101",), True, 70),
    ("boris", "Борис Кузнецов", "operator", ("102",), False, 40),
    ("vera", "Вера Попова", "operator", ("103",), False, 30),
    ("gleb", "Глеб Васильев", "operator", ("104",), False, 10),
)

MALE_FIRST = ("Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл",
              "Михаил", "Никита", "Иван", "Егор", "Павел", "Роман", "Олег", "Николай", "Юрий")
FEMALE_FIRST = ("Анастасия", "Мария", "Дарья", "Анна", "Елизавета", "Полина", "Виктория", "Екатерина",
                "Софья", "Александра", "Ксения", "Ольга", "Татьяна", "Наталья", "Ирина", "Юлия")
SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
            "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
            "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев")
COMPANIES = ("ООО «Ромашка»", "ИП Сидоров", "АО «Техносила»", "ООО «Дом и сад»", "ООО «Вектор»",
             "ООО «СтройМаркет»", "ИП Белова", "ООО «Альфа-Трейд»")
REGIONS = ("Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Нижний Новгород", "Самара")
PRODUCTS = (("Чайник электрический", 2490), ("Пылесос робот", 18990), ("Кофемашина", 32990),
            ("Утюг", 3290), ("Блендер", 4590), ("Микроволновая печь", 8990), ("Тостер", 2190),
            ("Набор посуды", 5490), ("Фен", 2990), ("Электробритва", 6490))
MOBILE_PREFIXES = ("916", "926", "903", "905", "915", "925", "977", "985", "999", "968")


@dataclass(frozen=True)
class DemoResult:
    created: bool
    logins: tuple[tuple[str, str, str], ...]  # login, role, display name


def _person_name(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES)
    if rng.random() < 0.5:
        return f"{surname} {rng.choice(MALE_FIRST)}"
    female = surname[:-1] + "ва" if surname.endswith("в") and not surname.endswith("ев") else surname + "а"
    return f"{female} {rng.choice(FEMALE_FIRST)}"


def _status_path(workflow_edges: frozenset[tuple[str, str]], start: str, target: str) -> list[str]:
    """Shortest list of statuses leading from `start` to `target` (breadth-first)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for code in frontier:
            for a, b in sorted(workflow_edges):
                if a == code and b not in paths:
                    paths[b] = paths[code] + [b]
                    nxt.append(b)
        frontier = nxt
    return paths.get(target, [start])[1:]


async def load_demo_data(pool: Pool, *, customers: int = 200, seed: int = 20261122) -> DemoResult:
    logins = tuple((login, role, name) for login, name, role, *_ in DEMO_MANAGERS)
    if await pool.fetchval("SELECT count(*) FROM managers") > 0:
        return DemoResult(created=False, logins=logins)
    rng = random.Random(seed)
    staff = []
    for login, name, role, extensions, vip_capable, seniority in DEMO_MANAGERS:
        staff.append(await managers.create_manager(
            pool, ManagerInput(login=login, display_name=name, role=role, extensions=extensions,
                               vip_capable=vip_capable, seniority=seniority, max_concurrent_calls=2),
            DEMO_PASSWORD))
    for member in staff:
        if member.role != "admin":  # operators and the head of sales start online, so demo calls reach them
            await managers.set_presence(pool, member.id, "online")
    sellers = [m for m in staff if m.role == "operator"]
    workflow = await orders.load_workflow(pool)
    statuses = [s.code for s in workflow.statuses]
    now = datetime.now(UTC)
    used_phones: set[str] = set()
    order_number = 10000
    for index in range(customers):
        company = rng.random() < 0.1
        phones = []
        for _ in range(2 if rng.random() < 0.15 else 1):
            phone = f"+7{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
            if phone not in used_phones:
                used_phones.add(phone)
                phones.append(phone)
        customer = await create_customer(pool, CustomerInput(
            name=rng.choice(COMPANIES) + (f" #{index}" if company else "") if company else _person_name(rng),
            kind="company" if company else "person", vip=rng.random() < 0.08, region=rng.choice(REGIONS),
            tags=tuple(rng.sample(("опт", "постоянный", "самовывоз", "доставка"), k=rng.randrange(3))),
            responsible_manager_id=rng.choice(sellers).id if rng.random() < 0.8 else None,
            phones=tuple(phones)))
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            order_number += 1
            picked = [(name, price, rng.randrange(1, 3)) for name, price in rng.sample(PRODUCTS, k=rng.randrange(1, 4))]
            items = tuple({"sku": f"SKU-{price}", "name": name, "qty": qty, "price": price}
                          for name, price, qty in picked)
            manager_id = customer.responsible_manager_id or rng.choice(sellers).id
            order = await orders.create_order(pool, OrderInput(
                number=str(order_number), customer_id=customer.id, manager_id=manager_id,
                channel=rng.choice(SALES_CHANNELS[:5]), items=items,
                total=sum(qty * price for _, price, qty in picked)), created_by=manager_id)
            for code in _status_path(workflow.transitions, order.status, rng.choice(statuses)):
                await orders.change_status(pool, order.id, code, manager_id)
        if rng.random() < 0.3:
            due = now + timedelta(minutes=rng.randrange(-180, 24 * 60))
            await tasks.create_task(pool, TaskInput(
                kind=rng.choice(("callback", "follow_up", "custom")),
                title=rng.choice(("Перезвонить по заказу", "Уточнить адрес доставки", "Предложить скидку",
                                  "Согласовать время доставки")),
                customer_id=customer.id, assignee_id=customer.responsible_manager_id, due_at=due), None)
        if rng.random() < 0.2:
            await add_note(pool, customer.id, customer.responsible_manager_id,
                           rng.choice(("Предпочитает звонки после 18:00", "Просил не звонить в выходные",
                                       "Оптовый покупатель, важна скорость доставки")))
    return DemoResult(created=True, logins=logins)
