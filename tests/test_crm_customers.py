"""Customers against a real PostgreSQL: phones as E.164, one owner per phone, search, scoping, notes."""

from __future__ import annotations

import asyncio

import pytest

from crm import customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import AccessDenied, InvalidInput, InvalidPhone, NotFound, PhoneTaken
from crm.models import Customer, Manager
from crm.orders import OrderInput
from tests.conftest import MakeManager


async def _count(pool: Pool, table: str) -> int:
    value: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def _found(pool: Pool, query: str, viewer: Manager) -> list[int]:
    page = await customers.search_customers(pool, query, viewer)
    return [c.id for c in page.items]


async def test_create_stores_phones_as_e164(pool: Pool) -> None:
    created = await customers.create_customer(pool, CustomerInput(
        name="Иван Петров", phones=("8 (916) 123-45-67", "+7 926 7654321", "8-916-123-45-67")))
    assert [p.e164 for p in created.phones] == ["+79161234567", "+79267654321"]
    stored = await pool.fetch("SELECT e164, customer_id FROM customer_phones ORDER BY e164")
    assert [(r["e164"], r["customer_id"]) for r in stored] == [("+79161234567", created.id),
                                                              ("+79267654321", created.id)]
    again = await customers.get_customer(pool, created.id)
    assert again == created


async def test_create_with_invalid_phone_stores_nothing(pool: Pool) -> None:
    with pytest.raises(InvalidPhone):
        await customers.create_customer(pool, CustomerInput(name="Ольга", phones=("+79161234567", "garbage")))
    assert await _count(pool, "customers") == 0
    assert await _count(pool, "customer_phones") == 0


async def test_phone_of_another_customer_is_refused_and_nothing_is_created(pool: Pool) -> None:
    first = await customers.create_customer(pool, CustomerInput(name="Первый", phones=("+79161234567",)))
    with pytest.raises(PhoneTaken) as info:
        await customers.create_customer(pool, CustomerInput(
            name="Второй", phones=("+79260000001", "8 916 123 45 67")))
    assert info.value.slug == "phone-taken" and info.value.http_status == 409
    assert "+79161234567" in info.value.message
    # No half-created customer: the row and its first (free) phone were rolled back together.
    assert await _count(pool, "customers") == 1
    assert [r["e164"] for r in await pool.fetch("SELECT e164 FROM customer_phones ORDER BY e164")] == \
        ["+79161234567"]
    assert (await customers.find_by_phone(pool, "+79161234567")) == first
    assert await customers.find_by_phone(pool, "+79260000001") is None


async def test_update_replaces_the_phone_list(pool: Pool) -> None:
    created = await customers.create_customer(pool, CustomerInput(
        name="Мария", phones=("+79161234567", "+79161234568")))
    updated = await customers.update_customer(pool, created.id, CustomerInput(
        name="Мария Иванова", region="Казань", tags=("VIP-опт", "опт", " доставка "),
        phones=("8 916 123-45-68", "+7 903 000-00-01")))
    assert updated.name == "Мария Иванова" and updated.region == "Казань"
    assert updated.tags == ("vip-опт", "опт", "доставка")
    assert {p.e164 for p in updated.phones} == {"+79161234568", "+79030000001"}
    assert await customers.find_by_phone(pool, "+79161234567") is None
    found = await customers.find_by_phone(pool, "89030000001")
    assert found is not None and found.id == created.id
    assert updated.updated_at >= created.updated_at


async def test_update_with_a_taken_phone_changes_nothing(pool: Pool) -> None:
    await customers.create_customer(pool, CustomerInput(name="Занят", phones=("+79161111111",)))
    mine = await customers.create_customer(pool, CustomerInput(name="Мой", phones=("+79162222222",)))
    with pytest.raises(PhoneTaken):
        await customers.update_customer(pool, mine.id, CustomerInput(name="Переименован",
                                                                     phones=("+79161111111",)))
    assert await customers.get_customer(pool, mine.id) == mine


async def test_update_unknown_customer_is_not_found(pool: Pool) -> None:
    with pytest.raises(NotFound):
        await customers.update_customer(pool, 999999, CustomerInput(name="Никто"))


async def test_find_by_phone_in_any_format(pool: Pool) -> None:
    created = await customers.create_customer(pool, CustomerInput(name="Иван", phones=("+79161234567",)))
    for raw in ("8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567", "+7(916)123 45 67"):
        found = await customers.find_by_phone(pool, raw)
        assert found is not None and found.id == created.id, raw
    assert await customers.find_by_phone(pool, "+79169999999") is None
    assert await customers.find_by_phone(pool, "not a phone") is None
    assert await customers.find_by_phone(pool, "") is None


async def test_control_characters_are_stripped_and_html_kept(pool: Pool) -> None:
    created = await customers.create_customer(pool, CustomerInput(
        name="Иван\x00\x1b[31m", region="Моск\u202eва", email=" ivan@example.com\r\n"))
    assert created.name == "Иван[31m"
    assert created.region == "Москва"
    assert created.email == "ivan@example.com"
    html = await customers.create_customer(pool, CustomerInput(name='<b>Ольга</b> & "Ко"'))
    assert html.name == '<b>Ольга</b> & "Ко"'  # escaping is the web's job, not the store's
    assert await pool.fetchval("SELECT name FROM customers WHERE id = $1", html.id) == '<b>Ольга</b> & "Ко"'


async def test_name_whitespace_is_collapsed(pool: Pool) -> None:
    created = await customers.create_customer(pool, CustomerInput(name="  Анна \n\t Сергеевна  "))
    assert created.name == "Анна Сергеевна"


@pytest.mark.parametrize("name", ["", "   ", "\x00\x1b", "Я" * 201])
async def test_bad_names_are_refused_and_nothing_is_stored(pool: Pool, name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        await customers.create_customer(pool, CustomerInput(name=name, phones=("+79161234567",)))
    assert info.value.message.startswith("name:")
    assert await _count(pool, "customers") == 0
    assert await _count(pool, "customer_phones") == 0


async def test_longest_name_is_accepted(pool: Pool) -> None:
    created = await customers.create_customer(pool, CustomerInput(name="Я" * 200))
    assert len(created.name) == 200


@pytest.mark.parametrize("data", [
    CustomerInput(name="X", kind="robot"),  # type: ignore[arg-type]
    CustomerInput(name="X", phones=tuple(f"+7916000000{i:d}" for i in range(10)) + ("+79160000100",)),
    CustomerInput(name="X", tags=tuple(f"t{i}" for i in range(21))),
    CustomerInput(name="X", region="Р" * 101),
    CustomerInput(name="X", responsible_manager_id=424242),
])
async def test_other_invalid_fields_are_refused(pool: Pool, data: CustomerInput) -> None:
    with pytest.raises(InvalidInput):
        await customers.create_customer(pool, data)
    assert await _count(pool, "customers") == 0


async def test_get_customer_scoping(pool: Pool, make_manager: MakeManager) -> None:
    owner = await make_manager("operator")
    other = await make_manager("operator")
    head = await make_manager("supervisor")
    owned = await customers.create_customer(pool, CustomerInput(name="Свой", responsible_manager_id=owner.id))
    free = await customers.create_customer(pool, CustomerInput(name="Ничей"))
    assert owned.responsible_manager_name == owner.display_name
    assert (await customers.get_customer(pool, owned.id, owner)).id == owned.id
    assert (await customers.get_customer(pool, owned.id, head)).id == owned.id
    assert (await customers.get_customer(pool, free.id, other)).id == free.id
    with pytest.raises(AccessDenied):
        await customers.get_customer(pool, owned.id, other)
    with pytest.raises(NotFound):
        await customers.get_customer(pool, 999999)


async def _seed_for_search(pool: Pool, owner: Manager, other: Manager) -> dict[str, Customer]:
    made = {
        "ivan": await customers.create_customer(pool, CustomerInput(
            name="Иван Петрович Сидоров", phones=("+79161234567",), responsible_manager_id=owner.id)),
        "ivanova": await customers.create_customer(pool, CustomerInput(
            name="ИВАНОВА Мария", phones=("+79031112233",))),
        "foreign": await customers.create_customer(pool, CustomerInput(
            name="Иван Чужой", phones=("+79267654321",), responsible_manager_id=other.id)),
        "company": await customers.create_customer(pool, CustomerInput(
            name="ООО «Альфа_Трейд» 100%", kind="company")),
    }
    await orders.create_order(pool, OrderInput(number="A-1001", customer_id=made["foreign"].id), None)
    await orders.create_order(pool, OrderInput(number="A-1002", customer_id=made["ivan"].id), None)
    return made


async def test_search_by_phone_order_number_and_name_words(pool: Pool, make_manager: MakeManager) -> None:
    owner = await make_manager("operator")
    other = await make_manager("operator")
    head = await make_manager("supervisor")
    c = await _seed_for_search(pool, owner, other)
    ids = {k: v.id for k, v in c.items()}
    # Phone in any format is an exact lookup.
    assert await _found(pool, "8 (916) 123-45-67", head) == [ids["ivan"]]
    assert await _found(pool, "9267654321", head) == [ids["foreign"]]
    assert await _found(pool, "+7 999 000 00 00", head) == []
    # Order number.
    assert await _found(pool, "A-1001", head) == [ids["foreign"]]
    assert await _found(pool, " A-1002 ", head) == [ids["ivan"]]
    # Name words: case-insensitive, Cyrillic, any order, all words must match; newest first.
    assert await _found(pool, "иван", head) == [ids["foreign"], ids["ivanova"], ids["ivan"]]
    assert await _found(pool, "ИВАН", head) == [ids["foreign"], ids["ivanova"], ids["ivan"]]
    assert await _found(pool, "сидоров иван", head) == [ids["ivan"]]
    assert await _found(pool, "мария иванова", head) == [ids["ivanova"]]
    assert await _found(pool, "иван нет-такого", head) == []
    # LIKE wildcards are literal characters.
    assert await _found(pool, "_", head) == [ids["company"]]
    assert await _found(pool, "100%", head) == [ids["company"]]
    assert await _found(pool, "%", head) == [ids["company"]]
    # Empty query lists everyone the viewer may see.
    assert len(await _found(pool, "", head)) == 4


async def test_search_reads_yo_as_ye_and_finds_a_phone_by_its_last_digits(pool: Pool, make_manager: MakeManager
                                                                         ) -> None:
    head = await make_manager("supervisor")
    semyon = await customers.create_customer(pool, CustomerInput(name="Семён Пётрович", phones=("+79161234567",)))
    semen = await customers.create_customer(pool, CustomerInput(name="Семен Ершов", phones=("+79037654321",)))
    assert await _found(pool, "семен", head) == [semen.id, semyon.id]
    assert await _found(pool, "Семён", head) == [semen.id, semyon.id]
    assert await _found(pool, "петрович", head) == [semyon.id]
    # The last 7 or more digits, in any grouping, find the number; fewer are a name search (nothing here).
    assert await _found(pool, "123-45-67", head) == [semyon.id]
    assert await _found(pool, "654 321", head) == []
    assert await _found(pool, "37654321", head) == [semen.id]
    # An order number made of digits is still an order number.
    await orders.create_order(pool, OrderInput(number="7654321", customer_id=semyon.id, total="1"), None)
    assert await _found(pool, "7654321", head) == [semyon.id]


async def test_search_scoping_operator_sees_own_and_unassigned(pool: Pool, make_manager: MakeManager) -> None:
    owner = await make_manager("operator")
    other = await make_manager("operator")
    head = await make_manager("supervisor")
    admin = await make_manager("admin")
    c = await _seed_for_search(pool, owner, other)
    ids = {k: v.id for k, v in c.items()}
    assert set(await _found(pool, "", owner)) == {ids["ivan"], ids["ivanova"], ids["company"]}
    assert set(await _found(pool, "", other)) == {ids["foreign"], ids["ivanova"], ids["company"]}
    assert set(await _found(pool, "", head)) == set(ids.values())
    assert set(await _found(pool, "", admin)) == set(ids.values())
    # Another manager's customer stays hidden whichever way the operator searches.
    assert await _found(pool, "иван", owner) == [ids["ivanova"], ids["ivan"]]
    assert await _found(pool, "+79267654321", owner) == []
    assert await _found(pool, "A-1001", owner) == []
    assert await _found(pool, "A-1001", other) == [ids["foreign"]]


async def test_search_pages(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    made = [await customers.create_customer(pool, CustomerInput(name=f"Клиент {i}")) for i in range(5)]
    first = await customers.search_customers(pool, "клиент", head, limit=2)
    assert [c.id for c in first.items] == [made[4].id, made[3].id] and first.has_more
    last = await customers.search_customers(pool, "клиент", head, limit=2, offset=4)
    assert [c.id for c in last.items] == [made[0].id] and not last.has_more
    huge = await customers.search_customers(pool, "клиент", head, limit=10_000)
    assert len(huge.items) == 5


async def test_search_with_hostile_query_is_harmless(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("admin")
    await customers.create_customer(pool, CustomerInput(name="Иван"))
    assert await _found(pool, "'; DROP TABLE customers; --", head) == []
    assert await _found(pool, "Ив\x00ан", head) != []
    assert await _count(pool, "customers") == 1
    with pytest.raises(InvalidInput):
        await customers.search_customers(pool, "x" * 201, head)


async def test_notes_add_and_list_newest_first(pool: Pool, make_manager: MakeManager) -> None:
    author = await make_manager("operator", name="Анна Смирнова")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    first = await customers.add_note(pool, customer.id, author.id, "  Перезвонить\r\nпосле 18:00\x00  ")
    assert first.body == "Перезвонить\nпосле 18:00"
    assert first.author_name == "Анна Смирнова" and first.customer_id == customer.id
    second = await customers.add_note(pool, customer.id, None, "<i>системная</i>")
    assert second.author_id is None and second.body == "<i>системная</i>"
    assert [n.id for n in await customers.list_notes(pool, customer.id)] == [second.id, first.id]


async def test_bad_notes_are_refused(pool: Pool) -> None:
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    with pytest.raises(InvalidInput):
        await customers.add_note(pool, customer.id, None, " \x00 ")
    with pytest.raises(InvalidInput):
        await customers.add_note(pool, customer.id, None, "x" * 5001)
    with pytest.raises(NotFound):
        await customers.add_note(pool, 999999, None, "кому?")
    assert await customers.list_notes(pool, customer.id) == []


async def test_concurrent_creates_with_one_phone_give_one_customer(pool: Pool) -> None:
    """Two operators saving the same caller at once: one wins, the other gets PhoneTaken, never a 500."""
    results = await asyncio.gather(*(
        customers.create_customer(pool, CustomerInput(name=f"Гонка {i}", phones=("+79161234567",)))
        for i in range(4)), return_exceptions=True)
    created = [r for r in results if isinstance(r, Customer)]
    refused = [r for r in results if not isinstance(r, Customer)]
    assert len(created) == 1
    assert all(isinstance(r, PhoneTaken) for r in refused), refused
    assert await _count(pool, "customers") == 1
