"""Demo data loads once through the real rules; migrations apply once and are a no-op after that."""

from __future__ import annotations

import os

import asyncpg

from crm import database, managers
from crm.database import Pool
from crm.demo_data import DEMO_PASSWORD, load_demo_data
from tests.conftest import PgServer

TABLES = ("managers", "manager_extensions", "customers", "customer_phones", "orders", "order_status_history",
          "tasks", "notes")


async def _counts(pool: Pool) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def test_demo_data_loads_once(pool: Pool) -> None:
    result = await load_demo_data(pool, customers=30)
    assert result.created
    roles = {role for _, role, _ in result.logins}
    assert roles == {"operator", "supervisor", "admin"}
    staff = await managers.list_managers(pool)
    assert {m.role for m in staff} == roles and len(staff) == len(result.logins)
    for login, role, name in result.logins:
        signed_in = await managers.authenticate(pool, login, DEMO_PASSWORD)
        assert signed_in is not None and signed_in.role == role and signed_in.display_name == name

    counts = await _counts(pool)
    assert counts["customers"] == 30
    assert counts["customer_phones"] >= 30
    assert counts["orders"] > 0 and counts["tasks"] > 0
    assert await pool.fetchval("SELECT count(*) FROM customers c WHERE NOT EXISTS "
                               "(SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id)") == 0
    assert all(e164.startswith("+79") and len(e164) == 12
               for e164 in [r["e164"] for r in await pool.fetch("SELECT e164 FROM customer_phones")])
    statuses = {r["status"] for r in await pool.fetch("SELECT DISTINCT status FROM orders")}
    assert len(statuses) >= 3
    # Every order reached its status through the workflow: one history row per step, ending in it.
    mismatched = await pool.fetchval(
        """SELECT count(*) FROM orders o WHERE o.status <> (SELECT h.to_status FROM order_status_history h
           WHERE h.order_id = o.id ORDER BY h.changed_at DESC, h.id DESC LIMIT 1)""")
    assert mismatched == 0
    assert await pool.fetchval("SELECT count(*) FROM order_status_history WHERE from_status IS NULL") == \
        counts["orders"]
    assert await pool.fetchval("SELECT count(*) FROM tasks WHERE created_by_id IS NOT NULL") == 0

    again = await load_demo_data(pool, customers=30)
    assert not again.created and again.logins == result.logins
    assert await _counts(pool) == counts


async def test_demo_data_is_skipped_when_managers_exist(pool: Pool) -> None:
    await managers.create_manager(pool, managers.ManagerInput(login="owner", display_name="Владелец",
                                                              role="admin"), "long enough password")
    result = await load_demo_data(pool, customers=5)
    assert not result.created
    assert (await _counts(pool))["customers"] == 0


async def test_migrate_on_the_migrated_test_database_is_a_no_op(db_dsn: str) -> None:
    conn = await database.connect(db_dsn)
    try:
        before = await conn.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in before] == [v for v, _ in database.migration_files()]
        assert await database.migrate(conn) == []
        assert await database.migrate(conn) == []
        assert await conn.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version") == before
    finally:
        await conn.close()


async def test_migrate_a_blank_database_then_again(pg_server: PgServer) -> None:
    name = f"perezvon_test_blank_{os.getpid()}"
    admin = await asyncpg.connect(pg_server.base_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    try:
        conn = await database.connect(pg_server.dsn(name))
        try:
            versions = [v for v, _ in database.migration_files()]
            assert versions and versions == sorted(versions)
            assert await database.migrate(conn) == versions
            statuses = await conn.fetchval("SELECT count(*) FROM order_statuses")
            assert await database.migrate(conn) == []
            assert await conn.fetchval("SELECT count(*) FROM order_statuses") == statuses
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(versions)
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(pg_server.base_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()
