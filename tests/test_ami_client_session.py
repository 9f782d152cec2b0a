"""The live AMI client against a fake Asterisk on loopback: login, resync, replay, typed actions, settings."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from pbx_bridge import ami_events as ev
from pbx_bridge.ami_actions import (
    AmiActionFailed,
    AmiNotConnected,
    AmiTimeout,
    Hangup,
    Originate,
    Redirect,
    server_time,
)
from pbx_bridge.ami_client import AmiClient, AmiState, AmiStatus, reconnect_delay
from pbx_bridge.ami_settings import AmiSettings
from tests.fake_ami_server import (
    EventRecorder,
    FakeAmiServer,
    SessionScript,
    ami_settings,
    capture_after_login,
    frame,
)
from tests.tracker_helpers import ASTERISK22, capture_events

#: Protocol code: it must work on the service's uvloop and on asyncio's own loop alike.
pytestmark = pytest.mark.both_loops

TIMEOUT = 5.0
LIVE_CHANNEL = (("Channel", "PJSIP/101-00000007"), ("ChannelState", "6"), ("ChannelStateDesc", "Up"),
                ("CallerIDNum", "101"), ("CallerIDName", "Operator 101"), ("ConnectedLineNum", "79161110001"),
                ("ConnectedLineName", "<unknown>"), ("Language", "en"), ("AccountCode", ""),
                ("Context", "from-internal"), ("Exten", ""), ("Priority", "1"), ("Uniqueid", "1795345400.7"),
                ("Linkedid", "1795345400.6"), ("Application", "AppDial"), ("ApplicationData", "(Outgoing Line)"),
                ("Duration", "00:00:42"), ("BridgeId", "b1f3"))


def connected(status: AmiStatus) -> bool:
    return status.state is AmiState.CONNECTED


async def test_login_resync_and_status() -> None:
    recorder = EventRecorder()
    async with FakeAmiServer() as server:
        server.scripts.append(SessionScript(devices=[("PJSIP/101", "NOT_INUSE"), ("PJSIP/102", "UNAVAILABLE")]))
        client = AmiClient(ami_settings(server.port), recorder)
        assert client.status.state is AmiState.RECONNECTING
        assert client.status.down_for_s is not None
        async with client, asyncio.timeout(TIMEOUT):
            status = await client.wait_status(connected)
        login, resync, devices, contacts = server.received[:4]
    assert (login.get("Action"), login.get("Username"), login.get("Secret"), login.get("Events")) == (
        "Login", "bridge", "s3cret", "on")
    assert login.get("ActionID") and resync.get("ActionID") and login.get("ActionID") != resync.get("ActionID")
    # The live channels, then every device's state and every contact: Asterisk repeats none of it by itself.
    assert [item.get("Action") for item in (resync, devices, contacts)] == [
        "CoreShowChannels", "DeviceStateList", "PJSIPShowContacts"]
    assert [type(event) for event in recorder.events] == [
        ev.FullyBooted, ev.CoreShowChannelsComplete, ev.DeviceStateChange, ev.DeviceStateChange,
        ev.DeviceStateListComplete]
    assert status.down_for_s is None
    assert (status.sessions, status.reconnects, status.ami_version, status.last_error) == (1, 0, "11.0.0", None)
    assert status.as_dict()["state"] == "connected"
    assert "s3cret" not in repr(client._settings)


async def test_wrong_secret_backs_off_and_recovers() -> None:
    recorder = EventRecorder()
    async with FakeAmiServer(secret="the-right-one") as server:
        async with AmiClient(ami_settings(server.port), recorder) as client, asyncio.timeout(TIMEOUT):
            status = await client.wait_status(lambda s: s.reconnects >= 3)
            assert status.state is AmiState.RECONNECTING
            assert status.last_error == "login failed: Authentication failed"
            assert status.sessions == 0
            assert not server.actions("CoreShowChannels")
            server.secret = "s3cret"
            status = await client.wait_status(connected)
    assert status.sessions == 1 and status.last_error == "login failed: Authentication failed"
    assert len(server.actions("Login")) >= 4


def test_reconnect_delay_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for failures, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0), (1000, 30.0)]:
        delays = [reconnect_delay(failures, 0.5, 30.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 100  # jittered, not lockstep


async def test_replay_of_a_real_capture_arrives_typed_and_in_order() -> None:
    expected = capture_events("inbound_answered")
    recorder = EventRecorder()
    async with FakeAmiServer() as server:
        server.scripts.append(SessionScript(after_login=capture_after_login(ASTERISK22 / "inbound_answered.ami")))
        async with AmiClient(ami_settings(server.port), recorder), asyncio.timeout(TIMEOUT):
            await recorder.wait_for(lambda events: len(events) >= len(expected) + 1)
    live = [event for event in recorder.events if not isinstance(event, ev.CoreShowChannelsComplete)]
    assert live == expected
    assert isinstance(live[0], ev.FullyBooted) and len([e for e in live if isinstance(e, ev.Hangup)]) == 2
    assert any(isinstance(event, ev.DialBegin) and event.dest.name == "PJSIP/101-00000001" for event in live)


async def test_typed_actions_with_action_ids() -> None:
    recorder = EventRecorder()
    async with FakeAmiServer() as server:
        server.default_script = SessionScript(channels=[LIVE_CHANNEL])
        async with AmiClient(ami_settings(server.port), recorder) as client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)

            pong = await client.ping()
            assert pong.success and server_time(pong) is not None

            channels = await client.core_show_channels()
            assert [c.channel.name for c in channels] == ["PJSIP/101-00000007"]
            assert channels[0].duration_s == 42 and channels[0].bridge_id == "b1f3"
            assert channels[0].action_id == server.actions("CoreShowChannels")[-1].get("ActionID")

            accepted = await client.send(Originate(
                action_id="c2c-42", channel="PJSIP/101", context="from-internal", exten="79161110001",
                caller_id='"Shop" <74951234500>', timeout_s=25, variables={"TASK_ID": "42", "ORDER": "A-1"},
                channel_id="c2c-42.op"))
            assert accepted.action_id == "c2c-42" and accepted.message == "Originate successfully queued"
            sent = server.actions("Originate")[-1]
            assert (sent.get("ActionID"), sent.get("Channel"), sent.get("Exten"), sent.get("Timeout"),
                    sent.get("Async"), sent.get("ChannelId")) == (
                "c2c-42", "PJSIP/101", "79161110001", "25000", "true", "c2c-42.op")
            assert sent.get_all("Variable") == ["TASK_ID=42", "ORDER=A-1"]

            # The result comes later as an event with the same ActionID, to the consumer.
            await server.send(frame(("Event", "OriginateResponse"), ("Privilege", "call,all"),
                                    ("ActionID", "c2c-42"), ("Response", "Success"), ("Channel", "PJSIP/101-0000000a"),
                                    ("Context", "from-internal"), ("Exten", "79161110001"), ("Reason", "4"),
                                    ("Uniqueid", "c2c-42.op"), ("CallerIDNum", "74951234500")))
            await recorder.wait_for(lambda events: bool(recorder.of(ev.OriginateResponse)))
            result = recorder.of(ev.OriginateResponse)[0]
            assert (result.action_id, result.response, result.reason, result.uniqueid) == (
                "c2c-42", "Success", "4", "c2c-42.op")

            redirected = await client.send(Redirect(channel="PJSIP/101-00000007", context="from-internal",
                                                    exten="102"))
            assert redirected.message == "Redirect successful"
            hung_up = await client.send(Hangup(channel="PJSIP/101-00000007", cause=16))
            assert hung_up.success and server.actions("Hangup")[-1].get("Cause") == "16"
            with pytest.raises(AmiActionFailed, match="No such channel"):
                await client.send(Hangup(channel="PJSIP/999-00000000"))

            # A line break in a value is refused before anything is written; the connection stays usable.
            before = len(server.received)
            with pytest.raises(ValueError, match="line break"):
                await client.send(Originate(channel="PJSIP/101", context="x", exten="1",
                                            caller_id="evil\r\nAction: Hangup"))
            assert (await client.ping()).success
            assert len(server.received) == before + 1
            assert client.status.sessions == 1


async def test_unanswered_action_times_out() -> None:
    async with FakeAmiServer() as server:
        server.default_script = SessionScript(answer_calls=False)
        settings = ami_settings(server.port, action_timeout_s=0.2)
        async with AmiClient(settings, EventRecorder()) as client, asyncio.timeout(TIMEOUT):
            await client.wait_status(connected)
            with pytest.raises(AmiTimeout, match="Hangup PJSIP/101-00000001"):
                await client.send(Hangup(channel="PJSIP/101-00000001"))
            assert (await client.ping()).success  # a late answer would be ignored, the session goes on


async def test_disabled_without_host() -> None:
    client = AmiClient(AmiSettings(), EventRecorder())
    assert client.status.state is AmiState.DISABLED
    async with asyncio.timeout(TIMEOUT):
        await client.run()  # returns at once
    assert client.status.state is AmiState.DISABLED
    with pytest.raises(AmiNotConnected, match="disabled"):
        await client.ping()


def test_settings_are_declared_documented_and_checked() -> None:
    fields = dataclasses.fields(AmiSettings)
    assert all(f.metadata.get("env", "").startswith("PEREZVON_AMI_") and f.metadata.get("help") for f in fields)
    assert {f.metadata["env"] for f in fields} >= {
        "PEREZVON_AMI_HOST", "PEREZVON_AMI_PORT", "PEREZVON_AMI_USER", "PEREZVON_AMI_SECRET",
        "PEREZVON_AMI_CONNECT_TIMEOUT", "PEREZVON_AMI_PING_INTERVAL", "PEREZVON_AMI_WATCHDOG_TIMEOUT",
        "PEREZVON_AMI_RECONNECT_MIN", "PEREZVON_AMI_RECONNECT_MAX"}
    defaults = AmiSettings()
    assert (defaults.host, defaults.port, defaults.enabled, defaults.problems()) == ("", 5038, False, [])
    bad = AmiSettings(host="pbx", ping_interval_s=30, watchdog_timeout_s=10, reconnect_min_s=5, reconnect_max_s=1)
    problems = " ".join(bad.problems())
    for name in ("PEREZVON_AMI_USER", "PEREZVON_AMI_WATCHDOG_TIMEOUT", "PEREZVON_AMI_RECONNECT_MAX"):
        assert name in problems
    with pytest.raises(ValueError, match="PEREZVON_AMI_USER"):
        AmiClient(bad, EventRecorder())
