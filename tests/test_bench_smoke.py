"""The customer-lookup benchmark still runs: its generator and measurement on a tiny dataset.

Only that it works and finds the right customers is checked here; its timings are
figures for BENCHMARKS.md, never assertions.
"""

from __future__ import annotations

import re

from bench import customer_lookup
from bench.common import percentile
from crm import database
from crm.customers import find_by_phone, search_customers
from crm.database import Pool
from crm.managers import get_manager

TINY = customer_lookup.Sizes(customers=500, orders=1500, phone_lookups=40, name_searches=30, runs=2)


def test_percentile_interpolates() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([5.0], 99) == 5.0
    assert percentile(list(map(float, range(101))), 99) == 99.0


def test_phone_formats_normalise_to_one_number() -> None:
    formats = customer_lookup.phone_formats("+79161234567")
    assert "8 (916) 123-45-67" in formats and "+7 916 123 45 67" in formats and "79161234567" in formats


async def test_generator_fills_consistent_data(db_dsn: str, pool: Pool) -> None:
    conn = await database.connect(db_dsn)
    try:
        await customer_lookup.generate(conn, TINY.customers, TINY.orders)
    finally:
        await conn.close()
    counts = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders, "
        "(SELECT count(*) FROM customer_phones) AS phones, "
        "(SELECT count(DISTINCT customer_id) FROM customer_phones) AS with_phone, "
        "(SELECT count(*) FROM pg_indexes WHERE indexname = 'customers_name_search_trgm') AS trgm")
    assert counts is not None
    assert (counts["customers"], counts["orders"], counts["with_phone"], counts["trgm"]) == (500, 1500, 500, 1)
    assert counts["phones"] == 500 + 500 // 5  # every fifth customer has a second phone

    # A generated phone in every format finds its owner through the real code path.
    row = await pool.fetchrow("SELECT e164, customer_id FROM customer_phones ORDER BY e164 LIMIT 1")
    assert row is not None and re.fullmatch(r"\+79\d{9}", row["e164"])
    for raw in customer_lookup.phone_formats(row["e164"]):
        found = await find_by_phone(pool, raw)
        assert found is not None and found.id == row["customer_id"], raw

    # A generated name is found by its words, and an operator sees only their own or unassigned customers.
    owned = await pool.fetchrow("SELECT id, name, responsible_manager_id FROM customers "
                                "WHERE responsible_manager_id IS NOT NULL AND kind = 'person' ORDER BY id LIMIT 1")
    assert owned is not None
    supervisor = await get_manager(pool, await pool.fetchval("SELECT id FROM managers WHERE role = 'supervisor'"))
    other = await get_manager(pool, await pool.fetchval(
        "SELECT id FROM managers WHERE role = 'operator' AND id <> $1 LIMIT 1", owned["responsible_manager_id"]))
    words = " ".join(owned["name"].split()[:2])
    page = await search_customers(pool, words, supervisor, limit=100)
    assert owned["id"] in [c.id for c in page.items]
    page = await search_customers(pool, words, other, limit=100)
    assert owned["id"] not in [c.id for c in page.items]
    assert all(c.responsible_manager_id in (None, other.id) for c in page.items)


async def test_benchmark_reports_figures(db_dsn: str) -> None:
    result = await customer_lookup.run_benchmark(db_dsn, TINY)
    assert (result["customers"], result["orders"], result["runs"]) == (500, 1500, 2)
    for key in ("phone_lookup_p50_ms", "phone_lookup_p99_ms", "name_search_p50_ms", "name_search_p99_ms"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["phone_lookup_p99_ms"] >= result["phone_lookup_p50_ms"]
    assert result["name_search_p99_ms"] >= result["name_search_p50_ms"]
    assert result["phone_lookups"] == 2 * 40 and result["name_searches"] == 2 * 30
    assert result["phone_lookup_misses"] == 0  # every lookup found the customer whose phone it was
    assert result["name_search_wrong_results"] == 0  # every hit matched the words and the viewer's scope
    assert result["name_search_hits"] > 0
    assert result["machine"]["postgresql"]
