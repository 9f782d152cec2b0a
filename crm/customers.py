"""Customers, their phones and notes: create, update, look up by phone, search, scope by role."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from crm.database import Connection, Pool
from crm.errors import AccessDenied, InvalidInput, NotFound, PhoneTaken
from crm.models import CUSTOMER_KINDS, Customer, CustomerKind, Manager, Note, Page, Phone
from crm.phones import normalize_phone, try_normalize_phone
from crm.sql import SqlParams
from crm.validation import clean_tags, clean_text

SELECT_CUSTOMER = """
SELECT c.*, m.display_name AS responsible_manager_name,
       coalesce((SELECT array_agg(p.e164 || '|' || p.label ORDER BY p.created_at, p.e164)
                 FROM customer_phones p WHERE p.customer_id = c.id), '{}') AS phone_list
FROM customers c LEFT JOIN managers m ON m.id = c.responsible_manager_id
"""

# Operators see their own customers and unassigned ones; $1 is the viewer's id.
OPERATOR_SCOPE = "(c.responsible_manager_id = {p} OR c.responsible_manager_id IS NULL)"

SEARCH_LIMIT_MAX = 100

# Name search runs in bounded steps instead of leaving "newest first" to the planner, whose
# LIKE estimates from statistics are coarse: it either walks the primary key backwards
# (fast for common words, a full-table walk for rare ones) or reads every trigram match and
# sorts (fast for rare words, tens of thousands of heap rows for common ones). The first steps
# filter only the newest NAME_SEARCH_WINDOWS[i] customers (on the stored lower-case name, about
# 0.3 µs a row); when they already fill the page, the page is exact, since every older match is
# older than all of these. Otherwise the words are rare, and the last step collects every match
# through the trigram index and sorts those few. Measured in bench/customer_lookup.py.
NAME_SEARCH_WINDOWS = (5_000,)


def _select_recent(window: int) -> str:
    return SELECT_CUSTOMER.replace(
        "FROM customers c", f"FROM (SELECT * FROM customers ORDER BY id DESC LIMIT {window}) c")


SELECT_RECENT_CUSTOMER = {window: _select_recent(window) for window in NAME_SEARCH_WINDOWS}


@dataclass(frozen=True)
class CustomerInput:
    name: str
    kind: CustomerKind = "person"
    vip: bool = False
    region: str = ""
    tags: tuple[str, ...] = ()
    responsible_manager_id: int | None = None
    email: str = ""
    phones: tuple[str, ...] = field(default=())

    def validated(self, default_region: str) -> CustomerInput:
        if self.kind not in CUSTOMER_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(CUSTOMER_KINDS)}")
        if len(self.phones) > 10:
            raise InvalidInput("phones: at most 10")
        phones = tuple(dict.fromkeys(normalize_phone(p, default_region) for p in self.phones))
        return CustomerInput(
            name=clean_text(self.name, "name", max_len=200, min_len=1),
            kind=self.kind, vip=bool(self.vip),
            region=clean_text(self.region, "region", max_len=100),
            tags=clean_tags(self.tags),
            responsible_manager_id=self.responsible_manager_id,
            email=clean_text(self.email, "email", max_len=200),
            phones=phones,
        )


def _customer(row: asyncpg.Record) -> Customer:
    phones = tuple(Phone(*item.split("|", 1)) for item in row["phone_list"])
    return Customer(
        id=row["id"], name=row["name"], kind=row["kind"], vip=row["vip"], region=row["region"],
        tags=tuple(row["tags"]), responsible_manager_id=row["responsible_manager_id"],
        responsible_manager_name=row["responsible_manager_name"], email=row["email"], phones=phones,
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


def can_see(viewer: Manager, customer: Customer) -> bool:
    return viewer.sees_everything or customer.responsible_manager_id in (None, viewer.id)


async def _check_manager(conn: Connection, manager_id: int | None) -> None:
    if manager_id is not None and not await conn.fetchval("SELECT 1 FROM managers WHERE id = $1", manager_id):
        raise InvalidInput(f"no manager {manager_id}")


async def _add_phones(conn: Connection, customer_id: int, phones: tuple[str, ...]) -> None:
    """Attach phones not yet attached; one owned by another customer raises `PhoneTaken`.

    `ON CONFLICT DO NOTHING` rather than check-then-insert: two concurrent saves of the
    same caller then end in one customer and one PhoneTaken, not a unique-key error.
    """
    for e164 in phones:
        inserted = await conn.fetchval(
            """INSERT INTO customer_phones (e164, customer_id) VALUES ($1, $2)
               ON CONFLICT (e164) DO NOTHING RETURNING customer_id""", e164, customer_id)
        if inserted is not None:
            continue
        owner = await conn.fetchval("SELECT customer_id FROM customer_phones WHERE e164 = $1", e164)
        if owner != customer_id:
            # No id: the other customer may be another manager's, whom the caller may not see.
            raise PhoneTaken(f"phone {e164} already belongs to another customer")


async def create_customer(pool: Pool, data: CustomerInput, *, default_region: str = "RU") -> Customer:
    data = data.validated(default_region)
    async with pool.acquire() as conn, conn.transaction():
        customer_id = await insert_customer(conn, data)
    return await get_customer(pool, customer_id)


async def insert_customer(conn: Connection, data: CustomerInput) -> int:
    """Insert an already validated customer inside the caller's transaction."""
    await _check_manager(conn, data.responsible_manager_id)
    customer_id: int = await conn.fetchval(
        """INSERT INTO customers (name, kind, vip, region, tags, responsible_manager_id, email)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        data.name, data.kind, data.vip, data.region, list(data.tags), data.responsible_manager_id, data.email)
    await _add_phones(conn, customer_id, data.phones)
    return customer_id


async def update_customer(pool: Pool, customer_id: int, data: CustomerInput, *,
                          default_region: str = "RU") -> Customer:
    """Replace the customer's fields and phone list (phones not listed are removed)."""
    data = data.validated(default_region)
    async with pool.acquire() as conn, conn.transaction():
        await _check_manager(conn, data.responsible_manager_id)
        updated = await conn.fetchval(
            """UPDATE customers SET name = $2, kind = $3, vip = $4, region = $5, tags = $6,
                   responsible_manager_id = $7, email = $8, updated_at = now()
               WHERE id = $1 RETURNING id""",
            customer_id, data.name, data.kind, data.vip, data.region, list(data.tags),
            data.responsible_manager_id, data.email)
        if updated is None:
            raise NotFound(f"no customer {customer_id}")
        await conn.execute("DELETE FROM customer_phones WHERE customer_id = $1 AND NOT (e164 = ANY($2))",
                           customer_id, list(data.phones))
        await _add_phones(conn, customer_id, data.phones)
    return await get_customer(pool, customer_id)


async def get_customer(pool: Pool, customer_id: int, viewer: Manager | None = None) -> Customer:
    row = await pool.fetchrow(SELECT_CUSTOMER + " WHERE c.id = $1", customer_id)
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    customer = _customer(row)
    if viewer is not None and not can_see(viewer, customer):
        raise AccessDenied("this customer belongs to another manager")
    return customer


async def find_by_phone(pool: Pool, raw_phone: str, *, default_region: str = "RU") -> Customer | None:
    """The customer owning this number in any format; the hot path of every inbound call."""
    e164 = try_normalize_phone(raw_phone, default_region)
    if e164 is None:
        return None
    row = await pool.fetchrow(
        SELECT_CUSTOMER + " WHERE c.id = (SELECT customer_id FROM customer_phones WHERE e164 = $1)", e164)
    return None if row is None else _customer(row)


#: A number is found by its last digits from this many on (fewer match too many customers to be useful).
MIN_TAIL_DIGITS = 7
_NUMBER_CHARS = frozenset("0123456789 +-().")


def fold_yo(text: str) -> str:
    """Lower case with ё read as е, as the stored `name_search` is (migration 0012)."""
    return text.lower().replace("ё", "е")


def _looks_like_number(query: str) -> bool:
    return all(ch in _NUMBER_CHARS for ch in query)


async def search_customers(pool: Pool, query: str, viewer: Manager, *, limit: int = 20, offset: int = 0,
                           default_region: str = "RU") -> Page:
    """Search by phone (any format), order number, or name words; newest first; role-scoped.

    A query that parses as a phone is an exact, indexed lookup. Otherwise the order
    number is tried, then the last digits of a phone (7 or more: `45-67-890`), then every word
    must occur in the name (trigram index), ё and е alike.
    """
    limit = max(1, min(limit, SEARCH_LIMIT_MAX))
    offset = max(0, offset)
    query = clean_text(query, "query", max_len=200)
    conditions: list[str] = []
    arg = SqlParams()

    if not viewer.sees_everything:
        conditions.append(OPERATOR_SCOPE.format(p=arg(viewer.id)))
    digits = "".join(ch for ch in query if ch.isdigit())
    e164 = try_normalize_phone(query, default_region) if len(digits) >= MIN_TAIL_DIGITS else None
    tail = digits if e164 is None and len(digits) >= MIN_TAIL_DIGITS and _looks_like_number(query) else None
    by_name = False
    if not query:
        pass
    elif e164 is not None:
        conditions.append(f"c.id IN (SELECT customer_id FROM customer_phones WHERE e164 = {arg(e164)})")
    else:
        order_customer = await pool.fetchval("SELECT customer_id FROM orders WHERE number = $1", query)
        if order_customer is not None:
            conditions.append(f"c.id = {arg(order_customer)}")
        elif tail is not None:  # the last digits of a number: any phone ending with them
            conditions.append(f"c.id IN (SELECT customer_id FROM customer_phones "
                              f"WHERE reverse(e164) LIKE {arg(tail[::-1] + '%')})")
        else:
            by_name = True
            for word in fold_yo(query).split()[:5]:
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                conditions.append(f"c.name_search LIKE {arg('%' + escaped + '%')}")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    page = f"LIMIT {arg(limit + 1)} OFFSET {arg(offset)}"
    if not by_name:
        rows = await pool.fetch(SELECT_CUSTOMER + where + " ORDER BY c.id DESC " + page, *arg.values)
    else:
        for window in NAME_SEARCH_WINDOWS:
            rows = await pool.fetch(SELECT_RECENT_CUSTOMER[window] + where + " ORDER BY c.id DESC " + page, *arg.values)
            if len(rows) > limit:
                break
        else:
            rows = await pool.fetch(
                f"WITH matches AS MATERIALIZED (SELECT c.id FROM customers c{where})" + SELECT_CUSTOMER
                + f" WHERE c.id IN (SELECT id FROM matches ORDER BY id DESC {page}) ORDER BY c.id DESC", *arg.values)
    return Page(items=tuple(_customer(r) for r in rows[:limit]), has_more=len(rows) > limit)


async def add_note(pool: Pool, customer_id: int, author_id: int | None, body: str,
                   order_id: int | None = None) -> Note:
    body = clean_text(body, "note", max_len=5000, min_len=1, multiline=True)
    try:
        note_id = await pool.fetchval(
            "INSERT INTO notes (customer_id, order_id, author_id, body) VALUES ($1, $2, $3, $4) RETURNING id",
            customer_id, order_id, author_id, body)
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound(f"no customer {customer_id}") from exc
    notes = await list_notes(pool, customer_id)
    return next(n for n in notes if n.id == note_id)


async def list_notes(pool: Pool, customer_id: int) -> list[Note]:
    rows = await pool.fetch(
        """SELECT n.*, m.display_name AS author_name FROM notes n LEFT JOIN managers m ON m.id = n.author_id
           WHERE n.customer_id = $1 ORDER BY n.created_at DESC, n.id DESC LIMIT 200""", customer_id)
    return [Note(id=r["id"], customer_id=r["customer_id"], order_id=r["order_id"], author_id=r["author_id"],
                 author_name=r["author_name"], body=r["body"], created_at=r["created_at"]) for r in rows]


async def sample_phones(pool: Pool, limit: int = 50) -> list[str]:
    """Some customers' phones (E.164), e.g. for the demo's simulated calls from known customers."""
    rows = await pool.fetch("SELECT e164 FROM customer_phones ORDER BY customer_id LIMIT $1", limit)
    return [r["e164"] for r in rows]
