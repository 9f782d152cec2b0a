"""Customer pages over real HTTP: search in every form, the card, escaping, validation, access by role."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, orders, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from crm.tasks import TaskInput
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def test_search_by_phone_in_any_format(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Иванов Пётр", phones=("+79161234567",)))
    await customers.create_customer(pool, CustomerInput(name="Другой клиент", phones=("+79035550000",)))
    await login(client, operator)
    for typed in ("8 (916) 123-45-67", "8 916 123-45-67", "+7 916 1234567"):
        response = await client.get("/customers", params={"q": typed})
        assert response.status == 200
        html = await response.text()
        assert f'href="/customers/{customer.id}"' in html, typed
        assert "Иванов Пётр" in html and "Другой клиент" not in html
        assert "+7 916 123-45-67" in html  # shown with the phone filter


async def test_search_by_order_number_and_name(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    buyer = await customers.create_customer(pool, CustomerInput(name="Сидорова Анна"))
    other = await customers.create_customer(pool, CustomerInput(name="Петров Олег"))
    await orders.create_order(pool, OrderInput(number="A-10042", customer_id=buyer.id), None)
    await login(client, operator)
    html = await (await client.get("/customers", params={"q": "A-10042"})).text()
    assert f'href="/customers/{buyer.id}"' in html and f'href="/customers/{other.id}"' not in html
    html = await (await client.get("/customers", params={"q": "петров"})).text()
    assert f'href="/customers/{other.id}"' in html and f'href="/customers/{buyer.id}"' not in html
    html = await (await client.get("/customers", params={"q": "нет такого"})).text()
    assert "Ничего не найдено" in html


async def test_search_pages_with_has_more(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    for n in range(25):
        await customers.create_customer(pool, CustomerInput(name=f"Клиент номер {n}"))
    await login(client, admin)
    first = await (await client.get("/customers", params={"q": "клиент"})).text()
    assert "offset=20" in first and first.count('href="/customers/') - first.count('href="/customers/new') == 20
    second = await (await client.get("/customers", params={"q": "клиент", "offset": "20"})).text()
    assert "offset=40" not in second and "Клиент номер 0" in second


async def test_card_shows_orders_tasks_notes_and_empty_calls(client: Client, pool: Pool,
                                                              make_manager: MakeManager) -> None:
    operator = await make_manager("operator", name="Анна Смирнова")
    customer = await customers.create_customer(pool, CustomerInput(
        name="ООО Ромашка", kind="company", vip=True, region="Казань", tags=("опт",),
        responsible_manager_id=operator.id, phones=("+79161234567",)))
    order = await orders.create_order(pool, OrderInput(
        number="10001", customer_id=customer.id, items=({"name": "Чайник", "qty": 2, "price": 2490},),
        total=4980), None)
    await tasks.create_task(pool, TaskInput(kind="callback", title="Перезвонить по заказу",
                                            customer_id=customer.id, assignee_id=operator.id), None)
    await customers.add_note(pool, customer.id, operator.id, "Звонить после 18:00")
    await login(client, operator)
    response = await client.get(f"/customers/{customer.id}")
    assert response.status == 200
    html = await response.text()
    for expected in ("ООО Ромашка", "VIP", "Казань", "опт", "Анна Смирнова", "+7 916 123-45-67",
                     f'href="/orders/{order.id}"', "10001", "Новый", "4\u202f980.00",
                     "Перезвонить по заказу", "Звонить после 18:00"):
        assert expected in html, expected
    calls = html[html.index('<section id="calls"'):]
    calls = calls[:calls.index("</section>")]
    assert "Звонков пока нет" in calls


async def test_html_in_name_and_note_is_escaped(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="<script>alert(1)</script> Хакер"))
    csrf = await login(client, operator)
    response = await client.post(f"/customers/{customer.id}/notes",
                                 data={"_csrf": csrf, "body": "<script>alert('note')</script><b>x</b>"})
    assert response.status == 200  # followed the redirect back to the card
    html = await response.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Хакер" in html
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in html
    assert "<script>alert" not in html and "<b>x</b>" not in html
    search = await (await client.get("/customers", params={"q": "Хакер"})).text()
    assert "&lt;script&gt;" in search and "<script>alert" not in search


async def test_create_customer_through_the_form(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    form = await (await client.get("/customers/new")).text()
    assert 'name="phones"' in form
    response = await client.post("/customers/new", allow_redirects=False, data={
        "_csrf": csrf, "name": "  Новый   Покупатель ", "kind": "person", "phones": "8 916 765-43-21\n+7 903 111 22 33",
        "tags": "опт, Самовывоз", "region": "Москва", "email": "", "responsible_manager_id": str(operator.id)})
    assert response.status == 303
    customer_id = int(response.headers["Location"].rsplit("/", 1)[1])
    stored = await customers.get_customer(pool, customer_id)
    assert stored.name == "Новый Покупатель"
    assert {p.e164 for p in stored.phones} == {"+79167654321", "+79031112233"}
    assert stored.tags == ("опт", "самовывоз") and stored.responsible_manager_id == operator.id


async def test_oversized_name_is_refused_and_nothing_stored(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    response = await client.post("/customers/new", data={
        "_csrf": csrf, "name": "Я" * 201, "kind": "person", "phones": "8 916 000-11-22", "region": "Тверь"})
    assert response.status == 422
    html = await response.text()
    assert "имя: не более 200 символов" in html
    assert "Тверь" in html and "8 916 000-11-22" in html  # the user's input is kept
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_bad_phone_is_refused_with_input_kept(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    response = await client.post("/customers/new", data={"_csrf": csrf, "name": "Кто-то", "phones": "12"})
    assert response.status == 422
    assert "Кто-то" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_edit_customer(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(
        name="Старое Имя", phones=("+79161234567",), responsible_manager_id=operator.id))
    csrf = await login(client, operator)
    form = await (await client.get(f"/customers/{customer.id}/edit")).text()
    assert "Старое Имя" in form and "+79161234567" in form
    response = await client.post(f"/customers/{customer.id}/edit", allow_redirects=False, data={
        "_csrf": csrf, "name": "Новое Имя", "kind": "person", "vip": "on", "phones": "+79161234567",
        "responsible_manager_id": str(operator.id)})
    assert response.status == 303
    stored = await customers.get_customer(pool, customer.id)
    assert stored.name == "Новое Имя" and stored.vip


async def test_operator_cannot_open_another_operators_customer(client: Client, pool: Pool,
                                                               make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    other = await make_manager("operator")
    theirs = await customers.create_customer(pool, CustomerInput(name="Чужой", responsible_manager_id=other.id))
    free = await customers.create_customer(pool, CustomerInput(name="Ничей"))
    csrf = await login(client, me)
    assert (await client.get(f"/customers/{theirs.id}")).status == 403
    assert (await client.get(f"/customers/{theirs.id}/edit")).status == 403
    response = await client.post(f"/customers/{theirs.id}/notes", data={"_csrf": csrf, "body": "hi"})
    assert response.status == 403
    assert await pool.fetchval("SELECT count(*) FROM notes") == 0
    assert (await client.get(f"/customers/{free.id}")).status == 200
    html = await (await client.get("/customers")).text()
    assert "Ничей" in html and "Чужой" not in html


async def test_post_without_csrf_is_forbidden_and_changes_nothing(client: Client, pool: Pool,
                                                                  make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    await login(client, operator)
    response = await client.post(f"/customers/{customer.id}/notes", data={"body": "без токена"})
    assert response.status == 403
    response = await client.post("/customers/new", data={"name": "Без токена", "_csrf": "wrong"})
    assert response.status == 403
    assert await pool.fetchval("SELECT count(*) FROM notes") == 0
    assert await pool.fetchval("SELECT count(*) FROM customers") == 1


async def test_empty_note_is_refused_on_the_card(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    csrf = await login(client, operator)
    response = await client.post(f"/customers/{customer.id}/notes", data={"_csrf": csrf, "body": "   "})
    assert response.status == 422
    assert "заметка: не может быть пустой" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM notes") == 0


async def test_unknown_customer_is_404(client: Client, make_manager: MakeManager) -> None:
    await login(client, await make_manager("admin"))
    assert (await client.get("/customers/999999")).status == 404
