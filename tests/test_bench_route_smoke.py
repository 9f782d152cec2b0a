"""The route-latency benchmark still runs: data, router process, FastAGI client and report on a tiny dataset.

Checked: every call is answered by the router (no fallback), known callers are recognised, a known
customer whose responsible manager is online with a free phone rings that manager, and the figures
are positive. Timings are figures for BENCHMARKS.md, never assertions.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from bench import route_data, route_latency
from crm.database import Pool
from pbx_bridge.agi_contract import VAR_CUSTOMER_ID, VAR_REASON, VAR_TARGETS
from pbx_bridge.simulator.agi_client import AgiTarget

TINY = route_latency.Sizes(customers=300, orders=900, managers=60, sequential=40, concurrent=60, concurrency=3,
                           runs=2)


async def test_routing_data_shape(db_dsn: str, pool: Pool) -> None:
    await route_latency.prepare(db_dsn, TINY, fresh=True)
    counts = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM managers) AS managers, "
        "(SELECT count(*) FROM managers m WHERE role = 'operator' AND NOT EXISTS "
        "   (SELECT 1 FROM manager_extensions e WHERE e.manager_id = m.id)) AS without_phone, "
        "(SELECT count(*) FROM managers WHERE presence = 'online' AND role = 'operator') AS online, "
        "(SELECT count(*) FROM routing_groups WHERE name LIKE 'bench-%') AS groups, "
        "(SELECT count(*) FROM routing_rules) AS rules, (SELECT count(*) FROM routing_numbers) AS numbers")
    assert counts is not None
    assert counts["managers"] == TINY.managers and counts["without_phone"] == 0
    assert 0 < counts["online"] < TINY.managers
    assert (counts["groups"], counts["rules"], counts["numbers"]) == (
        len(route_data.GROUPS), len(route_data.RULES), len(route_data.NUMBERS))
    await route_latency.prepare(db_dsn, TINY, fresh=False)  # a second pass keeps the data as it is
    assert await pool.fetchval("SELECT count(*) FROM routing_groups") == len(route_data.GROUPS)


async def test_calls_are_routed_to_the_right_managers(db_dsn: str, pool: Pool) -> None:
    await route_latency.prepare(db_dsn, TINY, fresh=True)
    moment = route_latency.bench_moment(datetime.now(UTC).date())
    server = await route_latency.start_server(db_dsn, cpu=None, pool_size=2, moment=moment, deadline_ms=2000)
    try:
        cases = await route_latency.call_cases(pool, 120, random.Random(5))
        routed = await route_latency.route_all(AgiTarget("127.0.0.1", server.port), cases, "5.1", 3)
        stats = await server.stats()
    finally:
        await server.stop()
    assert len(routed) == 120 and stats["routed"] == 120
    assert stats["fallback_timeout"] == stats["fallback_error"] == 0
    assert await pool.fetchval("SELECT count(*) FROM calls WHERE route_reason <> ''") == 120
    busy = set(server.info["busy"]) | set(server.info["unregistered"])
    rows = await pool.fetch(
        "SELECT c.id, m.presence, array_agg(e.extension) AS ext FROM customers c "
        "JOIN managers m ON m.id = c.responsible_manager_id JOIN manager_extensions e ON e.manager_id = m.id "
        "GROUP BY c.id, m.presence")
    responsible_free = {r["id"]: r["ext"] for r in rows if r["presence"] == "online" and not busy & set(r["ext"])}
    checked = 0
    for r in routed:
        expected_customer = "" if r.case.customer_id is None else str(r.case.customer_id)
        assert r.variables[VAR_CUSTOMER_ID] == expected_customer
        if r.case.customer_id in responsible_free:
            assert r.variables[VAR_TARGETS], r
            if r.variables[VAR_REASON] == "responsible_manager":
                assert r.variables[VAR_TARGETS] == "&".join(f"PJSIP/{e}" for e in sorted(
                    responsible_free[r.case.customer_id]))
            else:
                assert r.variables[VAR_REASON] == "urgent_order"  # the only step before the responsible one
            checked += 1
    assert checked > 10
    assert any(r.case.customer_id is None for r in routed) and any(r.case.caller == "anonymous" for r in routed)


async def test_benchmark_reports_figures(db_dsn: str) -> None:
    result = await route_latency.run_benchmark(db_dsn, TINY, pool_size=2, deadline_ms=2000)
    assert (result["customers"], result["orders"], result["managers"], result["runs"]) == (300, 900, 60, 2)
    for key in ("route_p50_ms", "route_p99_ms", "decisions_per_s", "concurrent_p99_ms", "server_cpu_ms_per_decision"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["route_p99_ms"] >= result["route_p50_ms"]
    assert result["calls_sequential"] == 2 * 40 and result["calls_concurrent"] == 2 * 60
    assert result["fallbacks"] == 0 and result["customer_mismatches"] == 0
    assert result["known_calls"] > 0 and result["known_with_targets"] > 0
    assert result["decisions_recorded"] == result["server_routed"] > 2 * (40 + 60)  # plus the warm-up
    assert len(result["loadavg_before"]) == 3 and result["machine"]["postgresql"]
