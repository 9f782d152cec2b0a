"""The FastAGI router over a real loopback socket, fed the exact bytes Asterisk 22 sent (tests/fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct

import pytest

from pbx_bridge import agi_protocol as proto
from pbx_bridge.agi_contract import VAR_CALLER_NAME, VAR_CUSTOMER_ID, RouteAnswer
from pbx_bridge.agi_server import FALLBACK_ERROR, FALLBACK_TIMEOUT, request_from_env
from tests.agi_helpers import (
    AGI_CAPTURES,
    FailingRouter,
    GatedRouter,
    RecordingRouter,
    StuckRouter,
    agi_server,
    answer_from_capture,
    env_of,
    exchange,
    load_capture,
)

#: Protocol code: it must work on the service's uvloop and on asyncio's own loop alike.
pytestmark = pytest.mark.both_loops

ANSWER = RouteAnswer(targets=("PJSIP/101", "PJSIP/102"), ring_timeout_s=25, fallback="queue:sales",
                     reason="responsible_manager", customer_id=42, caller_name="Иванов И. · VIP · заказ 10234")
CONTRACT_NAMES = ["ROUTE_TARGETS", "RING_TIMEOUT", "ROUTE_FALLBACK", "ROUTE_REASON", "ROUTE_CUSTOMER_ID"]


def names(commands: list[bytes]) -> list[str]:
    return [proto.split_command(c.decode())[2] for c in commands]


def values(commands: list[bytes]) -> dict[str, str]:
    return {words[2]: words[3] for words in (proto.split_command(c.decode()) for c in commands)}


@pytest.mark.parametrize("name", AGI_CAPTURES)
async def test_captured_request_is_answered_like_the_recorded_router(name: str) -> None:
    capture = load_capture(name)
    router = RecordingRouter(answer_from_capture(capture))
    async with agi_server(router) as server:
        commands = await exchange(server.port, capture.env_block, capture.replies)
    (request,) = router.requests
    assert request.caller_number == capture.sidecar["caller"]["number"]
    assert request.caller_name == capture.sidecar["caller"]["name"]
    assert request.did == capture.sidecar["did"]
    assert request.uniqueid == capture.sidecar["agi_env"]["agi_uniqueid"]
    # No agi_arg_1 in these captures: the linkedid falls back to the uniqueid (the first channel's = the call's).
    assert request.linkedid == capture.sidecar["linkedid"]
    assert request.channel == capture.sidecar["agi_env"]["agi_channel"]
    assert not request.restricted
    # Our commands, in the contract's order, each a single LF-terminated line...
    assert names(commands) == [*CONTRACT_NAMES, VAR_CALLER_NAME]
    assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in commands)
    # ...and byte for byte what the real router sent for every variable both name.
    sent = {proto.split_command(c.decode())[2]: c for c in commands}
    recorded = [item["command"] for item in capture.sidecar["router_answer"]
                if item["command"].split(" ")[2] in sent]
    assert recorded, name
    assert [sent[cmd.split(" ")[2]].decode().rstrip("\n") for cmd in recorded] == recorded
    assert server.stats.routed == 1 and server.stats.command_errors == 0


async def test_dialplan_arguments_give_linkedid_and_did() -> None:
    capture = load_capture("inbound_answered")
    env = capture.env_block[:-1] + b"agi_arg_1: 1795345000.7\nagi_arg_2: 74950000000\n\n"
    router = RecordingRouter(ANSWER)
    async with agi_server(router) as server:
        commands = await exchange(server.port, env)
    (request,) = router.requests
    assert (request.linkedid, request.did, request.uniqueid) == ("1795345000.7", "74950000000", "1795345255.0")
    assert values(commands) == {"ROUTE_TARGETS": "PJSIP/101&PJSIP/102", "RING_TIMEOUT": "25",
                                "ROUTE_FALLBACK": "queue:sales", "ROUTE_REASON": "responsible_manager",
                                "ROUTE_CUSTOMER_ID": "42", "CALLERID(name)": "Иванов И. · VIP · заказ 10234"}


def test_did_falls_back_to_extension_and_hidden_numbers() -> None:
    request = request_from_env({"agi_dnid": "unknown", "agi_extension": "74951234501", "agi_callerid": "unknown",
                                "agi_calleridname": "<unknown>", "agi_callingpres": "32",
                                "agi_uniqueid": "1.2", "agi_arg_1": "", "agi_arg_2": ""})
    assert (request.did, request.caller_number, request.linkedid, request.restricted) == (
        "74951234501", "", "1.2", True)
    assert request_from_env({"agi_callingpres": "67"}).restricted is False  # number unavailable, not hidden


async def test_slow_router_gets_the_fallback_at_the_deadline() -> None:
    router = StuckRouter()
    async with agi_server(router, deadline_ms=30) as server:
        commands = await exchange(server.port, load_capture("inbound_answered").env_block)
        async with asyncio.timeout(2):
            await router.cancelled.wait()
    assert values(commands) == {"ROUTE_TARGETS": "", "RING_TIMEOUT": "20", "ROUTE_FALLBACK": "queue:sales",
                                "ROUTE_REASON": FALLBACK_TIMEOUT, "ROUTE_CUSTOMER_ID": ""}
    assert server.stats.fallback_timeout == 1


async def test_failing_router_gets_the_configured_fallback() -> None:
    async with agi_server(FailingRouter(), fallback="voicemail:general", fallback_ring_timeout_s=15) as server:
        commands = await exchange(server.port, load_capture("inbound_busy").env_block)
    assert values(commands)["ROUTE_REASON"] == FALLBACK_ERROR
    assert values(commands)["ROUTE_FALLBACK"] == "voicemail:general"
    assert values(commands)["RING_TIMEOUT"] == "15"
    assert server.stats.fallback_error == 1


async def test_answer_that_cannot_be_sent_becomes_the_fallback() -> None:
    bad = RouteAnswer(targets=("PJSIP/" + "1" * 3000,), ring_timeout_s=20, fallback="hangup", reason="x")
    async with agi_server(RecordingRouter(bad)) as server:
        commands = await exchange(server.port, load_capture("inbound_busy").env_block)
    assert values(commands)["ROUTE_REASON"] == FALLBACK_ERROR


async def test_hostile_caller_name_stays_one_quoted_value() -> None:
    hostile = 'Evil" \\"x\nSET VARIABLE ROUTE_TARGETS "PJSIP/999\r\n<script>alert(1)</script> Ёлка'
    router = RecordingRouter(RouteAnswer(targets=("PJSIP/101",), ring_timeout_s=20, fallback="queue:sales",
                                         reason="least_loaded", caller_name=hostile))
    env = env_of([("agi_network_script", "route"), ("agi_uniqueid", "1.1"),
                  ("agi_callerid", "79161110001"), ("agi_calleridname", 'O\'Brien "Bob" <b>')])
    async with agi_server(router) as server:
        commands = await exchange(server.port, env)
    assert router.requests[0].caller_name == 'O\'Brien "Bob" <b>'  # AGI passes names raw
    assert names(commands) == [*CONTRACT_NAMES, VAR_CALLER_NAME]
    assert values(commands)["ROUTE_TARGETS"] == "PJSIP/101"
    parsed = proto.split_command(commands[-1].decode())
    assert len(parsed) == 4
    assert parsed[3] == hostile.replace("\n", " ").replace("\r", " ")
    assert "Ёлка".encode() in commands[-1]  # UTF-8 raw, as AGI passes it


async def test_unknown_script_gets_nothing() -> None:
    router = RecordingRouter(ANSWER)
    env = load_capture("inbound_answered").env_block.replace(b"agi_network_script: route",
                                                              b"agi_network_script: hack")
    async with agi_server(router) as server:
        commands = await exchange(server.port, env)
    assert commands == [] and router.requests == [] and server.stats.unknown_script == 1


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"agi_network: yes\n" + b"x" * 20000 + b"\n\n",
])
async def test_garbage_is_closed_without_an_answer(garbage: bytes) -> None:
    router = RecordingRouter(ANSWER)
    async with agi_server(router) as server:
        commands = await exchange(server.port, garbage)
    assert commands == [] and router.requests == [] and server.stats.bad_environment == 1


async def test_half_environment_is_dropped_after_the_client_timeout() -> None:
    router = RecordingRouter(ANSWER)
    half = load_capture("inbound_answered").env_block[:200]
    async with agi_server(router, client_timeout_s=0.1) as server:
        commands = await exchange(server.port, half)
    assert commands == [] and router.requests == [] and server.stats.bad_environment == 1


async def test_error_replies_do_not_stop_the_answer() -> None:
    replies = [b"510 Invalid or unknown command\n",
               b"520-Invalid command syntax.  Proper usage follows:\n",
               b" Usage: SET VARIABLE <variablename> <value>\n",
               b"520 End of proper usage.\n"]
    async with agi_server(RecordingRouter(ANSWER)) as server:
        commands = await exchange(server.port, load_capture("inbound_answered").env_block, replies[:1])
        usage = await exchange(server.port, load_capture("inbound_answered").env_block,
                               [b"200 result=1\n", b"".join(replies[1:])])
    assert names(commands) == names(usage) == [*CONTRACT_NAMES, VAR_CALLER_NAME]
    assert server.stats.command_errors == 2


async def test_hangup_and_dead_channel_stop_the_answer() -> None:
    env = load_capture("inbound_answered").env_block
    async with agi_server(RecordingRouter(ANSWER)) as server:
        hung_up = await exchange(server.port, env, [b"200 result=1\n", b"HANGUP\n"])
        dead = await exchange(server.port, env, [b"511 Command Not Permitted on a dead channel or intercepted "
                                                 b"subroutine\n"])
        gone = await exchange(server.port, env, stop_after=1)
    assert (len(hung_up), len(dead), len(gone)) == (2, 1, 1)
    assert server.stats.hangups == 1 and server.stats.command_errors == 1


async def test_a_caller_gone_while_the_router_thinks_is_a_hangup_not_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    """The demo's stop (and a caller who hangs up at once) closes the socket before the answer is
    written: uvloop raises on that write, so the server must see the closed transport first."""
    router = GatedRouter(ANSWER)
    async with agi_server(router) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(load_capture("inbound_answered").env_block)
        await writer.drain()
        await router.asked.wait()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        writer.transport.abort()
        handler, server_side = next(iter(server._connections.items()))
        with contextlib.suppress(ConnectionResetError):  # wait_closed reports the reset it waited for
            async with asyncio.timeout(5):
                await server_side.wait_closed()  # the loop notices the reset by itself
        router.release.set()
        async with asyncio.timeout(5):
            await asyncio.wait({handler})
    assert server.stats.hangups == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_many_concurrent_calls_are_all_answered() -> None:
    router = RecordingRouter(ANSWER)
    env = load_capture("inbound_answered").env_block
    async with agi_server(router) as server:
        results = await asyncio.gather(*(exchange(server.port, env) for _ in range(100)))
    assert all(names(commands) == [*CONTRACT_NAMES, VAR_CALLER_NAME] for commands in results)
    assert server.stats.routed == 100


async def test_close_drops_a_stalled_peer() -> None:
    async with agi_server(RecordingRouter(ANSWER), client_timeout_s=30) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\n")
        await writer.drain()
    # FIN, or RST when the line was still unread in the server's socket: either way, closed.
    with contextlib.suppress(ConnectionResetError):
        async with asyncio.timeout(2):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()


def test_quote_round_trips_through_asterisks_parser() -> None:
    for value in ["", "plain", 'a "b" c', "back\\slash\\", "tab\there", "Иванов И. · VIP · заказ 10234"]:
        line = proto.set_variable("X", value).decode()
        assert proto.split_command(line) == ["SET", "VARIABLE", "X", value.replace("\t", " ")]
    with pytest.raises(ValueError):
        proto.set_variable("X Y", "1")
    assert proto.set_variable(VAR_CUSTOMER_ID, "7") == b'SET VARIABLE ROUTE_CUSTOMER_ID "7"\n'
