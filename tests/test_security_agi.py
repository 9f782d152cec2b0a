"""FastAGI access control (issue 9): only allowlisted PBX addresses, only with the shared secret, and a
route request can never rewrite the routing record of a call that was already routed."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from crm import customers, managers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.routing.data import get_route_decision
from pbx_bridge.agi_contract import RouteAnswer
from pbx_bridge.agi_server import AgiServer
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.live_load import LiveLoad
from pbx_bridge.log_safe import PrintableLogFilter, printable
from pbx_bridge.simulator.agi_client import AgiCall, AgiTarget, ask_router
from tests.agi_helpers import RecordingRouter, agi_server, env_of, exchange
from tests.conftest import MakeManager, open_around_the_clock
from web.routing_service import CrmRouter

SECRET = "s3cret-s3cret-s3cret"
ANSWER_FOR_TESTS = RouteAnswer(targets=("PJSIP/101",), ring_timeout_s=20, fallback="queue:sales",
                               reason="responsible_manager", customer_id=7, caller_name="Иванов И. · VIP")


def route_env(linkedid: str = "1795345255.0", caller: str = "79161110001", *args: str) -> bytes:
    pairs = [("agi_network", "yes"), ("agi_network_script", "route"), ("agi_channel", "PJSIP/trunk-00000001"),
             ("agi_uniqueid", linkedid), ("agi_callerid", caller), ("agi_calleridname", caller),
             ("agi_arg_1", linkedid), ("agi_arg_2", "74951234501")]
    pairs += [(f"agi_arg_{3 + i}", value) for i, value in enumerate(args)]
    return env_of(pairs)


async def exchange_from(source: str, port: int, env_block: bytes) -> list[bytes]:
    """Play Asterisk from the local address `source` (any 127.x address is this host's loopback)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    commands: list[bytes] = []
    try:
        writer.write(env_block)
        await writer.drain()
        async with asyncio.timeout(5):
            while line := await reader.readline():
                commands.append(line)
                writer.write(b"200 result=1\n")
                await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
    return commands


async def test_a_peer_outside_the_allowlist_learns_nothing() -> None:
    router = RecordingRouter(ANSWER_FOR_TESTS)
    async with agi_server(router, allowed_peers="127.0.0.2") as server:
        assert await exchange_from("127.0.0.1", server.port, route_env()) == []
        assert router.requests == [] and server.stats.refused_peer == 1
        allowed = await exchange_from("127.0.0.2", server.port, route_env())
    assert any(b"ROUTE_TARGETS" in line for line in allowed) and len(router.requests) == 1


def test_the_default_allowlist_is_loopback_only() -> None:
    server = AgiServer(replace(AgiSettings(), port=0), RecordingRouter(ANSWER_FOR_TESTS))
    assert server._peer_allowed(("127.0.0.1", 5000)) and server._peer_allowed(("::1", 5000, 0, 0))
    assert server._peer_allowed(("::ffff:127.0.0.1", 5000, 0, 0))
    assert not server._peer_allowed(("10.0.0.5", 5000)) and not server._peer_allowed(("192.0.2.1", 5000))
    assert not server._peer_allowed(("2001:db8::1", 5000, 0, 0)) and not server._peer_allowed("")


def test_settings_refuse_a_bad_allowlist_or_a_weak_secret() -> None:
    assert any("ALLOWED_PEERS" in p for p in AgiSettings(allowed_peers="pbx.example").problems())
    assert any("AGI_SECRET" in p for p in AgiSettings(secret="short").problems())
    assert AgiSettings(allowed_peers="10.0.0.5, 10.1.0.0/16, ::1", secret=SECRET).problems() == []


async def test_a_request_without_the_secret_gets_no_answer() -> None:
    router = RecordingRouter(ANSWER_FOR_TESTS)
    async with agi_server(router, secret=SECRET) as server:
        assert await exchange(server.port, route_env()) == []
        assert await exchange(server.port, route_env("1.1", "79161110001", "wrong-secret-wrong")) == []
        assert router.requests == [] and server.stats.bad_secret == 2
        answered = await exchange(server.port, route_env("1.2", "79161110001", SECRET))
    assert any(b"ROUTE_TARGETS" in line for line in answered) and len(router.requests) == 1


async def test_a_second_request_cannot_rewrite_a_calls_decision(pool: Pool, make_manager: MakeManager) -> None:
    await open_around_the_clock(pool)  # routed to the manager, not "after hours", whenever the suite runs
    manager = await make_manager("operator", name="Анна Смирнова", extensions=("101",))
    await managers.set_presence(pool, manager.id, "online")
    customer = await customers.create_customer(pool, CustomerInput(
        name="Иванов Иван", responsible_manager_id=manager.id, phones=("+7 916 111-00-01",)))
    router = CrmRouter(pool, LiveLoad())
    async with agi_server(router, deadline_ms=2000) as server:
        await exchange(server.port, route_env("1795345255.0", "79161110001"))
        await router.drain()
        first = await get_route_decision(pool, "1795345255.0")
        # Someone who reaches the port replays the same Linkedid from another number.
        await exchange(server.port, route_env("1795345255.0", "79990000000"))
        await router.drain()
    again = await get_route_decision(pool, "1795345255.0")
    assert first is not None and first.manager_id == manager.id
    assert again == first
    row = await pool.fetchrow("SELECT customer_id, caller FROM calls WHERE linkedid = '1795345255.0'")
    assert row is not None and row["customer_id"] == customer.id



async def test_control_characters_from_caller_ids_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    hostile = "7916\x1b[2J\x07\u202e"
    env = route_env("1.7\x1b[31m", hostile)
    with caplog.at_level(logging.INFO, logger="pbx_bridge"):
        async with agi_server(RecordingRouter(ANSWER_FOR_TESTS)) as server:
            await exchange(server.port, env)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "7916" in logged and "\\x1b[2J" in logged
    assert not any(ch in logged for ch in "\x1b\x07\r\u202e")


def test_printable_escapes_and_bounds() -> None:
    assert printable("a\rb\nc\x1b") == "a\\rb\\nc\\x1b"
    assert printable("x" * 500).endswith("…") and len(printable("x" * 500)) == 201


async def test_the_simulator_passes_the_secret_like_the_dialplan() -> None:
    router = RecordingRouter(ANSWER_FOR_TESTS)
    call = AgiCall(channel="PJSIP/trunk-00000001", uniqueid="1.9", linkedid="1.9", caller="79161110001",
                   caller_name="", did="74951234501")
    async with agi_server(router, secret=SECRET) as server:
        assert await ask_router(AgiTarget("127.0.0.1", server.port), call) == []
        answered = await ask_router(AgiTarget("127.0.0.1", server.port, secret=SECRET), call)
    assert answered is not None and ("ROUTE_TARGETS", "PJSIP/101") in answered


def test_the_log_filter_escapes_any_message() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "caller %s", ("bad\x1b[0m\r\nforged line",), None)
    assert PrintableLogFilter().filter(record)
    assert record.getMessage() == "caller bad\\x1b[0m\\r\\nforged line"


def test_the_log_filter_leaves_a_broken_format_to_the_handler() -> None:
    """A wrong number of % arguments is the handler's to report (logging.raiseExceptions), never an exception
    thrown back at the code that logged."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "two %s %s", ("one",), None)
    assert PrintableLogFilter().filter(record)
    assert (record.msg, record.args) == ("two %s %s", ("one",))
