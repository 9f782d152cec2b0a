"""Hostile or broken AMI input from the server: logged, counted, survived, with bounded memory."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from pbx_bridge import ami_events as ev
from pbx_bridge.ami_client import AmiClient, AmiState, AmiStatus
from tests.fake_ami_server import EventRecorder, FakeAmiServer, SessionScript, ami_settings, capture_frames
from tests.tracker_helpers import ASTERISK22

#: Protocol code: it must work on the service's uvloop and on asyncio's own loop alike.
pytestmark = pytest.mark.both_loops

TIMEOUT = 5.0
#: A real Newchannel from the capture: the valid event that must still arrive after the junk.
NEWCHANNEL = next(raw for raw in capture_frames(ASTERISK22 / "inbound_answered.ami") if b"Event: Newchannel" in raw)


def connected(status: AmiStatus) -> bool:
    return status.state is AmiState.CONNECTED


def got_newchannel(events: list[ev.AmiEvent]) -> bool:
    return any(isinstance(event, ev.Newchannel) for event in events)


async def test_malformed_frames_garbage_and_a_1mb_line_are_counted_and_the_session_goes_on() -> None:
    recorder = EventRecorder()
    async with FakeAmiServer() as server:
        async with AmiClient(ami_settings(server.port), recorder) as client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)
            before = client.status
            await server.send(b"Event: Newchannel\r\nChannel: PJSIP/101-0000000f\r\n\r\n")  # no Uniqueid
            await server.send(b"Foo: bar\r\nBaz: qux\r\n\r\n")  # neither Event nor Response
            await server.send(b"no colon on this line\r\n\r\n")
            await server.send(bytes(range(256)) * 16 + b"\r\n\r\n")  # binary garbage, invalid UTF-8
            await server.send(b"Event: UserEvent\r\nUserEvent: big\r\nData: " + b"x" * (1024 * 1024) + b"\r\n\r\n")
            await server.send(NEWCHANNEL)
            await recorder.wait_for(got_newchannel)
            assert (await client.ping()).success
            after = client.status

    assert (after.state, after.sessions, after.reconnects) == (AmiState.CONNECTED, 1, 0)
    assert after.malformed_frames - before.malformed_frames >= 3
    assert after.parse_problems - before.parse_problems >= 3  # no colon, bad UTF-8, the oversized line
    assert after.unhandled_events - before.unhandled_events == 1
    broken = [e for e in recorder.of(ev.Unhandled) if e.problem is not None]
    assert [(e.name, e.problem) for e in broken] == [("Newchannel", "missing Channel/Uniqueid")]
    user_event = next(e for e in recorder.of(ev.Unhandled) if e.name == "UserEvent")
    assert user_event.headers == (("Event", "UserEvent"), ("UserEvent", "big"))  # the 1 MB line was dropped
    newchannel = recorder.of(ev.Newchannel)[-1]
    assert newchannel.channel.name == "PJSIP/trunk-00000000" and newchannel.channel.uniqueid == "1795345255.0"


async def test_a_frame_cut_by_a_dropped_connection_never_merges_with_the_next_session() -> None:
    recorder = EventRecorder()
    async with FakeAmiServer() as server:
        server.scripts.append(SessionScript())
        server.scripts.append(SessionScript(after_resync=NEWCHANNEL))
        async with AmiClient(ami_settings(server.port), recorder) as client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)
            await server.send(NEWCHANNEL[: len(NEWCHANNEL) // 2], session=1)
            server.writers[1].transport.abort()
            await recorder.wait_for(got_newchannel)
            status = await client.wait_status(lambda s: s.sessions >= 2)
    assert status.reconnects == 1 and status.malformed_frames == 0
    assert len(recorder.of(ev.Newchannel)) == 1
    assert [type(e) for e in recorder.events if isinstance(e, ev.FullyBooted | ev.Newchannel)] == [
        ev.FullyBooted, ev.FullyBooted, ev.Newchannel]


async def test_memory_stays_bounded_under_an_endless_header_line() -> None:
    recorder = EventRecorder()
    chunk = b"y" * (64 * 1024)
    async with FakeAmiServer() as server:
        async with AmiClient(ami_settings(server.port), recorder) as client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)
            problems = client.status.parse_problems
            tracemalloc.start()
            try:
                await server.send(b"Event: UserEvent\r\nData: ")
                for _ in range(16 * 16):  # 16 MB without a line end
                    await server.send(chunk)
                await server.send(b"\r\n\r\n" + NEWCHANNEL)
                await recorder.wait_for(got_newchannel)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert client.status.parse_problems == problems + 1
            assert client.status.sessions == 1
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while 16 MB streamed through"
