"""Reconnects of the live AMI client: a cut link mid-call (with resync into the tracker), the watchdog, refusals."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_actions import AmiConnectionLost, Originate
from pbx_bridge.ami_client import AmiClient, AmiState, AmiStatus
from pbx_bridge.ami_frames import Frame
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.tcp_proxy import TcpProxy
from tests.fake_ami_server import (
    FULLY_BOOTED,
    EventRecorder,
    FakeAmiServer,
    Headers,
    SessionScript,
    ami_settings,
    capture_frames,
)
from tests.tracker_helpers import ASTERISK22, capture_events, replay, the_end

#: Protocol code: it must work on the service's uvloop and on asyncio's own loop alike.
pytestmark = pytest.mark.both_loops

TIMEOUT = 5.0
CHANNEL_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid",
                "Linkedid")


class TrackingConsumer(EventRecorder):
    """The composition root's wiring in miniature: every event into the pure call tracker."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker = CallTracker()
        self.facts: list[cf.CallFact] = []

    def on_event(self, event: ev.AmiEvent) -> None:
        self.facts.extend(self.tracker.feed(event))
        super().on_event(event)


def core_show_channel(dial_begin: Frame, prefix: str, **overrides: str) -> Headers:
    """A CoreShowChannel item as Asterisk 22 writes it, from a DialBegin's caller or Dest block."""
    item = {key: dial_begin.get(prefix + key) or "" for key in CHANNEL_KEYS}
    item.update({"Application": "", "ApplicationData": "", "Duration": "00:00:02", "BridgeId": ""})
    item.update(overrides)
    return list(item.items())


def connected(status: AmiStatus) -> bool:
    return status.state is AmiState.CONNECTED


async def test_cut_mid_call_then_resync_and_the_call_still_ends_answered_by_101() -> None:
    frames = capture_frames(ASTERISK22 / "inbound_answered.ami")[1:]  # without our Login's response
    parsed = [Frame.parse(raw) for raw in frames]
    dial = next(i for i, f in enumerate(parsed) if f.get("Event") == "DialBegin")
    ringing = next(i for i, f in enumerate(parsed) if i > dial and f.get("Event") == "Newstate"
                   and f.get("ChannelStateDesc") == "Ringing")
    # Session 1 sees the call up to its DialBegin; the events until 101 rings are lost in the outage;
    # session 2's CoreShowChannels reports both channels as they are then, and the rest follows.
    trunk = core_show_channel(parsed[dial], "", Application="Dial", ApplicationData="PJSIP/101,30,tT")
    operator = core_show_channel(parsed[dial], "Dest", ChannelState="5", ChannelStateDesc="Ringing",
                                 Application="AppDial", ApplicationData="(Outgoing Line)")
    expected_end = the_end(replay(capture_events("inbound_answered")))

    consumer = TrackingConsumer()
    async with FakeAmiServer() as server, TcpProxy("127.0.0.1", server.port) as proxy:
        server.scripts.append(SessionScript(after_login=b"".join(frames[:dial + 1])))
        server.scripts.append(SessionScript(after_login=FULLY_BOOTED, channels=[trunk, operator],
                                            after_resync=b"".join(frames[ringing + 1:])))
        async with AmiClient(ami_settings(proxy.port), consumer) as client, asyncio.timeout(TIMEOUT):
            await consumer.wait_for(lambda events: any(isinstance(e, ev.DialBegin) for e in events))
            await client.wait_status(connected)
            assert consumer.tracker.live_call_ids == ["1795345255.0"]
            assert proxy.cut() == 1
            await consumer.wait_for(lambda _: any(isinstance(f, cf.CallEnded) for f in consumer.facts))
            status = await client.wait_status(lambda s: s.sessions >= 2)
        assert (proxy.accepted, server.connections) == (2, 2)
        assert len(server.actions("CoreShowChannels")) == 2

    assert status.state is AmiState.CONNECTED and status.sessions == 2 and status.reconnects == 1
    assert status.last_error is not None and "connection" in status.last_error
    resynced = consumer.of(ev.CoreShowChannel)
    assert [c.channel.name for c in resynced] == ["PJSIP/trunk-00000000", "PJSIP/101-00000001"]
    end = the_end(consumer.facts)
    assert (end.call_id, end.outcome, end.answered_by, end.direction, end.hung_up_by) == (
        "1795345255.0", cf.Outcome.ANSWERED, "101", cf.Direction.INBOUND, cf.HungUpBy.CUSTOMER)
    assert (end.outcome, end.answered_by, end.hung_up_by) == (
        expected_end.outcome, expected_end.answered_by, expected_end.hung_up_by)
    assert consumer.tracker.live_call_ids == [] and consumer.tracker.live_channel_count == 0
    assert consumer.tracker.stats.resynced_channels == 2


async def test_watchdog_reconnects_when_the_server_goes_silent() -> None:
    settings_kw = {"ping_interval_s": 0.1, "watchdog_timeout_s": 0.3}
    async with FakeAmiServer() as server:
        server.scripts.append(SessionScript(answer_pings=False))  # TCP stays open, nothing comes back
        client = AmiClient(ami_settings(server.port, **settings_kw), EventRecorder())
        loop = asyncio.get_running_loop()
        async with client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)
            silent_since = loop.time()
            status = await client.wait_status(lambda s: s.sessions >= 2)
            reconnected_after = loop.time() - silent_since
            pings_unanswered = [p for p in server.actions("Ping") if p.session == 1]
            await server.wait_for_action("Ping", len(server.actions("Ping")) + 2)  # session 2 is answered
            assert client.status.sessions == 2
    assert status.state is AmiState.CONNECTED and status.reconnects == 1
    assert status.last_error is not None and status.last_error.startswith("watchdog: nothing received for")
    assert len(pings_unanswered) >= 2
    assert 0.25 <= reconnected_after < 0.3 + 1.0  # measured from just after connected, not the last frame


async def test_action_in_flight_fails_on_cut_and_is_not_resent() -> None:
    async with FakeAmiServer() as server, TcpProxy("127.0.0.1", server.port) as proxy:
        server.scripts.append(SessionScript(answer_calls=False))
        async with AmiClient(ami_settings(proxy.port), EventRecorder()) as client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)
            action = Originate(channel="PJSIP/101", context="c2c", exten="79161110001")
            originate = asyncio.create_task(client.send(action))
            await server.wait_for_action("Originate")
            proxy.cut()
            with pytest.raises(AmiConnectionLost):
                await originate
            await client.wait_status(lambda s: s.sessions >= 2)
            assert (await client.ping()).success
    assert len(server.actions("Originate")) == 1


async def test_refused_connection_is_retried_with_the_reason() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AmiClient(ami_settings(port), EventRecorder()) as client, asyncio.timeout(TIMEOUT):
        status = await client.wait_status(lambda s: s.reconnects >= 3)
    assert status.state is AmiState.RECONNECTING and status.sessions == 0
    assert status.last_error is not None and "ConnectionRefusedError" in status.last_error
